"""Part 2, intake over HTTP: ``receiver serve`` storing the seed event against a bare Flask endpoint that only
answers 200, under the same gunicorn options and the same load, in alternating turns, on SQLite and PostgreSQL."""

from __future__ import annotations

from sqlalchemy import func, select

from .harness import Setup, alternating, keys_environ, opened_outbox, ratio, reset_postgres, server
from .load import ROUNDS, Load, combined, load_against
from .report import Report, fmt_ms, fmt_rate


def count_rows(database: str) -> int:
    """How many invitations ``database`` holds."""
    with opened_outbox(database) as outbox, outbox.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(outbox.invitations)).scalar() or 0)


def intake_pair(setup: Setup, report: Report, database: str, label: str, section: str = "intake",
                before: int = 0) -> tuple[Load, Load]:
    """The bare endpoint, then the receiver, under the same gunicorn options and the same load."""
    environ = keys_environ(database, setup.workdir)
    with server("bare", environ, setup.workdir, setup.workers) as bare_url, \
            server("receiver", environ, setup.workdir, setup.workers) as url:
        # both up at once, loaded in turn: the machine's noise falls on both alike
        bare_runs, our_runs = alternating(ROUNDS, lambda: load_against(setup, bare_url, "bare"),
                                          lambda: load_against(setup, url, label))
    bare, ours = combined(bare_runs), combined(our_runs)
    stored = count_rows(database) - before
    ok = ours.requests - ours.failed
    if ours.failed or bare.failed:
        report.note(f"{label}: {ours.failed} failed requests (receiver), {bare.failed} (bare)")
    if stored < ok:
        report.note(f"{label}: only {stored} rows stored for {ok} answered requests: NOT durable")
    tool = "" if ours.tool == "wrk" else f" [{ours.tool}]"
    throughput = ratio(ours.rate, bare.rate)
    report.add(section, f"{label}: events/s{tool} ({stored:,} stored)", fmt_rate(ours.rate), fmt_rate(bare.rate),
               f"{throughput:.2f}", "≥ 0.5 × bare", throughput >= 0.5)
    report.add(section, f"{label}: p50 latency", fmt_ms(ours.p50), fmt_ms(bare.p50), f"{ratio(ours.p50, bare.p50):.2f}")
    report.add(section, f"{label}: p99 latency", fmt_ms(ours.p99), fmt_ms(bare.p99), f"{ratio(ours.p99, bare.p99):.2f}",
               "p99 < 100 ms", ours.p99 < 0.1)
    return ours, bare


def bench_intake(setup: Setup, report: Report) -> None:
    print(f"2. intake over HTTP: receiver serve against a bare Flask endpoint, {setup.workers} gunicorn workers, "
          f"{setup.connections} connections, {setup.seconds:.0f}s each in {ROUNDS} alternating turns", flush=True)
    sqlite_url = f"sqlite:///{setup.workdir / 'intake.db'}"
    intake_pair(setup, report, sqlite_url, "SQLite")
    if setup.postgres:
        reset_postgres(setup.postgres)
        intake_pair(setup, report, setup.postgres, "PostgreSQL")
