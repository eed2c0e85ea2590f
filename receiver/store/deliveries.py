"""Delivery attempts: one row per attempt (``Attempt``), written by the outbox in the transaction of the outcome;
an invitation's history, and the figures of delivery health (``DeliverySummary``) for ``receiver status``, the
console and the metrics.

No personal data: a row holds an id, times, the sender's name, the outcome, and a ``SendFailure``'s code and fixed
text (which never repeat what a peer answered beyond its codes).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, bindparam, func, insert, select

from .engine import Database, dialect_insert
from .schema import (
    DELIVERED,
    MAX_CODE,
    MAX_ERROR,
    MAX_SENDER,
    OUTCOMES,
    PENDING,
    RETRYING,
    SENDING,
    WAITING,
    UTCDateTime,
    deliveries,
    delivery_counts,
    invitations,
)

FAILURE_WINDOW = timedelta(minutes=15)  # the window of the failure ratio
FAILURES_SHOWN = timedelta(hours=1)  # the window of "failures in the last hour"


@dataclass(frozen=True)
class Attempt:
    """One delivery attempt as the worker records it: ``outcome`` is one of ``schema.OUTCOMES``."""

    sender: str
    outcome: str
    attempted_at: datetime
    duration_seconds: float
    code: str | None = None
    error: str | None = None

    def values(self, invitation_id: int) -> dict[str, Any]:
        return {"invitation_id": invitation_id, "attempted_at": self.attempted_at, "sender": self.sender[:MAX_SENDER],
                "outcome": self.outcome, "code": self.code[:MAX_CODE] if self.code else None,
                "error": self.error[:MAX_ERROR] if self.error else None,
                "duration_seconds": max(0.0, self.duration_seconds)}


@dataclass(frozen=True)
class DeliveryRow:
    """One recorded attempt, as the console's history shows it."""

    id: int
    invitation_id: int
    attempted_at: datetime
    sender: str
    outcome: str
    code: str | None
    error: str | None
    duration_seconds: float

    @property
    def failed(self) -> bool:
        return self.outcome != DELIVERED


@dataclass(frozen=True)
class DeliverySummary:
    """Delivery health as of ``taken_at``.

    ``oldest_undelivered``: since when the longest-undelivered invitation has been meant to go (a due ``pending``
    one: since it became due; ``waiting``: since it arrived; ``retrying`` or ``sending``: since its first recorded
    attempt, else since it was last touched); ``pending`` ones not due yet (``INVITATION_DELAY``) are not counted.
    """

    taken_at: datetime
    last_success: datetime | None  # the newest successful attempt
    failures_last_hour: int
    attempts_window: int  # attempts in the last FAILURE_WINDOW
    failures_window: int  # failed attempts among them
    undelivered: int
    oldest_undelivered: datetime | None

    @property
    def failure_ratio(self) -> float:
        """Failed attempts over attempts in the last ``FAILURE_WINDOW`` (0 when there were none)."""
        return self.failures_window / self.attempts_window if self.attempts_window else 0.0

    def undelivered_age(self, now: datetime) -> timedelta | None:
        return now - self.oldest_undelivered if self.oldest_undelivered else None

    def stalled(self, now: datetime) -> timedelta:
        """How long no delivery has succeeded while undelivered work waited: since the later of the last success
        and the oldest undelivered invitation's time (zero when nothing waits)."""
        if not self.undelivered or self.oldest_undelivered is None:
            return timedelta(0)
        since = max(self.oldest_undelivered, self.last_success or self.oldest_undelivered)
        return max(timedelta(0), now - since)

    def as_json(self) -> dict[str, Any]:
        return {field.name: _json_value(getattr(self, field.name)) for field in fields(self)}

    @classmethod
    def from_json(cls, payload: dict[str, Any]) -> DeliverySummary:
        times = {"taken_at", "last_success", "oldest_undelivered"}
        return cls(**{field.name: (_time(payload.get(field.name)) if field.name in times
                                   else int(payload.get(field.name) or 0)) for field in fields(cls)})


def _json_value(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def _time(value: Any) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


_ROW_COLUMNS = [deliveries.c[field.name] for field in fields(DeliveryRow)]


@functools.cache
def _count_statement(dialect: str) -> Any:
    """Add one to the (sender, outcome, shard) row of ``delivery_counts`` (made at 1 when missing)."""
    statement = dialect_insert(delivery_counts, dialect).values(
        sender=bindparam("b_count_sender"), outcome=bindparam("b_count_outcome"), shard=bindparam("b_count_shard"),
        count=1)
    return statement.on_conflict_do_update(index_elements=[delivery_counts.c.sender, delivery_counts.c.outcome,
                                                           delivery_counts.c.shard],
                                           set_={"count": delivery_counts.c.count + 1})


def _count_parameters(attempt: Attempt, shard: int) -> dict[str, Any]:
    return {"b_count_sender": attempt.sender[:MAX_SENDER], "b_count_outcome": attempt.outcome, "b_count_shard": shard}


def record(conn: Connection, invitation_id: int, attempt: Attempt, shard: int) -> None:
    """Add ``attempt``'s row on ``conn`` and count it in ``shard``, in the caller's transaction (the outbox's, with
    the outcome)."""
    conn.execute(insert(deliveries), attempt.values(invitation_id))
    conn.execute(_count_statement(conn.dialect.name), _count_parameters(attempt, shard))


_ATTEMPT_COLUMNS = ("invitation_id", "attempted_at", "sender", "outcome", "code", "error", "duration_seconds")


@functools.cache
def recorded() -> tuple[Any, Any]:
    """The INSERT of an attempt and the increment of its count as CTEs that ride in the outcome's UPDATE on
    PostgreSQL (one autocommitted statement, one round trip; SQLite has no INSERT in a CTE, and runs ``record`` in
    the same transaction instead); their values are the parameters of ``recorded_parameters``."""
    row = insert(deliveries).values(**{name: bindparam(f"b_attempt_{name}") for name in _ATTEMPT_COLUMNS})
    return row.cte("recorded_attempt"), _count_statement("postgresql").cte("counted_attempt")


def recorded_parameters(invitation_id: int, attempt: Attempt, shard: int) -> dict[str, Any]:
    return {**{f"b_attempt_{name}": value for name, value in attempt.values(invitation_id).items()},
            **_count_parameters(attempt, shard)}


class Deliveries:
    def __init__(self, database: Database):
        self.database = database

    def history(self, invitation_id: int) -> list[DeliveryRow]:
        """Every recorded attempt of one invitation, oldest first."""
        statement = (select(*_ROW_COLUMNS).where(deliveries.c.invitation_id == invitation_id)
                     .order_by(deliveries.c.attempted_at, deliveries.c.id))
        with self.database.reading() as conn:
            return [DeliveryRow(**row._asdict()) for row in conn.execute(statement)]

    def totals(self) -> dict[tuple[str, str], int]:
        """Attempts ever recorded, by (sender, outcome): the counters of ``/metrics`` (a sum of a few rows)."""
        counts = delivery_counts.c
        statement = select(counts.sender, counts.outcome, func.sum(counts.count)).group_by(counts.sender,
                                                                                           counts.outcome)
        with self.database.reading() as conn:
            return {(row[0], row[1]): int(row[2]) for row in conn.execute(statement)}

    def summary(self, now: datetime) -> DeliverySummary:
        """Delivery health as of ``now`` (see ``DeliverySummary``), read from the indexes."""
        with self.database.reading() as conn:
            last = conn.execute(select(func.max(deliveries.c.attempted_at, type_=UTCDateTime))
                                .where(deliveries.c.outcome == DELIVERED)).scalar()
            hour = self._by_outcome(conn, now - FAILURES_SHOWN, now)
            window = self._by_outcome(conn, now - FAILURE_WINDOW, now)
            undelivered, oldest = self._undelivered(conn, now)
        return DeliverySummary(
            taken_at=now, last_success=last, failures_last_hour=_failures(hour), attempts_window=sum(window.values()),
            failures_window=_failures(window), undelivered=undelivered, oldest_undelivered=oldest)

    @staticmethod
    def _by_outcome(conn: Connection, start: datetime, end: datetime) -> dict[str, int]:
        at = deliveries.c.attempted_at
        statement = (select(deliveries.c.outcome, func.count())
                     .where(deliveries.c.outcome.in_(OUTCOMES), at > start, at <= end).group_by(deliveries.c.outcome))
        return {outcome: int(count) for outcome, count in conn.execute(statement)}

    @staticmethod
    def _undelivered(conn: Connection, now: datetime) -> tuple[int, datetime | None]:
        """How many invitations are undelivered, and since when the oldest of them has been meant to go."""
        state, due = invitations.c.state, invitations.c.next_attempt_at
        first_attempt = (select(func.min(deliveries.c.attempted_at))
                         .where(deliveries.c.invitation_id == invitations.c.id).scalar_subquery())
        parts = [
            (state == PENDING) & (due <= now), func.min(due, type_=UTCDateTime),
            state == WAITING, func.min(invitations.c.created_at, type_=UTCDateTime),
            state.in_((RETRYING, SENDING)),
            func.min(func.coalesce(first_attempt, invitations.c.updated_at, type_=UTCDateTime), type_=UTCDateTime),
        ]
        count, oldest = 0, None
        for where, since in zip(parts[::2], parts[1::2], strict=True):
            found = conn.execute(select(func.count(), since).where(where)).one()
            count += int(found[0])
            if found[1] is not None and (oldest is None or found[1] < oldest):
                oldest = found[1]
        return count, oldest


def _failures(by_outcome: dict[str, int]) -> int:
    return sum(count for outcome, count in by_outcome.items() if outcome != DELIVERED)
