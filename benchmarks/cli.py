"""The options and the run: which parts, how long, against which PostgreSQL; and the helper processes that the
parts start as ``python -m benchmarks _<name> ...`` (the bare server, the sink, a sender, the Python load)."""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

from . import batches, delivery, growth, harness, intake, links, load, scrape, slow, stages
from .report import Report, command_line, machine, write_results

SECTIONS = ("link", "intake", "batch", "delivery", "growth", "slow", "metrics", "stages")

HELPERS: dict[str, Callable[[list[str]], None]] = {
    "_bare": lambda args: harness.serve_bare(int(args[0]), int(args[1])),
    "_gthread": lambda args: harness.serve_gthread(int(args[0]), int(args[1])),
    "_sink": lambda args: delivery.sink_main(),
    "_send": lambda args: delivery.send_main(*args),
    "_load": lambda args: load.python_load_main(*args),
    "_stages": lambda args: stages.stages_main(*args),
}


def parser() -> argparse.ArgumentParser:
    made = argparse.ArgumentParser(prog="python -m benchmarks",
                                   description="The receiver side by side with a baseline, every figure a ratio.")
    made.add_argument("--quick", action="store_true", help="Short runs and smaller counts (a smoke test).")
    made.add_argument("--postgres", default=os.environ.get("BENCH_POSTGRES_URL", harness.DEFAULT_POSTGRES),
                      help="PostgreSQL database whose public schema the benchmark drops and recreates.")
    made.add_argument("--only", default="", help=f"Comma-separated parts to run: {','.join(SECTIONS)}.")
    made.add_argument("--seconds", type=float, help="Seconds of load per side (default 12, 3 with --quick).")
    made.add_argument("--connections", type=int, default=8, help="Concurrent connections of the load generator.")
    made.add_argument("--results", default=str(harness.HERE / "RESULTS.md"), help="Where to write the results.")
    return made


def wanted_parts(only: str) -> list[str]:
    """The parts ``--only`` names, in the order given; all of them when it names none."""
    return [name.strip() for name in only.split(",") if name.strip()] or list(SECTIONS)


def run_parts(setup: harness.Setup, report: Report, wanted: Sequence[str]) -> None:
    if "link" in wanted:
        links.bench_links(report, setup.quick)
    if {"intake", "growth"} & set(wanted):
        setup.wrk = load.find_wrk(report)
    if "intake" in wanted:
        intake.bench_intake(setup, report)
    if "batch" in wanted:
        batches.bench_batches(setup, report)
    if {"delivery", "growth"} & set(wanted) and setup.postgres:
        with delivery.sink_process(setup.workdir) as sink_url:
            if "delivery" in wanted:
                delivery.bench_delivery(setup, report, sink_url)
            if "growth" in wanted:
                growth.bench_growth(setup, report, sink_url)
    if "slow" in wanted:
        slow.bench_slow(setup, report)
    if "metrics" in wanted:
        scrape.bench_scrape(setup, report)
    if "stages" in wanted:
        stages.bench_stages(setup, report)
    if setup.postgres:
        harness.reset_postgres(setup.postgres)


def main(argv: Sequence[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    if arguments and arguments[0] in HELPERS:
        HELPERS[arguments[0]](arguments[1:])
        return 0
    options = parser()
    args = options.parse_args(arguments)
    wanted = wanted_parts(args.only)
    unknown = set(wanted) - set(SECTIONS)
    if unknown:
        options.error(f"unknown part(s): {', '.join(sorted(unknown))}")

    started_at, started = datetime.now(UTC), time.perf_counter()
    machine_line = machine()
    print(f"benchmark on {machine_line}", flush=True)
    report = Report()
    problem = harness.postgres_problem(args.postgres)
    if problem:
        report.note(f"PostgreSQL parts skipped: {args.postgres} is unreachable ({problem})")
    with tempfile.TemporaryDirectory(prefix="receiver-bench-") as folder:
        setup = harness.Setup(wrk=None, workdir=Path(folder), seed=json.loads(harness.SEED.read_text(encoding="utf-8")),
                              seconds=args.seconds or (3.0 if args.quick else 12.0), connections=args.connections,
                              workers=2, quick=args.quick, postgres=None if problem else args.postgres)
        run_parts(setup, report, wanted)
    elapsed = time.perf_counter() - started
    write_results(Path(args.results), report, command_line(args.quick, args.only), started_at, elapsed, machine_line)
    print(f"wrote {args.results} ({elapsed / 60:.1f} min)", flush=True)
    return 0
