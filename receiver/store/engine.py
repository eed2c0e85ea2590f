"""The connection to the database: engine and pool settings, SQLite's pragmas and intake writer lock, the one
place where a database outage becomes ``StoreUnavailable`` (with its cause: ``causes``), and a request's deadline.

A web request has ``DB_TIMEOUT`` from the moment it was read whole (``deadline``), not from each wait: its time in
the server's queue, its turn at the SQLite writer lock and SQLite's busy wait (or PostgreSQL's lock and statement
timeouts) all come out of it, so that a locked database answers every waiting request 503 within ``DB_TIMEOUT``.
"""

from __future__ import annotations

import hashlib
import hmac
import select
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar, Token
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import Connection, Table, create_engine, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine, ExceptionContext
from sqlalchemy.exc import DBAPIError, DisconnectionError, OperationalError

from ..privacy import stored_address_key
from . import causes

T = TypeVar("T")


class MissingDataKey(RuntimeError):
    """An address was to be stored or looked up by a store that has no ``DATA_KEY``: a wiring bug, not an outage."""


class StoreUnavailable(RuntimeError):
    """The database cannot be reached, or stayed locked past the timeout: try again later. Its text says why (the
    database's URL with the password masked, never a driver's message); ``kind`` is the cause's kind (``causes``)."""

    def __init__(self, message: str = "", *, kind: str = causes.UNAVAILABLE):
        super().__init__(message or UNAVAILABLE)
        self.kind = kind


class ConnectionLost(StoreUnavailable):
    """The connection in use was lost (a killed backend, a restarted server): the pool drops it and the ones opened
    with it; ``Database.once_more`` tries the write again on a fresh one."""


UNAVAILABLE = "the database is unavailable or locked; try again"
TIMED_OUT = "timed out"
# errors that are no outage by their class, but are by their cause: a table missing (PostgreSQL's UndefinedTable is
# a ProgrammingError), a read-only transaction (an InternalError): a 503 and a line, not a 500
_OUTAGE_CAUSES = (causes.NOT_MIGRATED, causes.READ_ONLY, causes.DISK_FULL)
CHECKPOINT_PAUSE = 0.05  # seconds between two tries of a checkpoint a reader held up
SLACK = 0.25  # seconds: a deadline this close to the full timeout changes nothing, and costs nothing

_deadline: ContextVar[float | None] = ContextVar("store_deadline", default=None)


def set_deadline(at: float | None) -> Token[float | None]:
    """From now on in this context, every wait of the store ends by ``at`` (``time.monotonic()``; None: none);
    ``reset_deadline`` with the token returned puts back the one before."""
    return _deadline.set(at)


def reset_deadline(token: Token[float | None]) -> None:
    _deadline.reset(token)


@contextmanager
def deadline(at: float | None) -> Iterator[None]:
    """``set_deadline`` for the block."""
    token = set_deadline(at)
    try:
        yield
    finally:
        reset_deadline(token)


def _outage(url: str) -> Any:
    def outage(context: ExceptionContext) -> StoreUnavailable | None:
        """A driver's outage (unreachable, locked, timed out, a connection lost, a schema not migrated) as the
        store's own exception, saying why.

        Programming errors (a bad statement, a broken constraint) stay what they are. A lost connection is
        ``ConnectionLost`` (SQLAlchemy drops it from the pool, with the ones opened before it), which intake's
        writes try once more on a fresh one (``Database.once_more``).
        """
        cause = causes.classify(context.original_exception, url)
        if context.is_disconnect:
            return ConnectionLost(cause.text, kind=cause.kind)  # raised ``from`` the driver's exception
        if (isinstance(context.sqlalchemy_exception, OperationalError)
                or (isinstance(context.sqlalchemy_exception, DBAPIError) and cause.kind in _OUTAGE_CAUSES)):
            return StoreUnavailable(cause.text, kind=cause.kind)
        return None

    return outage


def _closed_by_server(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
    """The pool's check of a PostgreSQL connection it hands out, instead of a pre-ping's ``SELECT 1`` round trip
    (0.12 ms per request): an idle connection has nothing to read, so one whose socket is readable (the server's
    "terminating connection" and its close) or that is closed is dropped, and the pool opens a fresh one. What
    this cannot see (a connection lost while in use, or silently) the intake write survives by trying once more."""
    if dbapi_connection.closed:
        raise DisconnectionError("the connection is closed")
    poller = select.poll()
    poller.register(dbapi_connection.fileno(), select.POLLIN)
    if poller.poll(0):
        raise DisconnectionError("the server closed the connection")


def _sqlite_pragmas(timeout_seconds: float) -> Any:
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")  # durable across process crashes in WAL mode
        cursor.execute(f"PRAGMA busy_timeout={int(timeout_seconds * 1000)}")
        cursor.execute("PRAGMA secure_delete=ON")  # erased values are overwritten with zeros, not left in free space
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
            pool_size=5,
            max_overflow=10,
            pool_timeout=timeout_seconds,
            connect_args={
                "connect_timeout": max(1, int(timeout_seconds)),
                "options": f"-c statement_timeout={int(timeout_seconds * 1000)}"
                f" -c lock_timeout={int(timeout_seconds * 1000)}",
            },
        )
        event.listen(engine, "checkout", _closed_by_server)
    event.listen(engine, "handle_error", _outage(url), retval=True)
    return engine


def dialect_insert(table: Table, dialect: str) -> Any:
    """``dialect``'s INSERT for ``table``, which knows ``ON CONFLICT``."""
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)


@dataclass(frozen=True)
class Prepared:
    """An INSERT compiled once, and what SQLAlchemy does to each value on the way to the driver (a column type's
    bind processor: a UTC time made naive, a JSON list serialised), done here without compiling, caching or keying
    the statement again for every row: ``Connection.exec_driver_sql(prepared.sql, prepared.parameters(row))``
    keeps the engine's connection handling and its ``handle_error`` hook."""

    sql: str
    names: tuple[str, ...]
    processors: tuple[Callable[[Any], Any] | None, ...]
    positional: bool

    def parameters(self, row: Mapping[str, Any]) -> tuple[Any, ...] | dict[str, Any]:
        values = [row[name] if process is None else process(row[name])
                  for name, process in zip(self.names, self.processors, strict=True)]
        return tuple(values) if self.positional else dict(zip(self.names, values, strict=True))


class Database:
    """The engine and what every part of the store shares: the dialect, the timeout, the intake writer lock, and
    the ``DATA_KEY`` that every stored address gets its address key under (``address_key``)."""

    def __init__(self, url: str, *, timeout_seconds: float = 5.0, data_key: bytes | None = None):
        self.engine = make_engine(url, timeout_seconds=timeout_seconds)
        self.url = url
        self._data_key = data_key
        self.dialect: str = self.engine.dialect.name
        self.timeout_seconds = timeout_seconds
        # SQLite has one writer at a time, and a writer that finds the file locked sleeps in SQLite's busy
        # handler in steps of up to 100 ms: a web process's threads queue here for their intake writes
        # instead, woken as soon as the one before them commits (p99 over 100 ms without it).
        self._sqlite_writer = threading.Lock() if self.dialect == "sqlite" else None

    @property
    def has_data_key(self) -> bool:
        return bool(self._data_key)

    def address_key(self, email: str | None) -> str | None:
        """The address key of ``email`` (``privacy.stored_address_key``); a store opened without ``DATA_KEY`` stores
        no address (``MissingDataKey``), so that no stored address lacks its key."""
        if email is None:
            return None
        if not self._data_key:
            raise MissingDataKey("the store was opened without DATA_KEY: it cannot store or look up an address")
        return stored_address_key(self._data_key, email)

    def keyed_hash(self, data: bytes) -> str:
        """HMAC-SHA256 of ``data`` under ``DATA_KEY``, in hex (``MissingDataKey`` without one): what the store keeps
        instead of a value it only ever compares."""
        if not self._data_key:
            raise MissingDataKey("the store was opened without DATA_KEY: it cannot store or look up an address")
        return hmac.new(self._data_key, data, hashlib.sha256).hexdigest()

    def time_left(self) -> float:
        """How long the store may still wait: the timeout, or less under a deadline; ``StoreUnavailable`` once the
        deadline has passed (a request that waited its whole time in a queue is answered at once)."""
        at = _deadline.get()
        if at is None:
            return self.timeout_seconds
        left = at - time.monotonic()
        if left <= 0:
            raise StoreUnavailable(f"the database at {causes.masked(self.url)} did not answer within DB_TIMEOUT",
                                   kind=TIMED_OUT)
        return min(left, self.timeout_seconds)

    @contextmanager
    def intake_write(self) -> Iterator[None]:
        """Hold this process's turn to write on SQLite (a no-op on PostgreSQL); ``StoreUnavailable`` if the turn
        does not come within the timeout (or the deadline)."""
        if self._sqlite_writer is None:
            yield
            return
        if not self._sqlite_writer.acquire(timeout=self.time_left()):
            raise StoreUnavailable(causes.describe(causes.LOCKED, self.url), kind=causes.LOCKED)
        try:
            yield
        finally:
            self._sqlite_writer.release()

    @contextmanager
    def writing(self, *, one_statement: bool) -> Iterator[Connection]:
        """A connection for a write. On PostgreSQL one statement is autocommitted: atomic and durable all the same,
        without the round trips of BEGIN and COMMIT (a single message's intake, a job's outcome: 0.2 ms each).
        More statements share a transaction, and so does everything on SQLite, where switching pays nothing, and
        a statement under a deadline shorter than the timeout (its shorter timeouts last the transaction)."""
        left = self.time_left()
        shorter = left < self.timeout_seconds - SLACK
        if one_statement and self.dialect == "postgresql" and not shorter:
            with self.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                yield conn
            return
        with self.engine.begin() as conn, self._within(conn, left if shorter else None):
            yield conn

    def once_more(self, write: Callable[[], T]) -> T:
        """``write()``, and on PostgreSQL once more if it lost its connection (``ConnectionLost``): the pool has
        dropped the lost one, so the second try runs on a fresh connection. Only for writes that may run twice:
        an ``INSERT ... ON CONFLICT DO NOTHING`` whose first try committed finds its rows stored and says so.
        A second loss, or any other outage, is ``StoreUnavailable`` as before; SQLite is never retried."""
        try:
            return write()
        except ConnectionLost:
            if self.dialect != "postgresql":
                raise
        return write()

    @contextmanager
    def reading(self) -> Iterator[Connection]:
        left = self.time_left()
        with self.engine.connect() as conn, self._within(conn, left if left < self.timeout_seconds - SLACK else None):
            yield conn

    @contextmanager
    def _within(self, conn: Connection, seconds: float | None) -> Iterator[None]:
        """The connection's waits bounded by ``seconds`` for the block (None: as configured)."""
        if seconds is None:
            yield
            return
        milliseconds = max(1, int(seconds * 1000))
        if self.dialect == "postgresql":  # SET LOCAL: undone when the transaction ends, whichever way
            conn.exec_driver_sql(f"SET LOCAL statement_timeout = {milliseconds}")
            conn.exec_driver_sql(f"SET LOCAL lock_timeout = {milliseconds}")
            yield
            return
        conn.exec_driver_sql(f"PRAGMA busy_timeout = {milliseconds}")
        try:
            yield
        finally:
            conn.exec_driver_sql(f"PRAGMA busy_timeout = {int(self.timeout_seconds * 1000)}")

    def truncate_wal(self) -> bool:
        """On SQLite, copy the WAL into the main file and truncate it to nothing, so that the page images an
        erasure replaced are gone from the ``-wal`` file too; True when done (and on PostgreSQL, where there is
        nothing to do). A reader in the middle of a transaction holds the WAL: tried again for up to the timeout."""
        if self.dialect != "sqlite":
            return True
        give_up = time.monotonic() + self.timeout_seconds
        with self.engine.connect() as conn:
            while True:
                busy = conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)").one()[0]
                if not busy or time.monotonic() >= give_up:
                    return not busy
                time.sleep(CHECKPOINT_PAUSE)

    def prepared(self, statement: Any, columns: Sequence[str], *tables: Table) -> Prepared:
        """``statement`` compiled once for this dialect, for rows of ``columns`` (see ``Prepared``): the column of
        that name in the first of ``tables`` (an INSERT's own table when none is given) says how a value is bound."""
        dialect = self.engine.dialect
        compiled = statement.compile(dialect=dialect, column_keys=list(columns))
        owners = tables or (statement.table,)
        types = {name: next(table.c[name].type for table in owners if name in table.c) for name in columns}
        processors = {name: types[name].dialect_impl(dialect).bind_processor(dialect) for name in columns}
        names = tuple(compiled.positiontup) if dialect.positional else tuple(columns)
        return Prepared(str(compiled), names, tuple(processors[name] for name in names), dialect.positional)

    def insert(self, table: Table) -> Any:
        """The dialect's INSERT for ``table``, which knows ``ON CONFLICT``."""
        return dialect_insert(table, self.dialect)

    def close(self) -> None:
        self.engine.dispose()
