"""The operator's endpoints: ``/healthz`` (alive), ``/readyz`` (database and schema), ``/metrics`` (Prometheus)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, jsonify

from .. import metrics
from ..store import StoreUnavailable
from .errors import error
from .services import services

ops = Blueprint("ops", __name__)


@ops.get("/healthz")
def healthz() -> tuple[Any, int]:
    """The process is alive."""
    return jsonify({"status": "ok"}), 200


@ops.get("/readyz")
def readyz() -> tuple[Any, int]:
    """The database answers and carries the newest schema; 503 otherwise."""
    try:
        migrated = services().store.is_migrated()
    except StoreUnavailable:
        return error(503, "The database is unreachable")
    if not migrated:
        return error(503, "The database schema is not migrated: run 'receiver db upgrade'")
    return jsonify({"status": "ready"}), 200


@ops.get("/metrics")
def metrics_page() -> Any:
    try:
        body, content_type = metrics.exposition(services().store, services().clock)
    except StoreUnavailable:
        return error(503, "The database is unreachable")
    return current_app.response_class(body, mimetype=None, content_type=content_type)
