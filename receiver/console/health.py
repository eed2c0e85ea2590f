"""Whether delivery is healthy, as the console shows it, and when that means "outage": the store's delivery summary
(``store.deliveries.summary``: the oldest undelivered invitation, the last successful delivery, the failures of
the last hour, the failure ratio of the last 15 minutes) judged by the thresholds of the shipped Prometheus alerts
(``deploy/prometheus/alerts.yml``), so that the banner and the page an operator gets say the same; the hours' sent
and failed attempts; one invitation's attempts.

The one place the console reads delivery figures from the store.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from ..status import age
from ..store import DeliveryRow, DeliverySummary, Store

# the thresholds of deploy/prometheus/alerts.yml (without their `for:`: the console shows the moment)
OUTAGE_AGE = timedelta(minutes=30)  # ReceiverInvitationsUndelivered
OUTAGE_STALLED = timedelta(minutes=5)  # ReceiverDeliveriesStalled
OUTAGE_RATIO = 0.5  # ReceiverDeliveryFailures: more than half of the last 15 minutes' attempts failed ...
OUTAGE_MIN_ATTEMPTS = 5  # ... out of at least this many


@dataclass(frozen=True)
class Health:
    summary: DeliverySummary
    now: datetime

    @property
    def last_success(self) -> datetime | None:
        return self.summary.last_success

    @property
    def failures_last_hour(self) -> int:
        return self.summary.failures_last_hour

    @property
    def undelivered(self) -> int:
        return self.summary.undelivered

    @property
    def failure_ratio(self) -> float | None:
        """None when nothing was attempted in the window (not "0 %": nothing says it is healthy)."""
        return self.summary.failure_ratio if self.summary.attempts_window else None

    @property
    def undelivered_age(self) -> timedelta | None:
        return self.summary.undelivered_age(self.now)

    def alarms(self) -> list[str]:
        """Why delivery looks broken, one sentence each; empty when it does not."""
        summary, found = self.summary, []
        waited = self.undelivered_age
        if waited is not None and waited > OUTAGE_AGE:
            found.append(f"The oldest undelivered invitation has waited {age(waited)} (more than "
                         f"{OUTAGE_AGE.seconds // 60} minutes).")
        stalled = summary.stalled(self.now)
        if stalled > OUTAGE_STALLED:
            found.append(f"Nothing has been delivered for {age(stalled)} while {summary.undelivered} "
                         f"invitation(s) wait.")
        ratio = self.failure_ratio
        if ratio is not None and ratio > OUTAGE_RATIO and summary.attempts_window >= OUTAGE_MIN_ATTEMPTS:
            found.append(f"{summary.failures_window} of the {summary.attempts_window} attempts of the last 15 minutes "
                         f"failed ({ratio:.0%}).")
        return found


@dataclass(frozen=True)
class Hour:
    start: datetime
    sent: int
    failed: int


def read_health(store: Store, *, now: datetime) -> Health:
    return Health(store.deliveries.summary(now), now)


def hours(store: Store, *, now: datetime, count: int) -> list[Hour]:
    """Attempts that delivered and attempts that failed in each of the last ``count`` hours, oldest first."""
    return [Hour(start, sent, failed) for start, sent, failed in store.reports.attempts_per_hour(now=now, hours=count)]


def history(store: Store, invitation_id: int) -> Sequence[DeliveryRow]:
    """The attempts of one invitation, oldest first."""
    return store.deliveries.history(invitation_id)
