"""What the console, ``receiver status`` and the metrics read: counts, the queue, the last errors, single rows and
pages of rows, deliveries per hour. Rows come back as frozen dataclasses, times as aware UTC datetimes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, func, select

from .engine import Database
from .schema import DELIVERED, STATES, UTCDateTime, deliveries, invitations, queued
from .sealed import Sealer
from .search import EVERYTHING, InvitationFilter, filter_clause


@dataclass(frozen=True)
class InvitationRow:
    """One stored invitation as the console shows it; ``email`` and ``name`` are None once erased (``address_key``
    stays: see ``schema.invitations``)."""

    id: int
    message_id: str
    domain: str
    ref: str
    order_key: str
    email: str | None
    name: str | None
    skus: tuple[str, ...]
    tags: tuple[str, ...]
    locale: str | None
    state: str
    attempts: int
    next_attempt_at: datetime
    lease_token: str | None
    last_error: str | None
    ordered_at: datetime | None
    created_at: datetime
    updated_at: datetime
    sent_at: datetime | None
    address_key: str | None


@dataclass(frozen=True)
class ErrorRow:
    """A recent failure: no personal data (error texts never hold any)."""

    id: int
    state: str
    attempts: int
    last_error: str
    updated_at: datetime


_ROW_COLUMNS = [invitations.c[field.name] for field in fields(InvitationRow)]
_ERROR_COLUMNS = [invitations.c[field.name] for field in fields(ErrorRow)]


def _invitation_rows(conn: Connection, sealer: Sealer, rows: Sequence[Any]) -> list[InvitationRow]:
    keys = sealer.opener(conn, [cell for row in rows for cell in (row.email, row.name)])
    return [InvitationRow(**{**row._asdict(), "email": keys.open(row.email), "name": keys.open(row.name),
                             "skus": tuple(row.skus or ()), "tags": tuple(row.tags or ())}) for row in rows]


class Reports:
    def __init__(self, database: Database, sealer: Sealer):
        self.database = database
        self.sealer = sealer

    def counts(self) -> dict[str, int]:
        """How many invitations there are in each state (every state named, in ``STATES`` order)."""
        statement = select(invitations.c.state, func.count()).group_by(invitations.c.state)
        with self.database.reading() as conn:
            found = dict(conn.execute(statement).all())
        return {state: int(found.get(state, 0)) for state in STATES}

    def due_count(self, *, now: datetime) -> int:
        """How many invitations are due now (the queue depth)."""
        statement = select(func.count()).where(queued, invitations.c.next_attempt_at <= now)
        with self.database.reading() as conn:
            return int(conn.execute(statement).scalar() or 0)

    def oldest_due(self, *, now: datetime) -> datetime | None:
        """When the longest-waiting due invitation became due, or None if nothing is due."""
        statement = select(func.min(invitations.c.next_attempt_at)).where(queued, invitations.c.next_attempt_at <= now)
        with self.database.reading() as conn:
            return conn.execute(statement).scalar()

    def last_errors(self, limit: int = 5) -> list[ErrorRow]:
        """The most recent failures, newest first."""
        statement = (select(*_ERROR_COLUMNS).where(invitations.c.last_error.is_not(None))
                     .order_by(invitations.c.updated_at.desc(), invitations.c.id.desc()).limit(limit))
        with self.database.reading() as conn:
            return [ErrorRow(**row._asdict()) for row in conn.execute(statement)]

    def get(self, invitation_id: int) -> InvitationRow | None:
        return self._one(invitations.c.id == invitation_id)

    def find(self, *, message_id: str) -> InvitationRow | None:
        return self._one(invitations.c.message_id == message_id)

    def _one(self, where: Any) -> InvitationRow | None:
        with self.database.reading() as conn:
            found = _invitation_rows(conn, self.sealer, conn.execute(select(*_ROW_COLUMNS).where(where)).all()[:1])
        return found[0] if found else None

    def page(self, matching: InvitationFilter = EVERYTHING, *, state: str | None = None, limit: int = 50,
             offset: int = 0) -> tuple[list[InvitationRow], int]:
        """One page of the invitations ``matching`` (and of ``state``, when given), newest first, and how many
        match in all."""
        where = filter_clause(matching if state is None else replace(matching, state=state))
        rows = (select(*_ROW_COLUMNS).where(where)
                .order_by(invitations.c.created_at.desc(), invitations.c.id.desc()))
        total = select(func.count()).select_from(invitations).where(where)
        with self.database.reading() as conn:
            found = _invitation_rows(conn, self.sealer, conn.execute(rows.limit(limit).offset(offset)).all())
            return found, int(conn.execute(total).scalar() or 0)

    def count(self, matching: InvitationFilter, *, states: tuple[str, ...]) -> int:
        """How many invitations ``matching`` are in one of ``states``."""
        statement = (select(func.count()).select_from(invitations)
                     .where(filter_clause(matching), invitations.c.state.in_(states)))
        with self.database.reading() as conn:
            return int(conn.execute(statement).scalar() or 0)

    def deliveries_per_hour(self, *, now: datetime, hours: int = 24) -> list[tuple[datetime, int]]:
        """Invitations sent in each of the last ``hours`` whole hours up to ``now`` (the current hour last):
        (the hour's start; count), oldest first, empty hours included."""
        return self._per_hour(invitations.c.sent_at, now=now, hours=hours)

    def attempts_per_hour(self, *, now: datetime, hours: int = 24) -> list[tuple[datetime, int, int]]:
        """Delivery attempts in each of the last ``hours`` whole hours, as ``deliveries_per_hour``: (the hour's
        start, attempts that delivered, attempts that failed), from the deliveries table, every attempt counted."""
        delivered = deliveries.c.outcome == DELIVERED
        sent = self._per_hour(deliveries.c.attempted_at, now=now, hours=hours, where=delivered)
        failed = self._per_hour(deliveries.c.attempted_at, now=now, hours=hours, where=~delivered)
        return [(start, done, failures) for (start, done), (_, failures) in zip(sent, failed, strict=True)]

    def _per_hour(self, column: Any, *, now: datetime, hours: int, where: Any = None) -> list[tuple[datetime, int]]:
        current = now.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
        first = current - timedelta(hours=hours - 1)
        # counted by the database, hour by hour: a page load reads 24 rows, not every delivery of the day
        if self.database.dialect == "postgresql":
            hour = func.date_trunc("hour", column, type_=UTCDateTime)
        else:
            hour = func.strftime("%Y-%m-%d %H:00:00", column, type_=UTCDateTime)
        statement = select(hour, func.count()).where(column >= first, column <= now).group_by(hour)
        if where is not None:
            statement = statement.where(where)
        with self.database.reading() as conn:
            found = dict(conn.execute(statement).all())
        starts = [first + timedelta(hours=index) for index in range(hours)]
        return [(start, found.get(start, 0)) for start in starts]
