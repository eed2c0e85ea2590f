"""The ``metrics`` part: what a scrape of ``/metrics`` costs with a million stored invitations, on SQLite and
PostgreSQL, against what computing the queue's gauges on every scrape costs (what a scrape did before issue 17,
and what the one process that refreshes the shared snapshot pays every 15 s), with the query plans; and what
16 scrapers do to intake's latency (``receiver serve`` under load, with and without them, in alternating turns):
16 scraping once a second each (a far busier Prometheus than most), and, for the record, 16 scraping back to
back (hundreds a second: no longer a monitor but a load of its own, which takes CPU from intake as any would)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

import requests

from .delivery import fill
from .harness import (
    RECEIVER,
    Setup,
    alternating,
    keys_environ,
    metrics_client,
    percentile,
    query_plans,
    ratio,
    reset_postgres,
    server,
)
from .load import ROUNDS, Load, combined, load_against
from .report import Report, fmt_ms

SCRAPERS = 16
SCRAPE_INTERVAL = 1.0  # seconds between one scraper's scrapes


def timed(action: Callable[[], object], rounds: int) -> list[float]:
    found = []
    for _ in range(rounds):
        started = time.perf_counter()
        action()
        found.append(time.perf_counter() - started)
    return found


def scrape_cost(setup: Setup, report: Report, database: str, label: str, size: int) -> None:
    took = fill(database, size - 1000, state="sent") + fill(database, 1000, state="pending", start=size)
    report.note(f"metrics, {label}: stored {size:,} invitations (1,000 due) in {took:.0f}s")
    with metrics_client(database, setup.workdir) as (client, store):
        if store.dialect == "postgresql":  # what autovacuum does in time: the visibility map for index-only scans
            with store.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.exec_driver_sql("VACUUM ANALYZE invitations")
        now = datetime.now(UTC)
        compute = timed(lambda: store.gauges.compute(now=now), 5)
        assert client.get("/metrics").status_code == 200  # the first scrape computes the snapshot
        scrapes = timed(lambda: client.get("/metrics"), 50 if setup.quick else 300)
        for plan in query_plans(store, lambda: store.gauges.compute(now=now)):
            report.note(f"metrics, {label}, plan: {plan}")
    median = percentile(scrapes, 0.5)
    before = percentile(compute, 0.5)
    report.add("metrics", f"{label}, {size:,} rows: a scrape (median; p99 {fmt_ms(percentile(scrapes, 0.99))})",
               fmt_ms(median), fmt_ms(before) + " computed", f"{ratio(median, before):.3f}", "< 5 ms", median < 0.005)
    report.note(f"metrics, {label}: the refresh, every 15 s by one process, costs {fmt_ms(before)} (median of 5)")


@contextmanager
def scrapers(url: str, count: int, interval: float) -> Iterator[list[int]]:
    """``count`` threads scraping ``url``/metrics, each every ``interval`` seconds (spread over it; 0: back to
    back) until the block ends; yields the running tally."""
    done = [0]
    stop = threading.Event()

    def scrape(number: int) -> None:
        stop.wait(interval * number / count)
        with requests.Session() as session:
            while not stop.is_set():
                session.get(f"{url}/metrics", timeout=10)
                done[0] += 1
                stop.wait(interval)

    threads = [threading.Thread(target=scrape, args=(number,), daemon=True) for number in range(count)]
    for thread in threads:
        thread.start()
    try:
        yield done
    finally:
        stop.set()
        for thread in threads:
            thread.join(15)


def intake_with_scrapers(setup: Setup, report: Report, database: str, label: str) -> None:
    environ = keys_environ(database, setup.workdir)
    scraped = {SCRAPE_INTERVAL: [0], 0.0: [0]}

    def with_scrapers(interval: float) -> Load:
        with scrapers(url, SCRAPERS, interval) as done:
            result = load_against(setup, url, f"{label}-scraped-{interval:g}")
        scraped[interval][0] += done[0]
        return result

    with server(RECEIVER, environ, setup.workdir, setup.workers) as url:
        calm_runs, paced_runs, flood_runs = alternating(
            ROUNDS, lambda: load_against(setup, url, f"{label}-calm"), lambda: with_scrapers(SCRAPE_INTERVAL),
            lambda: with_scrapers(0.0))
    calm, paced, flood = combined(calm_runs), combined(paced_runs), combined(flood_runs)
    what = f"{SCRAPERS} scrapers, each every {SCRAPE_INTERVAL:g} s"
    report.add("metrics", f"{label}: intake p50, {what}", fmt_ms(paced.p50), fmt_ms(calm.p50) + " none",
               f"{ratio(paced.p50, calm.p50):.2f}", "≤ 1.25 (noise)", ratio(paced.p50, calm.p50) <= 1.25)
    report.add("metrics", f"{label}: intake p99, {what}", fmt_ms(paced.p99), fmt_ms(calm.p99) + " none",
               f"{ratio(paced.p99, calm.p99):.2f}")
    report.add("metrics", f"{label}: intake p50, {SCRAPERS} scrapers back to back", fmt_ms(flood.p50),
               fmt_ms(calm.p50) + " none", f"{ratio(flood.p50, calm.p50):.2f}")
    report.note(f"metrics, {label}: scrapes answered during the loaded turns: {scraped[SCRAPE_INTERVAL][0]:,} paced, "
                f"{scraped[0.0][0]:,} back to back")


def bench_scrape(setup: Setup, report: Report) -> None:
    size = 100_000 if setup.quick else 1_000_000
    print(f"metrics: a scrape with {size:,} stored invitations, against computing the gauges per scrape; intake "
          f"with {SCRAPERS} scrapers", flush=True)
    sqlite_url = f"sqlite:///{setup.workdir / 'metrics.db'}"
    scrape_cost(setup, report, sqlite_url, "SQLite", size)
    intake_with_scrapers(setup, report, sqlite_url, "SQLite")
    if setup.postgres:
        reset_postgres(setup.postgres)
        scrape_cost(setup, report, setup.postgres, "PostgreSQL", size)
        intake_with_scrapers(setup, report, setup.postgres, "PostgreSQL")
