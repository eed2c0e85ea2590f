"""The outbox: invitations as rows of a work queue, in SQLAlchemy Core, on SQLite or PostgreSQL.

Every write is one statement in one transaction, so it is atomic on both databases:
- ``add`` inserts with ``ON CONFLICT DO NOTHING``: the unique ``message_id`` and unique
  ``(domain, order_key)`` make a retried or repeated message a no-op, even under concurrency;
- ``claim`` moves due rows to ``sending`` with a lease in one ``UPDATE ... RETURNING``
  (``FOR UPDATE SKIP LOCKED`` on PostgreSQL), so no row goes to two workers; a ``sending`` row
  whose lease ran out is due again;
- ``mark_*`` only touch a row still held under the caller's lease token.
"""

from __future__ import annotations

import functools
import secrets
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    DateTime,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    UniqueConstraint,
    and_,
    bindparam,
    case,
    create_engine,
    delete,
    event,
    func,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError, OperationalError

from .invitation import Invitation

MIGRATIONS = Path(__file__).with_name("migrations")

PENDING, SENDING, SENT, RETRYING, DEAD, SUPPRESSED, EXPIRED = (
    "pending", "sending", "sent", "retrying", "dead", "suppressed", "expired",
)
STATES = (PENDING, SENDING, SENT, RETRYING, DEAD, SUPPRESSED, EXPIRED)
QUEUED = (PENDING, RETRYING, SENDING)
FINISHED = (SENT, DEAD, SUPPRESSED, EXPIRED)  # a SENDING row is due again once its lease (next_attempt_at) ran out
MAX_ERROR = 500

metadata = MetaData()

invitations = Table(
    "invitations",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("message_id", String(255), nullable=False),
    Column("domain", String(253), nullable=False),
    Column("ref", String(255), nullable=False),
    Column("order_key", String(300), nullable=False),
    Column("email", String(254)),
    Column("name", String(255)),
    Column("skus", JSON, nullable=False, default=list),
    Column("tags", JSON, nullable=False, default=list),
    Column("locale", String(35)),
    Column("state", String(16), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", DateTime, nullable=False),
    Column("lease_token", String(32)),
    Column("last_error", String(MAX_ERROR)),
    Column("ordered_at", DateTime),
    Column("created_at", DateTime, nullable=False),
    Column("updated_at", DateTime, nullable=False),
    Column("sent_at", DateTime),
    UniqueConstraint("message_id", name="uq_invitations_message_id"),
    UniqueConstraint("domain", "order_key", name="uq_invitations_domain_order"),
)
_due = invitations.c.state.in_(QUEUED)
Index("ix_invitations_due", invitations.c.next_attempt_at, postgresql_where=_due, sqlite_where=_due)
Index("ix_invitations_state", invitations.c.state)


class StoreUnavailable(RuntimeError):
    """The database cannot be reached, or stayed locked past the timeout: try again later."""


@dataclass(frozen=True)
class Job:
    """A claimed invitation, held under ``lease_token`` until the worker records what happened."""

    id: int
    message_id: str
    email: str
    name: str
    ref: str
    skus: tuple[str, ...]
    tags: tuple[str, ...]
    locale: str | None
    attempts: int
    lease_token: str
    ordered_at: datetime | None = None  # aware UTC


def naive_utc(moment: datetime) -> datetime:
    """Stored times are naive UTC on both databases."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment


def _sqlite_pragmas(timeout_seconds: float) -> Any:
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")  # durable across process crashes in WAL mode
        cursor.execute(f"PRAGMA busy_timeout={int(timeout_seconds * 1000)}")
        cursor.close()

    return on_connect


def make_engine(url: str, *, timeout_seconds: float = 5.0) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": timeout_seconds, "check_same_thread": False})
        event.listen(engine, "connect", _sqlite_pragmas(timeout_seconds))
        return engine
    return create_engine(
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


class Store:
    def __init__(self, url: str, *, timeout_seconds: float = 5.0):
        self.engine = make_engine(url, timeout_seconds=timeout_seconds)
        self.dialect = self.engine.dialect.name
        self.timeout_seconds = timeout_seconds
        # SQLite has one writer at a time, and a writer that finds the file locked sleeps in SQLite's busy
        # handler in steps of up to 100 ms: a web process's threads queue here for their intake writes
        # instead, woken as soon as the one before them commits (p99 over 100 ms without it).
        self._sqlite_writer = threading.Lock() if self.dialect == "sqlite" else None

    @contextmanager
    def _intake_write(self) -> Iterator[None]:
        if self._sqlite_writer is None:
            yield
            return
        if not self._sqlite_writer.acquire(timeout=self.timeout_seconds):
            raise StoreUnavailable("the database is unavailable or locked; try again")
        try:
            yield
        finally:
            self._sqlite_writer.release()

    def _writing(self, *, one_statement: bool) -> Any:
        """A connection for a write. On PostgreSQL one statement is autocommitted: atomic and durable all the same,
        without the round trips of BEGIN and COMMIT (a single message's intake, a job's outcome: 0.2 ms each).
        More statements share a transaction, and so does everything on SQLite, where switching pays nothing."""
        if one_statement and self.dialect == "postgresql":
            return self.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        return self.engine.begin()

    def close(self) -> None:
        self.engine.dispose()

    def upgrade(self) -> None:
        """Apply the Alembic migrations up to the newest (``receiver db upgrade``); safe to run concurrently."""
        from alembic import command
        from alembic.config import Config

        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        with _Translate(), self.engine.begin() as conn:
            if self.dialect == "postgresql":  # one migrator at a time; the others wait, then find nothing to do
                conn.execute(text("SELECT pg_advisory_xact_lock(7416093)"))
            config.attributes["connection"] = conn
            command.upgrade(config, "head")

    create_schema = upgrade

    def is_migrated(self) -> bool:
        """True when the database answers and carries the newest migration."""
        from alembic.runtime.migration import MigrationContext
        from alembic.script import ScriptDirectory

        head = ScriptDirectory(str(MIGRATIONS)).get_current_head()
        with _Translate(), self.engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision() == head

    # -- intake ---------------------------------------------------------------------------------

    def add(
        self, items: Sequence[Invitation], *, domain: str, now: datetime, due_at: Sequence[datetime] | None = None,
        order_keys: Sequence[str] | None = None, states: Sequence[str] | None = None,
        errors: Sequence[str | None] | None = None,
    ) -> list[bool]:
        """Store each new invitation in one transaction; per item, True if stored, False if a duplicate.

        A duplicate has the ``message_id`` of a stored invitation, or the same order key for the domain
        (by default the order ``ref``): Segment's retries and repeated orders make no second row.
        ``states``/``errors``: per item, a state other than ``pending`` (e.g. ``suppressed``) and its reason.
        """
        if not items:
            return []
        now = naive_utc(now)
        rows = []
        for index, item in enumerate(items):
            rows.append({
                "message_id": item.message_id,
                "domain": domain,
                "ref": item.ref,
                "order_key": order_keys[index] if order_keys else item.ref,
                "email": item.email,
                "name": item.name,
                "skus": list(item.skus),
                "tags": list(item.tags),
                "locale": item.locale,
                "state": states[index] if states else PENDING,
                "last_error": errors[index] if errors else None,
                "attempts": 0,
                "next_attempt_at": naive_utc(due_at[index]) if due_at else now,
                "ordered_at": naive_utc(item.ordered_at) if item.ordered_at else None,
                "created_at": now,
                "updated_at": now,
            })
        insert = (postgresql.insert if self.dialect == "postgresql" else sqlite.insert)(invitations)
        statement = insert.on_conflict_do_nothing().returning(invitations.c.message_id)
        with self._intake_write(), _Translate(), self._writing(one_statement=len(rows) == 1) as conn:
            # executemany: SQLAlchemy sends the rows as pages of multi-row INSERTs ("insertmanyvalues"),
            # compiled once and well inside each database's limit on bound parameters.
            stored = {row.message_id for row in conn.execute(statement, rows)}
        result = []
        for item in items:
            result.append(item.message_id in stored)
            stored.discard(item.message_id)  # a second copy in the same batch is a duplicate
        return result

    # -- delivery -------------------------------------------------------------------------------

    def claim(self, *, now: datetime, limit: int, lease_seconds: float) -> list[Job]:
        """Take up to ``limit`` due invitations for one worker, leased until ``now + lease_seconds``."""
        now = naive_utc(now)
        token = secrets.token_hex(16)
        due = (
            select(invitations.c.id)
            .where(_due, invitations.c.next_attempt_at <= now)
            .order_by(invitations.c.next_attempt_at)
            .limit(limit)
        )
        if self.dialect == "postgresql":
            due = due.with_for_update(skip_locked=True)
        statement = (
            update(invitations)
            .where(invitations.c.id.in_(due.scalar_subquery()))
            .values(
                state=SENDING,
                attempts=invitations.c.attempts + 1,
                next_attempt_at=now + timedelta(seconds=lease_seconds),
                lease_token=token,
                updated_at=now,
            )
            .returning(*(invitations.c[name] for name in (
                "id", "message_id", "email", "name", "ref", "skus", "tags", "locale", "attempts", "ordered_at")))
        )
        with _Translate(), self.engine.begin() as conn:
            rows = conn.execute(statement).all()
        jobs = [
            Job(id=row.id, message_id=row.message_id, email=row.email or "", name=row.name or "",
                ref=row.ref, skus=tuple(row.skus or ()), tags=tuple(row.tags or ()), locale=row.locale,
                attempts=row.attempts, lease_token=token,
                ordered_at=row.ordered_at.replace(tzinfo=UTC) if row.ordered_at else None)
            for row in rows
        ]
        return sorted(jobs, key=lambda job: job.id)

    def _finish(self, job: Job, now: datetime, **values: Any) -> bool:
        statement = _finish_statement(tuple(sorted(values)))
        parameters = {f"b_new_{name}": value for name, value in values.items()}
        with _Translate(), self._writing(one_statement=True) as conn:  # one UPDATE per invitation the worker sends
            result = conn.execute(statement, {"b_job_id": job.id, "b_lease_token": job.lease_token,
                                              "b_updated_at": naive_utc(now), **parameters})
            return result.rowcount == 1

    def mark_sent(self, job: Job, *, now: datetime) -> bool:
        """Record a delivery; False if the lease had been lost to another worker meanwhile."""
        return self._finish(job, now, state=SENT, sent_at=naive_utc(now), last_error=None)

    def mark_retry(self, job: Job, *, now: datetime, at: datetime, error: str) -> bool:
        return self._finish(job, now, state=RETRYING, next_attempt_at=naive_utc(at), last_error=error[:MAX_ERROR])

    def mark_dead(self, job: Job, *, now: datetime, error: str) -> bool:
        return self._finish(job, now, state=DEAD, last_error=error[:MAX_ERROR])

    def mark_expired(self, job: Job, *, now: datetime, error: str) -> bool:
        """The order is too old to ask about (``MAX_EVENT_AGE``): never sent; the attempt not counted."""
        return self._finish(job, now, state=EXPIRED, attempts=job.attempts - 1, last_error=error[:MAX_ERROR])

    def retry(self, *, now: datetime, dead: bool = False, invitation_id: int | None = None) -> int:
        """Make ``retrying`` (and with ``dead``, ``dead``) invitations due now; how many were changed.

        With ``invitation_id``, just that one, in either state. A retried dead row gets a fresh attempt budget.
        """
        states = [RETRYING, DEAD] if dead or invitation_id is not None else [RETRYING]
        statement = update(invitations).where(invitations.c.state.in_(states), invitations.c.email.is_not(None))
        if invitation_id is not None:
            statement = statement.where(invitations.c.id == invitation_id)
        now = naive_utc(now)
        statement = statement.values(
            state=RETRYING,
            next_attempt_at=now,
            updated_at=now,
            attempts=case((invitations.c.state == DEAD, 0), else_=invitations.c.attempts),
        )
        with _Translate(), self.engine.begin() as conn:
            return conn.execute(statement).rowcount

    def release(self, jobs: Iterable[Job], *, now: datetime) -> None:
        """Give claimed rows back untouched (a stopping worker): due now, the attempt not counted."""
        for job in jobs:
            self._finish(job, now, state=PENDING if job.attempts <= 1 else RETRYING,
                         attempts=job.attempts - 1, next_attempt_at=naive_utc(now))

    # -- privacy --------------------------------------------------------------------------------

    def purge(self, *, now: datetime, older_than_seconds: float) -> int:
        """Erase the personal data of finished invitations (sent, dead, suppressed, expired) last touched
        more than ``older_than_seconds`` ago; the rows, states and ids stay for the counts. How many."""
        cutoff = naive_utc(now) - timedelta(seconds=older_than_seconds)
        statement = (
            update(invitations)
            .where(invitations.c.state.in_(FINISHED), invitations.c.updated_at < cutoff,
                   invitations.c.email.is_not(None))
            .values(email=None, name=None)
        )
        with _Translate(), self.engine.begin() as conn:
            erased = conn.execute(statement).rowcount
            conn.execute(delete(user_traits).where(user_traits.c.updated_at < cutoff))  # traits not heard of since
        return erased

    def forget(self, email: str, *, now: datetime) -> tuple[list[int], int]:
        """Erase one address from every invitation (any casing; unsent ones become ``suppressed``) and every
        stored trait of each customer id that carried it. The ids of the invitations changed, and how many
        customer ids lost their traits."""
        now = naive_utc(now)
        wanted = email.strip().lower()
        match = func.lower(invitations.c.email) == wanted
        with _Translate(), self.engine.begin() as conn:
            ids = [row.id for row in conn.execute(select(invitations.c.id).where(match).order_by(invitations.c.id))]
            if ids:
                conn.execute(update(invitations).where(invitations.c.id.in_(ids), invitations.c.state.in_(QUEUED))
                             .values(state=SUPPRESSED, last_error="erased on request", lease_token=None))
                conn.execute(update(invitations).where(invitations.c.id.in_(ids))
                             .values(email=None, name=None, updated_at=now))
            emails = select(user_traits.c.identity, user_traits.c.value).where(user_traits.c.name == "email")
            identities = sorted({row.identity for row in conn.execute(emails)
                                 if isinstance(row.value, str) and row.value.strip().lower() == wanted})
            for start in range(0, len(identities), TRAIT_CHUNK):
                conn.execute(delete(user_traits).where(user_traits.c.identity.in_(identities[start:start + TRAIT_CHUNK])))
        return ids, len(identities)

    # -- reading --------------------------------------------------------------------------------

    def counts(self) -> dict[str, int]:
        statement = select(invitations.c.state, func.count()).group_by(invitations.c.state)
        with _Translate(), self.engine.connect() as conn:
            found = dict(conn.execute(statement).all())
        return {state: int(found.get(state, 0)) for state in STATES}

    def due_count(self, *, now: datetime) -> int:
        """How many invitations are due now (the queue depth)."""
        statement = select(func.count()).where(_due, invitations.c.next_attempt_at <= naive_utc(now))
        with _Translate(), self.engine.connect() as conn:
            return int(conn.execute(statement).scalar() or 0)

    def oldest_due(self, *, now: datetime) -> datetime | None:
        """When the longest-waiting due invitation became due (aware UTC), or None if nothing is due."""
        statement = select(func.min(invitations.c.next_attempt_at)).where(
            _due, invitations.c.next_attempt_at <= naive_utc(now))
        with _Translate(), self.engine.connect() as conn:
            found = conn.execute(statement).scalar()
        return found.replace(tzinfo=UTC) if found else None

    def last_errors(self, limit: int = 5) -> list[dict[str, Any]]:
        """The most recent failures: ids, state, attempts, error text (which never holds personal data)."""
        columns = [invitations.c[name] for name in ("id", "state", "attempts", "last_error", "updated_at")]
        statement = (select(*columns).where(invitations.c.last_error.is_not(None))
                     .order_by(invitations.c.updated_at.desc(), invitations.c.id.desc()).limit(limit))
        with _Translate(), self.engine.connect() as conn:
            return [dict(row._mapping) for row in conn.execute(statement)]

    def get(self, invitation_id: int) -> dict[str, Any] | None:
        with _Translate(), self.engine.connect() as conn:
            row = conn.execute(select(invitations).where(invitations.c.id == invitation_id)).first()
        return dict(row._mapping) if row else None

    def page(self, *, state: str | None = None, limit: int = 50, offset: int = 0) -> tuple[list[dict[str, Any]], int]:
        """One page of invitations, newest first (optionally of one state), and how many there are in all."""
        columns = [invitations.c[name] for name in (
            "id", "message_id", "ref", "email", "state", "attempts", "next_attempt_at", "last_error", "created_at")]
        rows = select(*columns).order_by(invitations.c.created_at.desc(), invitations.c.id.desc())
        total = select(func.count()).select_from(invitations)
        if state is not None:
            rows, total = rows.where(invitations.c.state == state), total.where(invitations.c.state == state)
        with _Translate(), self.engine.connect() as conn:
            found = [dict(row._mapping) for row in conn.execute(rows.limit(limit).offset(offset))]
            return found, int(conn.execute(total).scalar() or 0)

    def deliveries_per_hour(self, *, now: datetime, hours: int = 24) -> list[tuple[datetime, int]]:
        """Invitations sent in each of the last ``hours`` whole hours up to ``now`` (the current hour last):
        (the hour's start, aware UTC; count), oldest first, empty hours included."""
        current = naive_utc(now).replace(minute=0, second=0, microsecond=0)
        first = current - timedelta(hours=hours - 1)
        sent_at = invitations.c.sent_at
        # counted by the database, hour by hour: a page load reads 24 rows, not every delivery of the day
        if self.dialect == "postgresql":
            hour = func.date_trunc("hour", sent_at)
        else:
            hour = func.strftime("%Y-%m-%d %H:00:00", sent_at)
        statement = select(hour, func.count()).where(sent_at >= first, sent_at <= naive_utc(now)).group_by(hour)
        with _Translate(), self.engine.connect() as conn:
            found = {start if isinstance(start, datetime) else datetime.fromisoformat(start): count
                     for start, count in conn.execute(statement)}
        starts = [first + timedelta(hours=index) for index in range(hours)]
        return [(start.replace(tzinfo=UTC), found.get(start, 0)) for start in starts]

    def holder(self, *, message_id: str, domain: str, order_key: str) -> int | None:
        """The id of the stored invitation that ``add`` would find this one a duplicate of, if any."""
        statement = select(invitations.c.id).where(or_(
            invitations.c.message_id == message_id,
            and_(invitations.c.domain == domain, invitations.c.order_key == order_key),
        )).limit(1)
        with _Translate(), self.engine.connect() as conn:
            return conn.execute(statement).scalar()

    def find(self, *, message_id: str) -> dict[str, Any] | None:
        with _Translate(), self.engine.connect() as conn:
            row = conn.execute(select(invitations).where(invitations.c.message_id == message_id)).first()
        return dict(row._mapping) if row else None

    # -- traits (issue 5): implemented in the section at the end of this module -----------------

    def remember_traits(self, updates: Sequence[TraitUpdate], *, now: datetime) -> int:
        return _remember_traits(self, updates, now=now)

    def known_traits(self, identities: Iterable[str]) -> dict[str, dict[str, Any]]:
        return _known_traits(self, identities)


class _Translate:
    """Database outages become ``StoreUnavailable``; programming errors stay what they are."""

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: Any, exc: BaseException | None, _tb: Any) -> bool:
        if isinstance(exc, OperationalError) or (isinstance(exc, DBAPIError) and exc.connection_invalidated):
            raise StoreUnavailable("the database is unavailable or locked; try again") from exc
        return False


# ==================================================================================================
# Traits (issue 5): what identify calls said about each customer, for orders that do not say it.
#
# One row per (identity, trait): ``identity`` is ``user:<userId>`` or ``anon:<anonymousId>``. Merging is
# Segment's: a trait sent again replaces the stored value, new traits are added, the others stay. Each
# row keeps the time of the identify call that set it, so that a late retry of an older call does
# not overwrite a newer value. ``remember_traits`` writes a whole batch (e.g. an Engage audience sync)
# in one transaction, with one ``INSERT ... ON CONFLICT DO UPDATE ... WHERE``: atomic on both databases.
# ==================================================================================================

MAX_IDENTITY = 300
MAX_TRAIT_NAME = 255
TRAIT_CHUNK = 500  # identities per lookup: well under SQLite's and PostgreSQL's limits on bound parameters

user_traits = Table(
    "user_traits",
    metadata,
    Column("identity", String(MAX_IDENTITY), nullable=False),
    Column("name", String(MAX_TRAIT_NAME), nullable=False),
    Column("value", JSON(none_as_null=True)),
    Column("observed_at", DateTime, nullable=False),
    Column("updated_at", DateTime, nullable=False),
    PrimaryKeyConstraint("identity", "name", name="pk_user_traits"),
)


@functools.cache
def _finish_statement(columns: tuple[str, ...]) -> Any:
    """The UPDATE that records a job's outcome, setting ``columns``, built once per shape (the worker runs one
    per invitation, and building and caching-keying a fresh statement cost as much as the round trip)."""
    return (
        update(invitations)
        .where(invitations.c.id == bindparam("b_job_id"), invitations.c.lease_token == bindparam("b_lease_token"),
               invitations.c.state == SENDING)
        .values(lease_token=None, updated_at=bindparam("b_updated_at"),
                **{name: bindparam(f"b_new_{name}") for name in columns})
    )


def identity_key(kind: str, value: str) -> str:
    """``("user", "u-1")`` -> ``"user:u-1"``; ``kind`` is ``user`` (userId) or ``anon`` (anonymousId)."""
    return f"{kind}:{value}"


@dataclass(frozen=True)
class TraitUpdate:
    """The traits of one identify call, for one identity, as of ``observed_at`` (its timestamp)."""

    identity: str
    traits: Mapping[str, Any]
    observed_at: datetime


def _latest_per_trait(updates: Iterable[TraitUpdate], now: datetime) -> list[dict[str, Any]]:
    """One row per (identity, trait): the newest value in the batch (a later one wins a tie).

    One statement may not touch a row twice on PostgreSQL, so the batch is folded here first.
    """
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    for update_ in updates:
        if not update_.identity or len(update_.identity) > MAX_IDENTITY:
            continue
        observed = naive_utc(update_.observed_at)
        for name, value in update_.traits.items():
            if not isinstance(name, str) or not name or len(name) > MAX_TRAIT_NAME:
                continue
            key = (update_.identity, name)
            if key not in rows or rows[key]["observed_at"] <= observed:
                rows[key] = {"identity": update_.identity, "name": name, "value": value,
                             "observed_at": observed, "updated_at": now}
    return list(rows.values())


def _remember_traits(store: Store, updates: Sequence[TraitUpdate], *, now: datetime) -> int:
    """Merge the traits of a batch of identify calls into the stored ones, in one transaction.

    Returns how many (identity, trait) rows the batch carried. A value is only replaced by one
    observed at the same time or later.
    """
    rows = _latest_per_trait(updates, naive_utc(now))
    if not rows:
        return 0
    insert = (postgresql.insert if store.dialect == "postgresql" else sqlite.insert)(user_traits)
    statement = insert.on_conflict_do_update(
        index_elements=[user_traits.c.identity, user_traits.c.name],
        set_={"value": insert.excluded.value, "observed_at": insert.excluded.observed_at,
              "updated_at": insert.excluded.updated_at},
        where=user_traits.c.observed_at <= insert.excluded.observed_at,
    )
    with store._intake_write(), _Translate(), store.engine.begin() as conn:
        conn.execute(statement, rows)  # executemany: SQLAlchemy pages the rows, the statement is compiled once
    return len(rows)


def _known_traits(store: Store, identities: Iterable[str]) -> dict[str, dict[str, Any]]:
    """The stored traits of each identity asked for that has any, in one query per chunk."""
    wanted = sorted({identity for identity in identities if identity and len(identity) <= MAX_IDENTITY})
    found: dict[str, dict[str, Any]] = {}
    if not wanted:
        return found
    with _Translate(), store.engine.connect() as conn:
        for start in range(0, len(wanted), TRAIT_CHUNK):
            statement = select(user_traits.c.identity, user_traits.c.name, user_traits.c.value).where(
                user_traits.c.identity.in_(wanted[start:start + TRAIT_CHUNK]))
            for row in conn.execute(statement):
                found.setdefault(row.identity, {})[row.name] = row.value
    return found
