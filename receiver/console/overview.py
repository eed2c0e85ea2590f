"""The overview: whether delivery is healthy (an outage banner when it is not), the status report
(``receiver.status``, as ``receiver status`` prints it), a chart of deliveries per hour, and the configuration in
force with secrets masked."""

from __future__ import annotations

from typing import Any

from ..config import describe
from ..status import age, read_status
from ..store import DEAD
from . import health, services
from .blueprint import console, page
from .chart import deliveries_chart

CHART_HOURS = 24


@console.get("")
def overview() -> Any:
    store, now = services.store(), services.now()
    status = read_status(store.reports, now=now)
    found = health.read_health(store, now=now)
    hours = health.hours(store, now=now, count=CHART_HOURS)
    alarms = found.alarms()
    return page("overview.html", counts=status.counts, due=status.due, errors=status.errors, health=found,
                alarms=alarms, age=age,
                oldest_due=age(status.oldest_wait) if status.oldest_wait is not None else None,
                chart=deliveries_chart([(hour.start, hour.sent, hour.failed) for hour in hours]),
                bad_states=(DEAD,), configuration=describe(services.settings().environ))
