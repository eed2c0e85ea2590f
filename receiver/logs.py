"""Logging: one line per record (JSON or text), a request id on every line of a request, and no personal data.

Code logs ids and masked addresses only; as a safety net, every email address that still reaches a
formatter (in a message, an argument or a traceback) is masked there.
"""

from __future__ import annotations

import contextvars
import json
import logging
import logging.config
import re
from datetime import UTC, datetime
from typing import Any

from .privacy import mask_email

request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)
message_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("message_id", default=None)
invitation_id: contextvars.ContextVar[int | None] = contextvars.ContextVar("invitation_id", default=None)

_EMAIL = re.compile(r"[^\s@<>()\[\]\"',;:]+@[A-Za-z0-9\-.\u00a0-\uffff]+\.[A-Za-z\u00a0-\uffff]{2,}")


def scrub(text: str) -> str:
    """Every email address in ``text`` masked: ``j***@example.com``."""
    return _EMAIL.sub(lambda match: mask_email(match.group(0)), text)


def _context() -> dict[str, Any]:
    found = {"request_id": request_id.get(), "message_id": message_id.get(), "invitation_id": invitation_id.get()}
    return {key: value for key, value in found.items() if value is not None}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": scrub(record.getMessage()),
            **_context(),
        }
        if record.exc_info:
            entry["traceback"] = scrub(self.formatException(record.exc_info))
        return json.dumps(entry, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        context = " ".join(f"{key}={value}" for key, value in _context().items())
        line = super().format(record)
        if context:
            head, _, rest = line.partition("\n")
            line = f"{head} [{context}]" + (f"\n{rest}" if rest else "")
        return scrub(line)


def dict_config(level: str = "INFO", fmt: str = "text") -> dict[str, Any]:
    """One handler on the root logger; gunicorn's own loggers pass through it, so every line has one shape."""
    formatter = "receiver.logs.JsonFormatter" if fmt == "json" else "receiver.logs.TextFormatter"
    level = level.upper() if level.upper() in logging.getLevelNamesMapping() else "INFO"
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"receiver": {"()": formatter}},
        "handlers": {"receiver": {"class": "logging.StreamHandler", "formatter": "receiver",
                                  "stream": "ext://sys.stderr"}},
        "root": {"level": level, "handlers": ["receiver"]},
        "loggers": {
            **{name: {"level": level, "handlers": [], "propagate": True}
               for name in ("gunicorn.error", "gunicorn.access")},
            "alembic": {"level": "WARNING"},
        },
    }


def setup(level: str = "INFO", fmt: str = "text") -> None:
    """Configure this process's logging (``LOG_LEVEL``, ``LOG_FORMAT``)."""
    logging.config.dictConfig(dict_config(level, fmt))
