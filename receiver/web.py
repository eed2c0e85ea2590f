"""The Flask app: authenticate, decode the body, hand the messages to intake, answer as Segment expects."""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import logging
import re
import time
import uuid
import zlib
from collections.abc import Callable
from datetime import datetime
from typing import Any

from flask import Blueprint, Flask, Response, current_app, g, jsonify, request
from werkzeug.exceptions import HTTPException

from . import logs, metrics
from .clock import utcnow
from .config import Settings
from .intake import ACCEPTED, DUPLICATE, IGNORED, REJECTED, UNSUPPORTED, Intake, Verdict
from .store import Store, StoreUnavailable

log = logging.getLogger("receiver.web")

STATUS = {ACCEPTED: 200, DUPLICATE: 200, IGNORED: 200, REJECTED: 400, UNSUPPORTED: 501}

segment = Blueprint("segment", __name__)


class BadRequest(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


def error(status: int, message: str, **extra: Any) -> tuple[Any, int]:
    return jsonify({"message": message, **extra}), status


def _credentials_ok(header: str, api_keys: tuple[str, ...]) -> bool:
    """``Basic base64("<key>:")`` with a configured key; every key compared, in constant time."""
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic" or not encoded.strip():
        return False
    try:
        user = base64.b64decode(encoded.strip(), validate=True).decode("utf-8").partition(":")[0]
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return False
    matched = False
    for key in api_keys:
        matched |= hmac.compare_digest(user.encode("utf-8"), key.encode("utf-8"))
    return matched


def _body_bytes(max_decompressed: int) -> bytes:
    raw = request.get_data(cache=False)
    encoding = (request.headers.get("Content-Encoding") or "identity").strip().lower()
    if encoding in ("identity", ""):
        return raw
    if encoding != "gzip":
        raise BadRequest(415, f"Unsupported Content-Encoding: {encoding[:32]}")
    decompressor = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    try:
        body = decompressor.decompress(raw, max_decompressed + 1)
    except zlib.error:
        raise BadRequest(400, "The body is not valid gzip") from None
    if len(body) > max_decompressed or decompressor.unconsumed_tail:
        raise BadRequest(413, f"The decompressed body is larger than {max_decompressed} bytes")
    return body


def _reject_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        raise BadRequest(400, "The JSON has a duplicate key")
    return result


def _json_body(max_decompressed: int) -> Any:
    content_type = (request.mimetype or "").lower()
    if content_type and "json" not in content_type and content_type != "text/plain":
        raise BadRequest(415, "Content-Type must be application/json")
    body = _body_bytes(max_decompressed)
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise BadRequest(400, "The body is not valid UTF-8") from None
    try:
        return json.loads(text, object_pairs_hook=_reject_duplicate_keys)
    except RecursionError:
        raise BadRequest(400, "The JSON is nested too deeply") from None
    except ValueError:
        raise BadRequest(400, "The body is not valid JSON") from None


def messages_in(body: Any) -> tuple[list[Any], bool]:
    """The messages in a body, and whether it was a batch: one message, an array, or ``{"batch": [...]}``."""
    if isinstance(body, list):
        return body, True
    if isinstance(body, dict) and "type" not in body and isinstance(body.get("batch"), list):
        return body["batch"], True
    if isinstance(body, dict):
        return [body], False
    raise BadRequest(400, "The body must be a JSON object (one message) or an array of messages")


def batch_response(verdicts: list[Verdict]) -> tuple[Any, int]:
    counts = {name: 0 for name in STATUS}
    rejected = []
    for index, verdict in enumerate(verdicts):
        counts[verdict.outcome] += 1
        if verdict.outcome == REJECTED:
            rejected.append({"index": index, "messageId": verdict.message_id, "reason": verdict.message})
    counts[IGNORED] += counts.pop(UNSUPPORTED)
    status = 400 if verdicts and counts[REJECTED] == len(verdicts) else 200
    message = "No message in the batch could be accepted" if status == 400 else "Batch processed"
    return jsonify({"message": message, "received": len(verdicts), **counts, "rejected": rejected}), status


@segment.post("/segment")
def receive() -> tuple[Any, int]:
    settings: Settings = current_app.extensions["receiver.settings"]
    if not _credentials_ok(request.headers.get("Authorization", ""), settings.api_keys):
        return error(401, "Missing or invalid API key")
    try:
        messages, is_batch = messages_in(_json_body(current_app.config["MAX_DECOMPRESSED"]))
    except BadRequest as bad:
        return error(bad.status, bad.message)
    if is_batch and len(messages) > settings.max_batch:
        return error(413, f"A batch holds at most {settings.max_batch} messages")
    if is_batch and not messages:
        return error(400, "The batch is empty")
    intake: Intake = current_app.extensions["receiver.intake"]
    try:
        verdicts = intake.process(messages)
    except StoreUnavailable:
        log.warning("the database is unavailable: answered 503 so that Segment retries")
        response, status = error(503, "Temporarily unable to store messages; please retry")
        response.headers["Retry-After"] = "5"
        return response, status
    if is_batch:
        return batch_response(verdicts)
    verdict = verdicts[0]
    return jsonify(verdict.as_json()), STATUS[verdict.outcome]


ops = Blueprint("ops", __name__)
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")


@ops.get("/healthz")
def healthz() -> tuple[Any, int]:
    """The process is alive."""
    return jsonify({"status": "ok"}), 200


@ops.get("/readyz")
def readyz() -> tuple[Any, int]:
    """The database answers and carries the newest schema; 503 otherwise."""
    store: Store = current_app.extensions["receiver.store"]
    try:
        migrated = store.is_migrated()
    except StoreUnavailable:
        return error(503, "The database is unreachable")
    if not migrated:
        return error(503, "The database schema is not migrated: run 'receiver db upgrade'")
    return jsonify({"status": "ready"}), 200


@ops.get("/metrics")
def metrics_page() -> Any:
    store: Store = current_app.extensions["receiver.store"]
    try:
        body, content_type = metrics.exposition(store, current_app.extensions["receiver.clock"])
    except StoreUnavailable:
        return error(503, "The database is unreachable")
    return current_app.response_class(body, mimetype=None, content_type=content_type)


def _start_request() -> None:
    given = request.headers.get("X-Request-Id", "")
    g.request_id = given if _REQUEST_ID.match(given) else uuid.uuid4().hex
    g.request_context = logs.request_id.set(g.request_id)
    g.started = time.perf_counter()


def _finish_request(response: Response) -> Response:
    response.headers["X-Request-Id"] = g.get("request_id", "")
    if "started" in g:
        endpoint = request.url_rule.rule if request.url_rule else "unmatched"
        metrics.REQUEST_SECONDS.labels(endpoint).observe(time.perf_counter() - g.started)
    return response


def _end_request(_exc: BaseException | None) -> None:
    if "request_context" in g:
        logs.request_id.reset(g.request_context)


def _http_error(exc: HTTPException) -> tuple[Any, int]:
    return error(exc.code or 500, exc.description or exc.name)


def _unexpected(exc: Exception) -> tuple[Any, int]:
    if isinstance(exc, HTTPException):
        return _http_error(exc)
    log.exception("unexpected error while handling %s %s", request.method, request.path)
    return error(500, "Internal error")


def create_app(
    settings: Settings,
    *,
    store: Store | None = None,
    clock: Callable[[], datetime] = utcnow,
    create_schema: bool = True,
    max_body: int | None = None,
) -> Flask:
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = max_body or settings.max_body
    app.config["MAX_DECOMPRESSED"] = max_body or settings.max_body
    store = store or Store(settings.database_url, timeout_seconds=settings.db_timeout)
    if create_schema:
        store.create_schema()
    app.extensions["receiver.settings"] = settings
    app.extensions["receiver.store"] = store
    app.extensions["receiver.intake"] = Intake(settings, store, clock)
    app.extensions["receiver.clock"] = clock
    app.register_blueprint(segment)
    app.register_blueprint(ops)
    app.before_request(_start_request)
    app.after_request(_finish_request)
    app.teardown_request(_end_request)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected)
    return app
