"""The overview's chart of deliveries per hour, as numbers for a server-rendered SVG: a bar per hour (sent below,
failed stacked on it), a y axis with round ticks, and labels placed inside the picture.

Hand-written rather than a charting library: the page runs no script (its Content-Security-Policy allows none)
and 24 rectangles and a few lines of text are all there is to draw.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

LEFT, RIGHT, TOP, BOTTOM = 36, 10, 18, 24  # room for the axis labels, and for the count above the tallest bar
BAR = 22  # pixels per hour
PLOT = 150  # pixels of the tallest tick
LABEL_EVERY = 3  # hours between two time labels (every other one is hidden on a narrow screen)


@dataclass(frozen=True)
class Bar:
    x: float  # the bar's left edge
    centre: float
    sent_y: float
    sent_height: float
    failed_y: float
    failed_height: float
    sent: int
    failed: int
    hour: str  # "HH:00"
    label: str  # the hour, or "" where no time label is written
    minor: bool  # a time label hidden on a narrow screen

    @property
    def total(self) -> int:
        return self.sent + self.failed

    @property
    def top(self) -> float:
        return self.failed_y if self.failed else self.sent_y


@dataclass(frozen=True)
class Tick:
    y: float
    value: int


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    left: int
    base: int  # the y of the x axis
    bars: Sequence[Bar]
    ticks: Sequence[Tick]

    @property
    def sent(self) -> int:
        return sum(bar.sent for bar in self.bars)

    @property
    def failed(self) -> int:
        return sum(bar.failed for bar in self.bars)


def axis_top(busiest: int) -> int:
    """The smallest of 1, 2, 5, 10, 20, 50, ... at or above ``busiest`` (at least 1): the axis's last tick."""
    step = 1
    while True:
        for factor in (1, 2, 5):
            if step * factor >= busiest:
                return step * factor
        step *= 10


def deliveries_chart(hours: Sequence[tuple[datetime, int, int]]) -> Chart:
    """The chart of ``hours``: (an hour's start, sent, failed), oldest first."""
    top = axis_top(max((sent + failed for _, sent, failed in hours), default=0))
    base = TOP + PLOT

    def height(count: int) -> float:
        return round(count * PLOT / top, 1)

    bars = []
    for index, (start, sent, failed) in enumerate(hours):
        x = LEFT + index * BAR
        sent_height, failed_height = height(sent), height(failed)
        labelled = index % LABEL_EVERY == 0
        bars.append(Bar(x=x, centre=x + BAR / 2, sent_y=base - sent_height, sent_height=sent_height,
                        failed_y=base - sent_height - failed_height, failed_height=failed_height, sent=sent,
                        failed=failed, hour=start.strftime("%H:00"), label=start.strftime("%H:00") if labelled else "",
                        minor=labelled and index % (2 * LABEL_EVERY) != 0))
    values = sorted({0, top // 2, top}) if top % 2 == 0 else [0, top]
    ticks = [Tick(y=base - height(value), value=value) for value in values]
    return Chart(width=LEFT + len(hours) * BAR + RIGHT, height=base + BOTTOM, left=LEFT, base=base, bars=bars,
                 ticks=ticks)
