"""The operator's endpoints: ``/healthz`` (alive), ``/readyz`` (the database answers, carries the newest schema and
takes a write), ``/metrics`` (Prometheus; behind ``METRICS_TOKEN`` when it is set)."""

from __future__ import annotations

import hmac
import logging
from typing import Any

from flask import Blueprint, current_app, jsonify, request

from .. import metrics
from ..store import StoreUnavailable
from .errors import error
from .services import services

ops = Blueprint("ops", __name__)
log = logging.getLogger("receiver.web")


@ops.get("/healthz")
def healthz() -> tuple[Any, int]:
    """The process is alive."""
    return jsonify({"status": "ok"}), 200


@ops.get("/readyz")
def readyz() -> tuple[Any, int]:
    """The database answers, carries the newest schema and takes a write (a full disk, a read-only file or a
    standby would fail every intake); 503 otherwise."""
    store = services().store
    try:
        migrated = store.is_migrated()
    except StoreUnavailable as exc:
        log.warning("/readyz: %s", exc)  # the cause names the database: logged, not answered
        return error(503, "The database is unreachable")
    if not migrated:
        return error(503, "The database schema is not migrated: run 'receiver db upgrade'")
    try:
        store.gauges.probe_write(now=services().clock())
    except StoreUnavailable as exc:
        log.warning("/readyz: %s", exc)
        return error(503, "The database cannot take a write")
    return jsonify({"status": "ready"}), 200


def _may_scrape() -> bool:
    token = services().settings.server.metrics_token
    if not token:
        return True
    given = request.headers.get("Authorization", "")
    return hmac.compare_digest(given.encode(), f"Bearer {token}".encode())


@ops.get("/metrics")
def metrics_page() -> Any:
    if not _may_scrape():
        response, status = error(401, "Authorization: Bearer <METRICS_TOKEN> is required")
        response.headers["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response, status
    body, content_type = metrics.exposition(services().store, services().clock)
    return current_app.response_class(body, mimetype=None, content_type=content_type)
