"""The connection to the database: engine and pool settings, SQLite's pragmas and intake writer lock, and the one
place where a database outage becomes ``StoreUnavailable``."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Table, create_engine, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine, ExceptionContext
from sqlalchemy.exc import OperationalError


class StoreUnavailable(RuntimeError):
    """The database cannot be reached, or stayed locked past the timeout: try again later."""


UNAVAILABLE = "the database is unavailable or locked; try again"


def _outage(context: ExceptionContext) -> StoreUnavailable | None:
    """A driver's outage (unreachable, locked, timed out, a connection lost) as the store's own exception.

    Programming errors (a bad statement, a broken constraint) stay what they are. A failed pre-ping is left to
    the pool, which then opens a fresh connection: only that one's failure is an outage.
    """
    if context.is_pre_ping:
        return None
    if isinstance(context.sqlalchemy_exception, OperationalError) or context.is_disconnect:
        return StoreUnavailable(UNAVAILABLE)  # raised by SQLAlchemy ``from`` the driver's exception
    return None


def _sqlite_pragmas(timeout_seconds: float) -> Any:
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")  # durable across process crashes in WAL mode
        cursor.execute(f"PRAGMA busy_timeout={int(timeout_seconds * 1000)}")
        cursor.close()

    return on_connect


def make_engine(url: str, *, timeout_seconds: float = 5.0) -> Engine:
    """An engine for ``url`` (SQLite or PostgreSQL) whose outages raise ``StoreUnavailable``."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": timeout_seconds, "check_same_thread": False})
        event.listen(engine, "connect", _sqlite_pragmas(timeout_seconds))
    else:
        engine = create_engine(
            url,
            pool_pre_ping=True,
            pool_size=5,
            max_overflow=10,
            pool_timeout=timeout_seconds,
            connect_args={
                "connect_timeout": max(1, int(timeout_seconds)),
                "options": f"-c statement_timeout={int(timeout_seconds * 1000)}"
                f" -c lock_timeout={int(timeout_seconds * 1000)}",
            },
        )
    event.listen(engine, "handle_error", _outage, retval=True)
    return engine


class Database:
    """The engine and what every part of the store shares: the dialect, the timeout, the intake writer lock."""

    def __init__(self, url: str, *, timeout_seconds: float = 5.0):
        self.engine = make_engine(url, timeout_seconds=timeout_seconds)
        self.dialect: str = self.engine.dialect.name
        self.timeout_seconds = timeout_seconds
        # SQLite has one writer at a time, and a writer that finds the file locked sleeps in SQLite's busy
        # handler in steps of up to 100 ms: a web process's threads queue here for their intake writes
        # instead, woken as soon as the one before them commits (p99 over 100 ms without it).
        self._sqlite_writer = threading.Lock() if self.dialect == "sqlite" else None

    @contextmanager
    def intake_write(self) -> Iterator[None]:
        """Hold this process's turn to write on SQLite (a no-op on PostgreSQL); ``StoreUnavailable`` if the turn
        does not come within the timeout."""
        if self._sqlite_writer is None:
            yield
            return
        if not self._sqlite_writer.acquire(timeout=self.timeout_seconds):
            raise StoreUnavailable(UNAVAILABLE)
        try:
            yield
        finally:
            self._sqlite_writer.release()

    def writing(self, *, one_statement: bool) -> Any:
        """A connection for a write. On PostgreSQL one statement is autocommitted: atomic and durable all the same,
        without the round trips of BEGIN and COMMIT (a single message's intake, a job's outcome: 0.2 ms each).
        More statements share a transaction, and so does everything on SQLite, where switching pays nothing."""
        if one_statement and self.dialect == "postgresql":
            return self.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        return self.engine.begin()

    def reading(self) -> Connection:
        return self.engine.connect()

    def insert(self, table: Table) -> Any:
        """The dialect's INSERT for ``table``, which knows ``ON CONFLICT``."""
        return (postgresql.insert if self.dialect == "postgresql" else sqlite.insert)(table)

    def close(self) -> None:
        self.engine.dispose()
