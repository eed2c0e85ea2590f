"""Every error the app answers is JSON: ``{"message": ...}``, with the ``code`` SDKs read on the Tracking API."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, jsonify, request
from werkzeug.exceptions import HTTPException

log = logging.getLogger("receiver.web")

# ``code`` of the Tracking API's error bodies, which SDKs read along with ``message``.
ERROR_CODES = {400: "invalid_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
               405: "method_not_allowed", 408: "request_timeout", 413: "payload_too_large", 415: "unsupported_media_type",
               431: "request_header_fields_too_large", 500: "internal_error", 501: "not_implemented",
               503: "service_unavailable"}


class BadRequest(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


def error(status: int, message: str, **extra: Any) -> tuple[Any, int]:
    body = {"message": message, **extra}
    if request.path.startswith("/v1/"):
        body = {"code": ERROR_CODES.get(status, "error"), **body}
    response = jsonify(body)
    if status == 503:
        response.headers["Retry-After"] = "5"
    return response, status


def _http_error(exc: HTTPException) -> tuple[Any, int]:
    return error(exc.code or 500, exc.description or exc.name)


def _unexpected(exc: Exception) -> tuple[Any, int]:
    if isinstance(exc, HTTPException):
        return _http_error(exc)
    log.exception("unexpected error while handling %s %s", request.method, request.path)
    return error(500, "Internal error")


def register_error_handlers(app: Flask) -> None:
    """JSON for werkzeug's HTTP errors (404, 405, 413, ...) and a logged JSON 500 for anything unexpected."""
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected)
