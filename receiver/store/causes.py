"""Why the database is unavailable, read from the driver's exception: a ``Cause`` (a fixed kind and one readable
line naming the database with its password masked) for ``StoreUnavailable``.

The drivers say it in different ways: SQLite by its result code (``sqlite_errorcode``) and PostgreSQL by its
SQLSTATE once a session exists; before that, psycopg only has libpq's message, whose stable English phrases are
matched here ("Connection refused", ``database "x" does not exist``). What matches nothing is the kind
``unavailable``, with the exception's type. The line never quotes the driver's message (at DEBUG the worker logs
it): it could hold anything a statement carried.
"""

from __future__ import annotations

import errno
import re
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

UNREACHABLE, AUTHENTICATION, MISSING_DATABASE, NOT_MIGRATED = "unreachable", "authentication", "missing database", \
    "not migrated"
MISSING_FOLDER, DISK_FULL, LOCKED, READ_ONLY, UNAVAILABLE = "missing folder", "disk full", "locked", "read-only", \
    "unavailable"

# SQLite's primary result codes (https://sqlite.org/rescode.html), of ``sqlite3.Error.sqlite_errorcode & 0xff``
SQLITE_BUSY, SQLITE_LOCKED, SQLITE_READONLY, SQLITE_FULL, SQLITE_CANTOPEN = 5, 6, 8, 13, 14

# PostgreSQL's SQLSTATEs, and their classes (the first two characters)
_SQLSTATES = {
    "28": AUTHENTICATION, "3D000": MISSING_DATABASE, "42P01": NOT_MIGRATED, "42703": NOT_MIGRATED,
    "53100": DISK_FULL, "55P03": LOCKED, "57014": LOCKED, "40P01": LOCKED, "25006": READ_ONLY,
    "57P01": UNREACHABLE, "57P02": UNREACHABLE, "57P03": UNREACHABLE, "08": UNREACHABLE,
}
# libpq's messages before a session exists (psycopg gives no SQLSTATE then)
_PHRASES = [
    (re.compile(r"password authentication failed|no pg_hba\.conf entry|role \".*\" does not exist|"
                r"authentication failed", re.I), AUTHENTICATION),
    (re.compile(r"database \".*\" does not exist", re.I), MISSING_DATABASE),
    (re.compile(r"connection refused|could not connect|failed to resolve host|could not translate host|"
                r"timeout expired|no route to host|network is unreachable|server closed the connection|"
                r"connection timed out|the database system is (starting up|shutting down)", re.I), UNREACHABLE),
    (re.compile(r"no such table|no such column|relation \".*\" does not exist", re.I), NOT_MIGRATED),
    (re.compile(r"database or disk is full|no space left on device|could not extend file", re.I), DISK_FULL),
    (re.compile(r"database is locked|database table is locked|lock timeout|canceling statement due to "
                r"(lock|statement) timeout", re.I), LOCKED),
    (re.compile(r"readonly database|read-only", re.I), READ_ONLY),
]
_ERRNOS = {errno.ENOSPC: DISK_FULL, errno.EDQUOT: DISK_FULL, errno.ECONNREFUSED: UNREACHABLE,
           errno.EHOSTUNREACH: UNREACHABLE, errno.ENETUNREACH: UNREACHABLE, errno.ETIMEDOUT: UNREACHABLE,
           errno.ENOENT: MISSING_FOLDER, errno.EROFS: READ_ONLY}


@dataclass(frozen=True)
class Cause:
    kind: str  # one of the kinds above
    text: str  # the line a command prints and the worker logs

    def __str__(self) -> str:
        return self.text


def masked(url: str) -> str:
    """``url`` with its password replaced by ``***`` (and as given, when it does not parse as a database URL)."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except (ArgumentError, ValueError):
        return "DATABASE_URL"


def _sqlite_folder(url: str) -> Path | None:
    """The folder of a SQLite file URL (None: in memory, or not SQLite)."""
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):
        return None
    if not parsed.drivername.startswith("sqlite") or not parsed.database or parsed.database == ":memory:":
        return None
    return Path(parsed.database).expanduser().absolute().parent


def kind_of(exc: BaseException, url: str = "") -> str:
    """The kind of the driver's exception ``exc`` (see the module's docstring)."""
    code = getattr(exc, "sqlite_errorcode", None)
    if isinstance(code, int):
        sqlite_kind = {SQLITE_BUSY: LOCKED, SQLITE_LOCKED: LOCKED, SQLITE_READONLY: READ_ONLY,
                       SQLITE_FULL: DISK_FULL}.get(code & 0xFF)
        if sqlite_kind:
            return sqlite_kind
        if code & 0xFF == SQLITE_CANTOPEN:
            folder = _sqlite_folder(url)
            return MISSING_FOLDER if folder is not None and not folder.is_dir() else UNAVAILABLE
    sqlstate = getattr(exc, "sqlstate", None)
    if isinstance(sqlstate, str) and sqlstate:
        found = _SQLSTATES.get(sqlstate) or _SQLSTATES.get(sqlstate[:2])
        if found:
            return found
    number = getattr(exc, "errno", None)
    if isinstance(exc, OSError) and number in _ERRNOS:
        return _ERRNOS[number]
    message = str(exc)
    for pattern, phrase_kind in _PHRASES:
        if pattern.search(message):
            return phrase_kind
    return UNAVAILABLE


def classify(exc: BaseException, url: str) -> Cause:
    """The cause of the outage ``exc`` (the driver's exception) on the database at ``url``."""
    kind = kind_of(exc, url)
    return Cause(kind, describe(kind, url, type(exc).__name__))


def describe(kind: str, url: str, exception: str = "") -> str:
    """The line for an outage of ``kind`` on ``url`` (its password masked)."""
    where = masked(url)
    if kind == MISSING_FOLDER:
        return f"the folder of the SQLite file does not exist ({_sqlite_folder(url)}): create it or fix DATABASE_URL"
    texts = {
        UNREACHABLE: f"cannot reach the database at {where}: is it running, and are the host and port right?",
        AUTHENTICATION: f"the database at {where} refused the authentication: check the user and password",
        MISSING_DATABASE: f"the database named in {where} does not exist: create it, then run 'receiver db upgrade'",
        NOT_MIGRATED: f"the database at {where} is not migrated (a table or column is missing): "
                      "run 'receiver db upgrade'",
        DISK_FULL: f"the disk of the database at {where} is full: free space, then try again",
        LOCKED: f"the database at {where} is locked, or stayed busy past DB_TIMEOUT: try again",
        READ_ONLY: f"the database at {where} takes no writes (read-only, or a standby)",
    }
    return texts.get(kind, f"the database at {where} is unavailable ({exception or 'no answer'}): try again")
