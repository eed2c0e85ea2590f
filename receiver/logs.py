"""Logging: one line per record (JSON or text), a request id on every line of a request, and no personal data.

Code logs ids and masked addresses only; as a safety net, every email address that still reaches a
formatter (in a message, an argument or a traceback) is masked there.

Nothing a client sends can forge a line: in the text format every control character of a message or a context
value (newline, CR, ESC, the Unicode line separators and direction overrides, ...) is written as an escape such
as ``\\n`` or ``\\x1b``, and a traceback's lines are indented, so that each record begins one line and only one.
The JSON format escapes them as JSON does (C1 controls and the line separators too). urllib3's lines (DEBUG) show
where a request went, never its path and query, which may carry a token.
"""

from __future__ import annotations

import contextvars
import json
import logging
import logging.config
import re
import time
from datetime import UTC, datetime
from typing import Any

from .privacy import mask_email

request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)
message_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("message_id", default=None)
invitation_id: contextvars.ContextVar[int | None] = contextvars.ContextVar("invitation_id", default=None)

# C0 and C1 controls, DEL, the line and paragraph separators, and the bidirectional marks and overrides that make
# a terminal show text in another order than it was written
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff]")
_SHORT = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
_TRACEBACK_INDENT = "    | "
_URL = re.compile(r"(?P<site>[a-z][a-z0-9+.-]*://[^/\s?#]+)(?P<rest>[/?#]\S*)?|(?<!\S)[/?]\S*", re.IGNORECASE)

_EMAIL = re.compile(r"[^\s@<>()\[\]\"',;:]+@[A-Za-z0-9\-.\u00a0-\uffff]+\.[A-Za-z\u00a0-\uffff]{2,}")


def scrub(text: str) -> str:
    """Every email address in ``text`` masked: ``j***e@example.com``."""
    if "@" not in text:  # no address without one: most lines are spared the pattern
        return text
    return _EMAIL.sub(lambda match: mask_email(match.group(0)), text)


def escape(text: str) -> str:
    """``text`` with every control character written as an escape (``\\n``, ``\\x1b``, ``\\u2028``)."""
    return _CONTROL.sub(_escaped, text)


def _escaped(match: re.Match[str]) -> str:
    char = match.group(0)
    if char in _SHORT:
        return _SHORT[char]
    return f"\\x{ord(char):02x}" if ord(char) < 0x100 else f"\\u{ord(char):04x}"


def _json_safe(line: str) -> str:
    """A JSON text with the characters that json.dumps leaves raw but that break or bend a line escaped too."""
    return _CONTROL.sub(lambda match: f"\\u{ord(match.group(0)):04x}", line)


class HidePaths(logging.Filter):
    """urllib3's records with each URL or path reduced to its site: a callback's path or query may hold a token."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name.startswith("urllib3") and isinstance(record.args, tuple):
            record.args = tuple(_site(arg) if isinstance(arg, str) else arg for arg in record.args)
        return True


def _site(text: str) -> str:
    return _URL.sub(lambda match: (match.group("site") or "") + ("/…" if match.group("rest") or not match.group("site")
                                                                   else ""), text)


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
        return _json_safe(json.dumps(entry, ensure_ascii=False))


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")
        self._second: tuple[int, str] = (-1, "")

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:  # noqa: N802 - logging's name
        """``logging.Formatter``'s time, its date and clock part made once a second rather than for every line."""
        if datefmt is not None:
            return super().formatTime(record, datefmt)
        second = int(record.created)
        cached = self._second  # one tuple, swapped whole: threads never see a stamp of another second
        if cached[0] != second:
            cached = self._second = (second, time.strftime(self.default_time_format, self.converter(record.created)))
        return self.default_msec_format % (cached[1], record.msecs)

    def format(self, record: logging.LogRecord) -> str:
        line = f"{self.formatTime(record)} {record.levelname} {record.name}: {escape(record.getMessage())}"
        context = " ".join(f"{key}={escape(str(value))}" for key, value in _context().items())
        if context:
            line += f" [{context}]"
        if record.exc_info:
            line += "".join(f"\n{_TRACEBACK_INDENT}{escape(part)}"
                            for part in self.formatException(record.exc_info).splitlines())
        if record.stack_info:
            line += "".join(f"\n{_TRACEBACK_INDENT}{escape(part)}" for part in record.stack_info.splitlines())
        return scrub(line)


def dict_config(level: str = "INFO", fmt: str = "text") -> dict[str, Any]:
    """One handler on the root logger; gunicorn's own loggers pass through it, so every line has one shape."""
    formatter = "receiver.logs.JsonFormatter" if fmt == "json" else "receiver.logs.TextFormatter"
    level = level.upper() if level.upper() in logging.getLevelNamesMapping() else "INFO"
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"receiver": {"()": formatter}},
        "filters": {"hide_paths": {"()": "receiver.logs.HidePaths"}},
        "handlers": {"receiver": {"class": "logging.StreamHandler", "formatter": "receiver", "filters": ["hide_paths"],
                                  "stream": "ext://sys.stderr"}},
        "root": {"level": level, "handlers": ["receiver"]},
        "loggers": {
            **{name: {"level": level, "handlers": [], "propagate": True}
               for name in ("gunicorn.error", "gunicorn.access")},
            "alembic": {"level": "WARNING"},
            # "Task queue depth is 1" whenever a request waits a moment for one of the threads: noise, not news
            "waitress.queue": {"level": "ERROR"},
        },
    }


def lean_records() -> None:
    """Records without what no line of ours shows: the caller's file, line and function (a walk up the stack for
    every record), thread and process names (the Logging HOWTO's "Optimization"). Intake logs a line per request,
    and this is a third of its cost."""
    logging._srcfile = None  # noqa: SLF001 - the documented switch
    logging.logThreads = logging.logProcesses = logging.logMultiprocessing = False


def setup(level: str = "INFO", fmt: str = "text") -> None:
    """Configure this process's logging (``LOG_LEVEL``, ``LOG_FORMAT``)."""
    lean_records()
    logging.config.dictConfig(dict_config(level, fmt))
