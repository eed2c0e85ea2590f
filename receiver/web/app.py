"""The app factory, and what every request gets: a request id (on its log lines and its response) and its timing."""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from flask import Flask, Response, g, request

from .. import logs, metrics
from ..clock import utcnow
from ..config import Settings
from ..intake import Intake
from ..store import Store, reset_deadline, set_deadline
from .endpoints import segment, tracking
from .errors import register_error_handlers
from .ops import ops
from .services import SERVICES, Services, services

log = logging.getLogger("receiver.web")
access = logging.getLogger("receiver.web.access")  # one line per request: method, path, status, time; no header, no user

RECEIVED_AT = "receiver.received_at"  # environ: time.monotonic() when the server had read the request whole
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
_ROOT = Path(__file__).resolve().parent.parent  # receiver/, the app's root (its templates) as before the package


def create_app(
    settings: Settings,
    *,
    store: Store | None = None,
    clock: Callable[[], datetime] = utcnow,
    max_body: int | None = None,
) -> Flask:
    """The app, and nothing else: its database is migrated by ``receiver db upgrade`` (the release phase), or by
    the command that starts it on SQLite (``serve``, ``replay``), never here."""
    app = Flask("receiver.web", root_path=str(_ROOT))
    app.config["MAX_CONTENT_LENGTH"] = max_body or settings.limits.max_body
    app.config["MAX_DECOMPRESSED"] = max_body or settings.limits.max_body
    store = store or Store(settings.database.url, timeout_seconds=settings.database.timeout,
                           data_key=settings.database.data_key or None)
    app.extensions[SERVICES] = Services(settings, store, Intake(settings.trustpilot, store, clock), clock)
    app.register_blueprint(segment)
    app.register_blueprint(tracking)
    app.register_blueprint(ops)
    if settings.console.enabled:  # off otherwise: every /console path is a 404 like any unknown path
        # imported here, when it is on: the console imports this package's services, so a top-level import
        # would be a cycle
        from ..console import init_app as init_console

        init_console(app, settings.console)
    app.before_request(_start_request)
    app.after_request(_finish_request)
    app.teardown_request(_end_request)
    if settings.auth.open_to_anyone:
        log.warning("ALLOW_UNAUTHENTICATED=true and no SEGMENT_API_KEYS, SEGMENT_SHARED_SECRETS or "
                    "SEGMENT_BEARER_TOKENS: anyone who can reach this service can post messages to it")
    register_error_handlers(app)
    return app


def _start_request() -> None:
    given = request.headers.get("X-Request-Id", "")
    g.request_id = given if _REQUEST_ID.match(given) else uuid.uuid4().hex
    g.request_context = logs.request_id.set(g.request_id)
    g.started = time.perf_counter()
    # the database's waits end DB_TIMEOUT after the request arrived, its time in the server's queue included
    received = request.environ.get(RECEIVED_AT) or time.monotonic()
    g.deadline = set_deadline(received + services().settings.database.timeout)


def _finish_request(response: Response) -> Response:
    response.headers["X-Request-Id"] = g.get("request_id", "")
    if "started" in g:
        endpoint = request.url_rule.rule if request.url_rule else "unmatched"
        seconds = time.perf_counter() - g.started
        metrics.REQUEST_SECONDS.labels(endpoint).observe(seconds)
        # the path without its query (which may carry a token), cut short: a client chooses it
        access.info("%s %s %d %.1f ms", request.method, request.path[:200], response.status_code, seconds * 1000)
    return response


def _end_request(_exc: BaseException | None) -> None:
    if "deadline" in g:
        reset_deadline(g.deadline)
    if "request_context" in g:
        logs.request_id.reset(g.request_context)
