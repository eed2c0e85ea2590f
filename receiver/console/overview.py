"""The overview: the status report (``receiver.status``, as ``receiver status`` prints it), a chart of deliveries
per hour, and the configuration in force with secrets masked."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ..config import describe
from ..status import age, read_status
from . import services
from .blueprint import console, page

CHART_HOURS = 24


@dataclass(frozen=True)
class Bar:
    x: int
    y: int
    height: int
    count: int
    label: str


def deliveries_chart(hours: Sequence[tuple[datetime, int]], width: int = 24, height: int = 120) -> list[Bar]:
    """The bars of the deliveries-per-hour chart: ``width`` pixels per hour, scaled to the busiest hour."""
    busiest = max((count for _, count in hours), default=0) or 1
    bars = []
    for index, (start, count) in enumerate(hours):
        bar = round(count * height / busiest)
        bars.append(Bar(x=index * width, y=height - bar, height=bar, count=count, label=start.strftime("%H:00")))
    return bars


@console.get("")
def overview() -> Any:
    status = read_status(services.store().reports, now=services.now(), deliveries_hours=CHART_HOURS)
    return page("overview.html", counts=status.counts, due=status.due, errors=status.errors,
                oldest_age=age(status.oldest_wait) if status.oldest_wait is not None else None,
                bars=deliveries_chart(status.deliveries), sent_24h=status.sent,
                configuration=describe(services.settings().environ))
