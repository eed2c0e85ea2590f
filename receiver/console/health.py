"""Whether delivery is healthy, as the console shows it: the oldest undelivered invitation, the last successful
delivery, the failures of the last hour and the failure ratio of the last 15 minutes, the hours' sent and failed
counts, and one invitation's attempts; and when these say "outage".

The one place the console reads delivery figures from the store, so that where they come from (the invitations'
own columns, or the deliveries table with one row per attempt) is a change here alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from ..status import age
from ..store import Store

OUTAGE_AGE = timedelta(minutes=30)  # an undelivered invitation older than this: delivery is stuck
OUTAGE_RATIO = 0.5  # more than half of the last 15 minutes' attempts failed ...
OUTAGE_MIN_ATTEMPTS = 4  # ... out of at least this many
RATIO_WINDOW = timedelta(minutes=15)


@dataclass(frozen=True)
class Health:
    now: datetime
    oldest_undelivered: datetime | None  # when the oldest pending/retrying/sending/waiting one was stored
    last_success: datetime | None
    failures_last_hour: int
    attempts_window: int  # attempts in the last RATIO_WINDOW
    failures_window: int

    @property
    def failure_ratio(self) -> float | None:
        return self.failures_window / self.attempts_window if self.attempts_window else None

    @property
    def undelivered_age(self) -> timedelta | None:
        return self.now - self.oldest_undelivered if self.oldest_undelivered else None

    def alarms(self) -> list[str]:
        """Why delivery looks broken, one sentence each; empty when it does not."""
        found = []
        waited = self.undelivered_age
        if waited is not None and waited > OUTAGE_AGE:
            found.append(f"The oldest undelivered invitation has waited {age(waited)} (more than "
                         f"{age(OUTAGE_AGE)}).")
        ratio = self.failure_ratio
        if ratio is not None and ratio > OUTAGE_RATIO and self.attempts_window >= OUTAGE_MIN_ATTEMPTS:
            found.append(f"{self.failures_window} of the last {self.attempts_window} attempts failed "
                         f"({ratio:.0%}) in {age(RATIO_WINDOW)}.")
        return found


@dataclass(frozen=True)
class Hour:
    start: datetime
    sent: int
    failed: int


@dataclass(frozen=True)
class Attempt:
    """One delivery attempt of an invitation (no personal data: error texts never hold any)."""

    at: datetime
    outcome: str
    sender: str = ""
    error: str | None = None
    duration_ms: int | None = None


def read_health(store: Store, *, now: datetime) -> Health:
    reports = store.reports
    sent, failed = reports.outcomes_since(now - RATIO_WINDOW)
    _, failed_hour = reports.outcomes_since(now - timedelta(hours=1))
    return Health(now=now, oldest_undelivered=reports.oldest_undelivered(), last_success=reports.last_sent(),
                  failures_last_hour=failed_hour, attempts_window=sent + failed, failures_window=failed)


def hours(store: Store, *, now: datetime, count: int) -> list[Hour]:
    """Sent and failed deliveries in each of the last ``count`` hours, oldest first."""
    sent = store.reports.deliveries_per_hour(now=now, hours=count)
    failed = store.reports.failures_per_hour(now=now, hours=count)
    return [Hour(start, done, failures) for (start, done), (_, failures) in zip(sent, failed, strict=True)]


def history(store: Store, invitation_id: int) -> Sequence[Attempt]:
    """The attempts of one invitation, oldest first. Before the deliveries table, only its last outcome is known."""
    row = store.reports.get(invitation_id)
    if row is None:
        return []
    if row.sent_at is not None:
        return [Attempt(at=row.sent_at, outcome="sent")]
    if row.last_error is not None:
        return [Attempt(at=row.updated_at, outcome="failed", error=row.last_error)]
    return []
