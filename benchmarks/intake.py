"""Part 2, intake over HTTP: ``receiver serve`` storing the seed event against a bare Flask endpoint that only
answers 200, under the same gunicorn options and the same load, in alternating turns, on SQLite and PostgreSQL;
and (``intake`` itself, not ``growth``) against the receiver under the server it had before issue 17 (gthread),
in the same turns, so that the server's cost is measured within one run."""

from __future__ import annotations

from contextlib import ExitStack

from sqlalchemy import func, select

from .harness import (
    BARE,
    GTHREAD,
    RECEIVER,
    Setup,
    alternating,
    keys_environ,
    opened_outbox,
    ratio,
    reset_postgres,
    server,
    server_description,
)
from .load import ROUNDS, Load, combined, load_against
from .report import Report, fmt_ms, fmt_rate

P99_GOAL = {"intake": 0.05}  # seconds (issue 16); growth keeps its 100 ms


def count_rows(database: str) -> int:
    """How many invitations ``database`` holds."""
    with opened_outbox(database) as outbox, outbox.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(outbox.invitations)).scalar() or 0)


def intake_pair(setup: Setup, report: Report, database: str, label: str, section: str = "intake",
                before: int = 0, against_gthread: bool = False) -> tuple[Load, Load]:
    """The bare endpoint, then the receiver, under the same gunicorn options and the same load (and with
    ``against_gthread`` the receiver under gthread as a third side)."""
    environ = keys_environ(database, setup.workdir)
    kinds = (BARE, RECEIVER, GTHREAD) if against_gthread else (BARE, RECEIVER)
    with ExitStack() as stack:
        # all up at once, loaded in turn: the machine's noise falls on every side alike
        urls = [stack.enter_context(server(kind, environ, setup.workdir, setup.workers)) for kind in kinds]
        runs = alternating(ROUNDS, *(lambda url=url, kind=kind: load_against(setup, url, f"{label}-{kind}")
                                     for url, kind in zip(urls, kinds, strict=True)))
    bare, ours = combined(runs[0]), combined(runs[1])
    stored = count_rows(database) - before
    ok = ours.requests - ours.failed + (sum(r.requests - r.failed for r in runs[2]) if against_gthread else 0)
    if ours.failed or bare.failed:
        report.note(f"{label}: {ours.failed} failed requests (receiver), {bare.failed} (bare)")
    if stored < ok:
        report.note(f"{label}: only {stored} rows stored for {ok} answered requests: NOT durable")
    tool = "" if ours.tool == "wrk" else f" [{ours.tool}]"
    throughput = ratio(ours.rate, bare.rate)
    report.add(section, f"{label}: events/s{tool} ({stored:,} stored)", fmt_rate(ours.rate), fmt_rate(bare.rate),
               f"{throughput:.2f}", "≥ 0.5 × bare", throughput >= 0.5)
    report.add(section, f"{label}: p50 latency", fmt_ms(ours.p50), fmt_ms(bare.p50), f"{ratio(ours.p50, bare.p50):.2f}")
    p99_goal = P99_GOAL.get(section, 0.1)
    report.add(section, f"{label}: p99 latency", fmt_ms(ours.p99), fmt_ms(bare.p99), f"{ratio(ours.p99, bare.p99):.2f}",
               f"p99 < {p99_goal * 1000:.0f} ms", ours.p99 < p99_goal)
    if against_gthread:
        old = combined(runs[2])
        kept = ratio(ours.rate, old.rate)
        report.add(section, f"{label}: events/s, this server vs gthread (before 17)", fmt_rate(ours.rate),
                   fmt_rate(old.rate), f"{kept:.2f}", "≥ 0.9 × gthread", kept >= 0.9)
        report.add(section, f"{label}: p50, this server vs gthread", fmt_ms(ours.p50), fmt_ms(old.p50),
                   f"{ratio(ours.p50, old.p50):.2f}")
        report.add(section, f"{label}: p99, this server vs gthread", fmt_ms(ours.p99), fmt_ms(old.p99),
                   f"{ratio(ours.p99, old.p99):.2f}")
    return ours, bare


def bench_intake(setup: Setup, report: Report) -> None:
    print(f"2. intake over HTTP: receiver serve against a bare Flask endpoint and against the receiver under gthread "
          f"(the server before issue 17), {setup.workers} gunicorn workers, {setup.connections} connections, "
          f"{setup.seconds:.0f}s each in {ROUNDS} alternating turns", flush=True)
    report.add("intake", "server (receiver serve's; the bare endpoint's the same)", server_description(setup.workers),
               "gthread (before 17)", "")
    sqlite_url = f"sqlite:///{setup.workdir / 'intake.db'}"
    intake_pair(setup, report, sqlite_url, "SQLite", against_gthread=True)
    if setup.postgres:
        reset_postgres(setup.postgres)
        intake_pair(setup, report, setup.postgres, "PostgreSQL", against_gthread=True)
