"""Part 3, batches: one 1,000-message Actions batch against 1,000 single requests, one kept-alive client;
the cost per message."""

from __future__ import annotations

import json
import statistics
import time
from typing import Any

import requests

from .harness import API_KEY, Setup, basic_auth, keys_environ, ratio, reset_postgres, seconds_per_item, server
from .load import order_event
from .report import Report, fmt_ms

SIZE = 1000
BATCH_ATTEMPTS = 3


def databases(setup: Setup) -> list[tuple[str, str]]:
    """(label, DATABASE_URL) of every database this run measures on."""
    found = [("SQLite", f"sqlite:///{setup.workdir / 'batch.db'}")]
    if setup.postgres:
        found.append(("PostgreSQL", setup.postgres))
    return found


def single_seconds(session: requests.Session, url: str, seed: dict[str, Any], run: int) -> float:
    """Seconds per message, one request per message (after 20 warm-up requests)."""
    singles = [json.dumps(order_event(seed, f"single-{run}-{n}")) for n in range(SIZE)]
    for warm in range(20):
        session.post(url + "/segment", data=json.dumps(order_event(seed, f"warm-{run}-{warm}")))

    def post_all() -> None:
        for body in singles:
            response = session.post(url + "/segment", data=body, timeout=10)
            if response.status_code != 200 or response.json()["status"] != "accepted":
                raise RuntimeError(f"a single request got {response.status_code}")

    return seconds_per_item(post_all, SIZE)


def batch_seconds(session: requests.Session, url: str, seed: dict[str, Any], run: int) -> float:
    """Seconds per message in one batch of ``SIZE`` (the median of ``BATCH_ATTEMPTS`` batches)."""
    times = []
    for attempt in range(BATCH_ATTEMPTS):
        batch = json.dumps([order_event(seed, f"batch-{run}-{attempt}-{n}") for n in range(SIZE)])
        started = time.perf_counter()
        response = session.post(url + "/segment", data=batch, timeout=30)
        times.append(time.perf_counter() - started)
        if response.status_code != 200 or response.json()["accepted"] != SIZE:
            raise RuntimeError(f"the batch got {response.status_code}: {response.text[:200]}")
    return statistics.median(times) / SIZE


def bench_batches(setup: Setup, report: Report) -> None:
    print(f"3. batches: one {SIZE}-message Actions batch against {SIZE} single requests (one client, kept alive)",
          flush=True)
    for label, database in databases(setup):
        if database == setup.postgres:
            reset_postgres(database)
        environ = keys_environ(database, setup.workdir)
        with server("receiver", environ, setup.workdir, setup.workers) as url, requests.Session() as session:
            session.headers.update({"Authorization": basic_auth(API_KEY), "Content-Type": "application/json"})
            run = time.time_ns()
            single_s = single_seconds(session, url, setup.seed, run)
            batch_s = batch_seconds(session, url, setup.seed, run)
        value = ratio(batch_s, single_s)
        report.add("batch", f"{label}: per message, batch vs single", fmt_ms(batch_s), fmt_ms(single_s),
                   f"{value:.3f}", "≤ 0.05", value <= 0.05)
