"""The queue's gauges for ``/metrics`` (invitations by state, due now, the oldest due; delivery health and the
attempts by sender and outcome, from ``deliveries``), computed at most once per
``max_age`` by one process for all of them and shared through one row of ``service_state``; and the write probe of
``/readyz``.

Every scrape reads that row (one primary-key lookup, which also tells whether the database answers). When the
snapshot in it is older than ``max_age``, the scrape that wins the row's short lease (a conditional UPDATE: on
both databases exactly one process gets it) computes the gauges from the indexes and stores them; the others serve
the snapshot they read. A process that dies holding the lease loses it after ``LEASE``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.exc import DBAPIError

from .causes import classify
from .deliveries import Deliveries, DeliverySummary
from .engine import Database, StoreUnavailable
from .reports import Reports
from .schema import service_state

QUEUE, PROBE = "queue", "probe"  # the rows of service_state
LEASE = timedelta(seconds=10)


@dataclass(frozen=True)
class QueueGauges:
    counts: dict[str, int]  # invitations by state
    due: int  # due now (the queue depth)
    oldest_due: datetime | None  # when the longest-waiting due invitation became due
    taken_at: datetime  # when these were computed
    health: DeliverySummary  # delivery health (last success, failures, the oldest undelivered)
    attempts: dict[tuple[str, str], int]  # delivery attempts ever recorded, by (sender, outcome)

    def as_json(self) -> dict[str, Any]:
        return {"counts": self.counts, "due": self.due,
                "oldest_due": self.oldest_due.isoformat() if self.oldest_due else None,
                "health": self.health.as_json(),
                "attempts": [[sender, outcome, count] for (sender, outcome), count in sorted(self.attempts.items())]}


def _gauges(payload: Any, taken_at: datetime | None) -> QueueGauges | None:
    if not payload or taken_at is None or "health" not in payload:  # none yet, or one from before ``health``
        return None
    oldest = payload.get("oldest_due")
    return QueueGauges(counts={str(k): int(v) for k, v in payload["counts"].items()}, due=int(payload["due"]),
                       oldest_due=datetime.fromisoformat(oldest) if oldest else None, taken_at=taken_at,
                       health=DeliverySummary.from_json(payload["health"]),
                       attempts={(str(sender), str(outcome)): int(count)
                                 for sender, outcome, count in payload.get("attempts", [])})


class Gauges:
    def __init__(self, database: Database, reports: Reports, deliveries: Deliveries):
        self.database = database
        self.reports = reports
        self.deliveries = deliveries

    def compute(self, *, now: datetime) -> QueueGauges:
        """The gauges now, from the database's indexes (no snapshot)."""
        return QueueGauges(counts=self.reports.counts(), due=self.reports.due_count(now=now),
                           oldest_due=self.reports.oldest_due(now=now), taken_at=now,
                           health=self.deliveries.summary(now), attempts=self.deliveries.totals())

    def snapshot(self, *, now: datetime, max_age: float) -> QueueGauges | None:
        """The shared snapshot, refreshed first when it is older than ``max_age`` seconds and this process wins the
        lease; None only when there has never been one and another process is computing the first."""
        with self.database.reading() as conn:
            row = conn.execute(select(service_state.c.payload, service_state.c.taken_at)
                               .where(service_state.c.name == QUEUE)).first()
        stored = _gauges(row.payload, row.taken_at) if row else None
        if stored is not None and stored.taken_at > now - timedelta(seconds=max_age):
            return stored
        if not self._lease(now, max_age, exists=row is not None):
            return stored
        fresh = self.compute(now=now)
        self._store(fresh)
        return fresh

    def _lease(self, now: datetime, max_age: float, *, exists: bool) -> bool:
        """Whether this process takes the refresh: the row's lease is free and its snapshot still stale."""
        if not exists:
            self._upsert(QUEUE, {"taken_at": None, "payload": None, "refreshing_until": now + LEASE})
            return True
        table = service_state.c
        statement = (update(service_state)
                     .where(table.name == QUEUE,
                            or_(table.refreshing_until.is_(None), table.refreshing_until <= now),
                            or_(table.taken_at.is_(None), table.taken_at <= now - timedelta(seconds=max_age)))
                     .values(refreshing_until=now + LEASE))
        with self.database.intake_write(), self.database.writing(one_statement=True) as conn:
            return conn.execute(statement).rowcount == 1

    def _store(self, gauges: QueueGauges) -> None:
        self._upsert(QUEUE, {"taken_at": gauges.taken_at, "payload": gauges.as_json(), "refreshing_until": None})

    def _upsert(self, name: str, values: dict[str, Any]) -> None:
        insert = self.database.insert(service_state).values(name=name, **values)
        statement = insert.on_conflict_do_update(index_elements=[service_state.c.name], set_=values)
        with self.database.intake_write(), self.database.writing(one_statement=True) as conn:
            conn.execute(statement)

    def probe_write(self, *, now: datetime) -> None:
        """Write one small row and commit it (``/readyz``); ``StoreUnavailable`` when the database cannot take a write
        (a read-only file or database, a full disk, a standby), whatever error the driver gives for it."""
        try:
            self._upsert(PROBE, {"taken_at": now})
        except DBAPIError as exc:
            cause = classify(exc.orig, self.database.url)
            raise StoreUnavailable(f"the database cannot take a write: {cause}", kind=cause.kind) from exc
