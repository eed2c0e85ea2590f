"""Part 4, delivery: ``receiver worker --once`` processes (``SENDER=http``) draining due invitations to a local
HTTP sink in its own process, one worker then two, on PostgreSQL, against the sink's own maximum rate measured
right before with as many client processes running the same HTTP sender."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import func, insert, select, update

from .harness import (
    CALLBACK_SECRET,
    DOMAIN,
    ROOT,
    Setup,
    first_line,
    helper_command,
    helper_environ,
    http_sender_and_invitation,
    keys_environ,
    opened_outbox,
    ratio,
    receiver_command,
    reset_postgres,
    stop,
    wait_all,
)
from .report import Report, fmt_rate

DRAIN_TIMEOUT = 300.0  # seconds for the workers (or the sink's clients) to finish a drain
FILL_CHUNK = 20_000


# -- the stored invitations -----------------------------------------------------------------------------------

def fill(database: str, count: int, *, state: str, start: int = 0) -> float:
    """Insert ``count`` invitations in ``state`` through the store's table definition; seconds taken."""
    with opened_outbox(database) as outbox:
        now = datetime.now(UTC)
        started = time.perf_counter()
        with outbox.engine.begin() as conn:
            for first in range(start, start + count, FILL_CHUNK):
                rows = [{"message_id": f"fill-{n}", "domain": DOMAIN, "ref": f"R-{n}", "order_key": f"R-{n}",
                         "email": f"customer{n}@example.com", "name": "Jane Roe", "skus": ["SKU-1"],
                         # keyed as intake keys them: a row without its key is one from before address keys,
                         # which every `receiver db upgrade` would give one, a million single-row updates
                         "address_key": outbox.address_key(f"customer{n}@example.com"),
                         "tags": ["segment"], "locale": "en-GB", "state": state, "attempts": 1 if state != "pending" else 0,
                         "next_attempt_at": now - timedelta(seconds=1), "created_at": now, "updated_at": now,
                         "sent_at": now if state == "sent" else None}
                        for n in range(first, min(first + FILL_CHUNK, start + count))]
                conn.execute(insert(outbox.invitations), rows)
            if outbox.dialect == "postgresql":
                conn.exec_driver_sql("ANALYZE invitations")
        return time.perf_counter() - started


def fill_due(database: str, count: int) -> None:
    """``count`` pending invitations, due now, named ``due-*`` (see ``deliver``); what intake stored before
    is marked sent first, so that the due queue holds exactly these."""
    with opened_outbox(database) as outbox:
        table = outbox.invitations
        with outbox.engine.begin() as conn:
            conn.execute(update(table).where(table.c.state == "pending").values(state="sent"))
        fill(database, count, state="pending", start=10_000_000)
        with outbox.engine.begin() as conn:
            conn.execute(update(table).where(table.c.state == "pending").values(message_id="due-" + table.c.message_id))


def sent_due(database: str) -> tuple[int, float]:
    """How many ``due-*`` invitations are sent, and the seconds from the first ``sent_at`` to the last."""
    with opened_outbox(database) as outbox, outbox.engine.connect() as conn:
        table = outbox.invitations
        sent, first, last = conn.execute(
            select(func.count(), func.min(table.c.sent_at), func.max(table.c.sent_at))
            .where(table.c.state == outbox.sent, table.c.message_id.like("due-%"))).one()
    return int(sent), (last - first).total_seconds() if first and last else 0.0


# -- the sink and its maximum rate ------------------------------------------------------------------------------

@contextmanager
def sink_process(workdir: Path) -> Iterator[str]:
    """The tests' HTTP sink (tests/support/sink.py) in a process of its own, stopped afterwards; its URL."""
    process = subprocess.Popen(helper_command("_sink"), env=helper_environ(), stdout=subprocess.PIPE,
                               stdin=subprocess.PIPE, cwd=workdir)
    try:
        url = first_line(process, timeout=30)
        if not url.startswith("http://127.0.0.1:"):
            raise RuntimeError("the sink did not start")
        yield url
    finally:
        assert process.stdin is not None
        process.stdin.close()
        stop(process)


def sink_main() -> None:
    sys.path.insert(0, str(ROOT / "tests"))
    from support.sink import Sink

    with Sink() as sink:
        print(sink.url, flush=True)
        sys.stdin.read()  # until the benchmark closes our stdin


def sink_rate(url: str, clients: int, count: int) -> float:
    """The sink's own maximum rate for ``clients`` processes sending with the real HTTP sender."""
    processes = [subprocess.Popen(helper_command("_send", url, count), env=helper_environ(), stdout=subprocess.PIPE,
                                  text=True) for _ in range(clients)]
    try:
        results = [json.loads(p.communicate(timeout=DRAIN_TIMEOUT)[0].strip().splitlines()[-1]) for p in processes]
    finally:
        for process in processes:
            stop(process)
    start = min(r["start"] for r in results)
    end = max(r["end"] for r in results)
    return sum(r["count"] for r in results) / (end - start)


def send_main(url: str, count: str) -> None:
    sender, invitation = http_sender_and_invitation(url)
    for _ in range(20):
        sender.send(invitation(1))
    start = time.time()
    for n in range(int(count)):
        sender.send(invitation(n + 2))
    end = time.time()
    sender.close()
    print(json.dumps({"count": int(count), "start": start, "end": end}))


# -- the workers ------------------------------------------------------------------------------------------------

@dataclass
class Delivery:
    count: int
    rate: float  # from the first to the last sent_at
    wall: float  # from starting the processes until they exited


def deliver(setup: Setup, database: str, workers: int, count: int, sink_url: str) -> Delivery:
    """``receiver worker --once`` processes draining ``count`` due invitations to the sink."""
    environ = keys_environ(database, setup.workdir) | {"SENDER": "http", "CALLBACK_URL": sink_url,
                                                        "CALLBACK_SECRET": CALLBACK_SECRET}
    started = time.perf_counter()
    logs = [(setup.workdir / f"worker-{n}.log").open("wb") for n in range(workers)]
    processes = [subprocess.Popen([*receiver_command(), "worker", "--once"], env=environ, cwd=setup.workdir,
                                  stdout=log, stderr=log) for log in logs]
    try:
        wait_all(processes, DRAIN_TIMEOUT)
    finally:
        for process in processes:
            stop(process)
        for log in logs:
            log.close()
    wall = time.perf_counter() - started
    sent, span = sent_due(database)
    if sent != count:
        raise RuntimeError(f"only {sent} of {count} invitations were sent")
    return Delivery(count=sent, rate=sent / span if span else float("inf"), wall=wall)


def measured_delivery(setup: Setup, sink_url: str, workers: int, count: int) -> tuple[Delivery, float]:
    """Workers draining ``count`` invitations, and the sink's own maximum measured right before, with as
    many client processes as workers (side by side: the machine's load changes from minute to minute)."""
    reset_postgres(setup.postgres or "")
    fill_due(setup.postgres or "", count)
    sink_max = sink_rate(sink_url, workers, 2000 if setup.quick else 5000)
    return deliver(setup, setup.postgres or "", workers, count, sink_url), sink_max


def bench_delivery(setup: Setup, report: Report, sink_url: str) -> None:
    count = 2000 if setup.quick else 10_000
    print(f"4. delivery: receiver worker (SENDER=http) draining {count:,} invitations to a local sink, PostgreSQL",
          flush=True)
    for workers in (1, 2):
        result, sink_max = measured_delivery(setup, sink_url, workers, count)
        value = ratio(result.rate, sink_max)
        goal = ("≥ 500/s", result.rate >= 500) if workers == 1 else ("", None)
        report.add("delivery", f"{workers} worker(s): invitations/s (wall {result.wall:.1f}s)", fmt_rate(result.rate),
                   fmt_rate(sink_max) + " sink", f"{value:.2f}", *goal)
