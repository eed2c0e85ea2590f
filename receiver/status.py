"""The status report, one copy for ``receiver status`` and the console's overview: counts by state, the queue, the
oldest due invitation's wait, the last errors and deliveries per hour, read from the store's reports; delivery
health (the last successful delivery, the failures of the last hour and the failure ratio of the last 15 minutes,
the oldest undelivered invitation) from its deliveries; and their formatting. No personal data: error texts never
hold any, and nothing else here is about a customer."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:  # types only: the report reads what it is handed
    from .store import DeliverySummary, ErrorRow, Reports


class DeliveryHealth(Protocol):
    """What the report reads delivery health from (``store.deliveries``)."""

    def summary(self, now: datetime) -> DeliverySummary: ...

LAST_ERRORS = 5


@dataclass(frozen=True)
class Status:
    counts: dict[str, int]  # every state, in the store's order
    due: int  # invitations due now: the queue's depth
    oldest_wait: timedelta | None  # how long the longest-waiting due invitation has waited; None: nothing due
    errors: Sequence[ErrorRow]  # the newest failures first
    deliveries: Sequence[tuple[datetime, int]]  # (an hour's start, invitations sent in it), oldest hour first
    health: DeliverySummary | None = None  # delivery health; None when not read
    now: datetime | None = None  # when the figures were read

    @property
    def sent(self) -> int:
        """Invitations sent in the hours of ``deliveries``."""
        return sum(count for _, count in self.deliveries)


def read_status(reports: Reports, *, now: datetime, deliveries_hours: int = 0,
                deliveries: DeliveryHealth | None = None) -> Status:
    """The figures as of ``now``; deliveries per hour for the last ``deliveries_hours`` hours (none when 0, so that
    a report which does not show them does not count them); delivery health when ``deliveries`` is given."""
    oldest = reports.oldest_due(now=now)
    return Status(counts=reports.counts(), due=reports.due_count(now=now),
                  oldest_wait=now - oldest if oldest else None, errors=reports.last_errors(LAST_ERRORS),
                  deliveries=reports.deliveries_per_hour(now=now, hours=deliveries_hours) if deliveries_hours else (),
                  health=deliveries.summary(now) if deliveries is not None else None, now=now)


def age(delta: timedelta) -> str:
    """``2d 3h``, ``3h 5m``, ``5m 2s``, ``40s``: the two largest units (never negative)."""
    seconds = max(0, int(delta.total_seconds()))
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        amount, seconds = divmod(seconds, size)
        if amount or parts:
            parts.append(f"{amount}{unit}")
    return " ".join(parts[:2]) or "0s"


def status_lines(status: Status) -> list[str]:
    """The lines ``receiver status`` prints."""
    lines = ["invitations by state:"]
    lines += [f"  {state:<10} {count}" for state, count in status.counts.items()]
    waiting = f"waiting {age(status.oldest_wait)}" if status.oldest_wait is not None else "none due"
    lines.append(f"oldest due invitation: {waiting}")
    if status.health is not None and status.now is not None:
        lines += health_lines(status.health, status.now)
    lines.append("last errors:" if status.errors else "last errors: none")
    for row in status.errors:
        lines.append(f"  #{row.id} {row.state} after {row.attempts} attempt(s) at "
                     f"{row.updated_at:%Y-%m-%d %H:%M:%S}Z: {row.last_error}")
    return lines


def health_lines(health: DeliverySummary, now: datetime) -> list[str]:
    """Delivery health as ``receiver status`` prints it."""
    last = health.last_success
    lines = [f"last successful delivery: {last:%Y-%m-%d %H:%M:%S}Z ({age(now - last)} ago)" if last
             else "last successful delivery: never"]
    lines.append(f"failed delivery attempts in the last hour: {health.failures_last_hour}")
    if health.attempts_window:
        lines.append(f"failure ratio, last 15 minutes: {health.failure_ratio:.0%} "
                     f"({health.failures_window} of {health.attempts_window} attempts)")
    else:
        lines.append("failure ratio, last 15 minutes: no attempts")
    waited = health.undelivered_age(now)
    lines.append(f"oldest undelivered invitation: {age(waited)} ({health.undelivered} undelivered)" if waited
                 is not None else "oldest undelivered invitation: none")
    return lines
