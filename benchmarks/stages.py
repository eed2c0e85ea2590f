"""The ``stages`` part, in process: one accepted message through the receiver's WSGI app against the bare Flask app
plus the raw driver's write of the same row, where the message's time goes stage by stage (auth, body, JSON,
schema, rules, store, response, logging, metrics, and Flask with the rest), and a message in a 1,000-message batch
against a single request; on SQLite and PostgreSQL.

Each database is measured in a helper process of its own (``python -m benchmarks _stages URL COUNT ROUNDS``), with
the metrics in multiprocess mode and the log lines formatted and written (to /dev/null), as a ``receiver serve``
worker has them. No server, no socket: the figures are the app's own CPU, which is what decides its share of a
server's rate. The sides are timed in alternating rounds; each figure is the median of its rounds.
"""

from __future__ import annotations

import io
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .harness import (
    API_KEY,
    SEED,
    Setup,
    alternating,
    basic_auth,
    helper_command,
    helper_environ,
    keys_environ,
    ratio,
    reset_postgres,
)
from .load import order_event
from .report import Report

BATCH = 1000
ORDER = ("auth", "body", "JSON", "schema", "rules", "store", "response", "logging", "metrics")
REST = "Flask and the rest"


def _environ(body: bytes, authorization: str) -> dict[str, Any]:
    """The WSGI environ of ``POST /segment`` with ``body``, as waitress hands it to the app."""
    return {"REQUEST_METHOD": "POST", "SCRIPT_NAME": "", "PATH_INFO": "/segment", "QUERY_STRING": "",
            "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "8000", "SERVER_PROTOCOL": "HTTP/1.1", "HTTP_HOST": "127.0.0.1",
            "REMOTE_ADDR": "127.0.0.1", "CONTENT_TYPE": "application/json", "CONTENT_LENGTH": str(len(body)),
            "HTTP_AUTHORIZATION": authorization, "wsgi.url_scheme": "http", "wsgi.input": io.BytesIO(body),
            "wsgi.errors": sys.stderr, "wsgi.version": (1, 0), "wsgi.multithread": True,
            "wsgi.multiprocess": True, "wsgi.run_once": False, "wsgi.input_terminated": True}


def _caller(app: Any, authorization: str) -> Callable[[bytes], None]:
    def call(body: bytes) -> None:
        statuses: list[str] = []
        for _ in app(_environ(body, authorization), lambda status, headers, exc=None: statuses.append(status)):
            pass
        if not statuses or not statuses[0].startswith("200"):
            raise RuntimeError(f"the app answered {statuses}")
    return call


class _Bodies:
    """Unique seed events, made before a round is timed."""

    def __init__(self, seed: dict[str, Any]):
        self.seed, self.made = seed, 0

    def events(self, count: int) -> list[dict[str, Any]]:
        self.made += count
        return [order_event(self.seed, f"stage-{time.time_ns()}-{n}") for n in range(self.made - count, self.made)]

    def singles(self, count: int) -> list[bytes]:
        return [json.dumps(event).encode() for event in self.events(count)]


_CLOCK = time.perf_counter  # ``_stages ... cpu``: this thread's CPU time instead, for a machine that is not quiet


def _per_item(action: Callable[[Any], None], items: list[Any]) -> float:
    started = _CLOCK()
    for item in items:
        action(item)
    return (_CLOCK() - started) / len(items)


class _RawWrite:
    """The driver's own INSERT ... ON CONFLICT DO NOTHING RETURNING of an invitation row and its commit, without
    SQLAlchemy: sqlite3 in WAL mode (synchronous=NORMAL, as the store has it), psycopg in autocommit."""

    COLUMNS = ("message_id", "domain", "ref", "order_key", "email", "name", "skus", "tags", "locale", "state",
               "attempts", "next_attempt_at", "ordered_at", "created_at", "updated_at")

    def __init__(self, url: str):
        self.sqlite = url.startswith("sqlite")
        if self.sqlite:
            import sqlite3

            self.conn: Any = sqlite3.connect(url.split("///", 1)[1], isolation_level=None)
            self.conn.execute("PRAGMA journal_mode=WAL")
            self.conn.execute("PRAGMA synchronous=NORMAL")
            mark = "?"
        else:
            import psycopg

            self.conn = psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"), autocommit=True)
            mark = "%s"
        self.sql = (f"INSERT INTO invitations ({', '.join(self.COLUMNS)}) VALUES ({', '.join([mark] * len(self.COLUMNS))})"
                    " ON CONFLICT DO NOTHING RETURNING message_id")

    def __call__(self, unique: str) -> None:
        now = datetime.now(UTC).replace(tzinfo=None)
        when: Any = now.isoformat(" ") if self.sqlite else now
        row = (f"raw-{unique}", "bench.example.com", f"R-{unique}", f"R-{unique}", "test@example.com", "John Johnson",
               '["45790-32", "46493-32"]', "[]", "en-US", "pending", 0, when, when, when, when)
        if self.sqlite:
            self.conn.execute("BEGIN IMMEDIATE")
            self.conn.execute(self.sql, row).fetchall()
            self.conn.execute("COMMIT")
        else:
            self.conn.execute(self.sql, row).fetchall()

    def close(self) -> None:
        self.conn.close()


def stages_main(database: str, count: str, rounds: str, clock: str = "wall") -> None:
    """``python -m benchmarks _stages URL COUNT ROUNDS [cpu]``: one JSON line of microseconds (see ``measure``)."""
    global _CLOCK
    if clock == "cpu":
        _CLOCK = time.thread_time
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="receiver-bench-metrics-")  # as serve sets it
    with tempfile.TemporaryDirectory(prefix="receiver-bench-stages-") as folder:
        print(json.dumps(measure(database, Path(folder), int(count), int(rounds))))


def measure(database: str, workdir: Path, count: int, rounds: int) -> dict[str, Any]:
    from .harness import bare_app, sqlalchemy_url, stage_timers, wsgi_receiver

    seed = json.loads(SEED.read_text(encoding="utf-8"))
    authorization = basic_auth(API_KEY)
    bodies = _Bodies(seed)
    bare = _caller(bare_app(), authorization)
    with wsgi_receiver(database, workdir) as (app, _store):
        ours = _caller(app, authorization)
        raw = _RawWrite(sqlalchemy_url(database))
        try:
            for body in bodies.singles(100):  # warm up: connections, caches, compiled statements
                ours(body)
                bare(body)
                raw(f"warm-{time.time_ns()}")
            singles, bares, raws = alternating(
                rounds,
                lambda: _per_item(ours, bodies.singles(count)),
                lambda: _per_item(bare, bodies.singles(count)),
                lambda: _per_item(raw, [f"{time.time_ns()}-{n}" for n in range(count)]))
        finally:
            raw.close()
        batches = [_per_item(ours, [json.dumps(bodies.events(BATCH)).encode()]) / BATCH for _ in range(3)]
        timed_bodies = bodies.singles(count)
        with stage_timers(_CLOCK) as totals:
            whole = _per_item(ours, timed_bodies)
    stages = {stage: seconds / count * 1e6 for stage, seconds in totals.items()}
    stages[REST] = max(0.0, whole * 1e6 - sum(stages.values()))
    return {"single_us": statistics.median(singles) * 1e6, "bare_us": statistics.median(bares) * 1e6,
            "raw_us": statistics.median(raws) * 1e6, "batch_us": statistics.median(batches) * 1e6,
            "timed_us": whole * 1e6, "stages_us": stages}


def _us(value: float) -> str:
    return f"{value:,.0f} µs" if value >= 10 else f"{value:.1f} µs"


def bench_stages(setup: Setup, report: Report) -> None:
    count, rounds = (300, 3) if setup.quick else (1000, 5)
    print(f"8. in process: one accepted message through the WSGI app against the bare app plus the raw driver's "
          f"write, stage by stage, and in a {BATCH:,}-message batch ({rounds} alternating rounds of {count:,})",
          flush=True)
    found = [("SQLite", f"sqlite:///{setup.workdir / 'stages.db'}")]
    if setup.postgres:
        found.append(("PostgreSQL", setup.postgres))
    for label, database in found:
        if database == setup.postgres:
            reset_postgres(database)
        result = subprocess.run(helper_command("_stages", database, count, rounds),
                                env=helper_environ(keys_environ(database, setup.workdir)), capture_output=True,
                                text=True, timeout=900, check=False)
        if result.returncode != 0:
            report.note(f"stages, {label}: the helper failed: {result.stderr.strip().splitlines()[-1:]}")
            continue
        figures = json.loads(result.stdout.strip().splitlines()[-1])
        report_stages(report, label, figures)


def report_stages(report: Report, label: str, figures: dict[str, Any]) -> None:
    single, bare, raw = figures["single_us"], figures["bare_us"], figures["raw_us"]
    allowed = ratio(single, bare + raw)
    report.add("stages", f"{label}: one accepted message, in process", _us(single),
               f"{_us(bare + raw)} (bare {_us(bare)} + raw write {_us(raw)})", f"{allowed:.2f}",
               "≤ 3 × (bare + raw write)", allowed <= 3)
    timed = figures["timed_us"]
    for stage in (*ORDER, REST):
        spent = figures["stages_us"][stage]
        report.add("stages", f"{label}: {stage}", _us(spent), f"{_us(timed)} timed", f"{ratio(spent, timed):.2f}")
    batch = figures["batch_us"]
    report.add("stages", f"{label}: a message in a {BATCH:,} batch vs single, in process", _us(batch), _us(single),
               f"{ratio(batch, single):.3f}")
