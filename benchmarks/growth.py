"""Part 5, growth: intake and delivery again with finished invitations already stored (and with none once more
at the end, to show the machine's drift): each rate, as a share of its baseline, should not fall as the table grows."""

from __future__ import annotations

import statistics

from .delivery import deliver, fill, fill_due, sink_rate
from .harness import Setup, ratio, reset_postgres
from .intake import intake_pair
from .report import Report, fmt_rate


def growth_sizes(quick: bool) -> tuple[int, ...]:
    # the empty table is measured first and last, so that the machine's drift over the run shows beside growth
    return (0, 10_000, 100_000, 0) if quick else (0, 10_000, 1_000_000, 0)


def measure_size(setup: Setup, report: Report, sink_url: str, size: int, due: int) -> tuple[float, float]:
    """With ``size`` sent invitations stored: intake's and delivery's rates, each as a share of its baseline."""
    database = setup.postgres or ""
    reset_postgres(database)
    if size:
        took = fill(database, size, state="sent")
        report.note(f"growth: stored {size:,} sent invitations in {took:.1f}s")
    ours, bare = intake_pair(setup, report, database, f"PostgreSQL, {size:,} stored", "growth", before=size)
    fill_due(database, due)
    sink_max = sink_rate(sink_url, 1, 2000 if setup.quick else 5000)
    result = deliver(setup, database, 1, due, sink_url)
    report.add("growth", f"{size:,} stored: 1 worker, invitations/s", fmt_rate(result.rate),
               fmt_rate(sink_max) + " sink", f"{ratio(result.rate, sink_max):.2f}", "≥ 500/s", result.rate >= 500)
    return ratio(ours.rate, bare.rate), ratio(result.rate, sink_max)


def bench_growth(setup: Setup, report: Report, sink_url: str) -> None:
    sizes = growth_sizes(setup.quick)
    due = 2000 if setup.quick else 10_000
    print(f"5. growth: intake and delivery with {', '.join(f'{n:,}' for n in sizes)} invitations already stored "
          "(state sent), PostgreSQL", flush=True)
    intake_share: dict[int, list[float]] = {}  # per size: our rate as a share of its baseline's, measured beside it
    delivery_share: dict[int, list[float]] = {}
    for size in sizes:
        intake, delivery = measure_size(setup, report, sink_url, size, due)
        intake_share.setdefault(size, []).append(intake)
        delivery_share.setdefault(size, []).append(delivery)
    for size in sorted(set(sizes) - {0}):
        for what, share in (("intake", intake_share), ("delivery", delivery_share)):
            empty = statistics.mean(share[0])
            value = ratio(share[size][0], empty)
            report.add("growth", f"{what} with {size:,} stored vs none (share of baseline)", f"{share[size][0]:.2f}",
                       f"{empty:.2f} (mean of 2)", f"{value:.2f}", "≥ 0.8 (no growth)", value >= 0.8)
