"""The status report (``receiver.status``): one copy for ``receiver status`` and the console's overview."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from receiver.status import Status, age, read_status, status_lines
from receiver.store import ErrorRow

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


class FakeReports:
    """The reads the report makes, with fixed answers; ``calls`` records which were made."""

    def __init__(self, oldest: datetime | None = None, errors: list[ErrorRow] | None = None):
        self.oldest, self.errors, self.calls = oldest, errors or [], []

    def counts(self) -> dict[str, int]:
        self.calls.append("counts")
        return {"pending": 2, "sent": 7, "dead": 1}

    def due_count(self, *, now: datetime) -> int:
        return 2

    def oldest_due(self, *, now: datetime) -> datetime | None:
        return self.oldest

    def last_errors(self, limit: int = 5) -> list[ErrorRow]:
        self.calls.append(f"last_errors({limit})")
        return self.errors

    def deliveries_per_hour(self, *, now: datetime, hours: int = 24) -> list[tuple[datetime, int]]:
        self.calls.append(f"deliveries_per_hour({hours})")
        return [(now - timedelta(hours=hours - 1 - index), index % 3) for index in range(hours)]


@pytest.mark.parametrize(("seconds", "text"), [
    (0, "0s"), (-5, "0s"), (40, "40s"), (60, "1m 0s"), (302, "5m 2s"), (3600 * 3 + 300, "3h 5m"),
    (86400 * 2 + 3600 * 3 + 59, "2d 3h"), (5400, "1h 30m"),
])
def test_age_is_the_two_largest_units(seconds, text):
    assert age(timedelta(seconds=seconds)) == text


def test_the_report_reads_the_queue_and_formats_the_lines_of_receiver_status():
    error = ErrorRow(id=4, state="dead", attempts=3, last_error="550 mailbox unavailable", updated_at=NOW)
    reports = FakeReports(oldest=NOW - timedelta(hours=2, minutes=5), errors=[error])
    status = read_status(reports, now=NOW)
    assert (status.due, status.oldest_wait, status.deliveries, status.sent) == (2, timedelta(hours=2, minutes=5), (), 0)
    assert "deliveries_per_hour(24)" not in reports.calls and "last_errors(5)" in reports.calls
    assert status_lines(status) == [
        "invitations by state:", "  pending    2", "  sent       7", "  dead       1",
        "oldest due invitation: waiting 2h 5m",
        "last errors:", "  #4 dead after 3 attempt(s) at 2026-11-20 12:00:00Z: 550 mailbox unavailable"]


def test_nothing_due_and_no_errors_say_so():
    lines = status_lines(read_status(FakeReports(), now=NOW))
    assert lines[-2:] == ["oldest due invitation: none due", "last errors: none"]


def test_deliveries_per_hour_are_read_when_asked_for_and_summed():
    status = read_status(FakeReports(), now=NOW, deliveries_hours=24)
    assert len(status.deliveries) == 24 and status.deliveries[-1][0] == NOW
    assert status.sent == sum(index % 3 for index in range(24))
    assert isinstance(status, Status)
