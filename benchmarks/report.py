"""The results: rows printed as they come, notes, and ``benchmarks/RESULTS.md`` written at the end."""

from __future__ import annotations

import os
import platform
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from .harness import HERE


@dataclass
class Row:
    section: str
    what: str
    ours: str
    baseline: str
    ratio: str
    goal: str = ""
    met: bool | None = None


@dataclass
class Report:
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(self, *args: Any, **kwargs: Any) -> None:
        row = Row(*args, **kwargs)
        self.rows.append(row)
        mark = {True: "met", False: "MISSED", None: ""}[row.met]
        print(f"  {row.what:<46} {row.ours:>22} | {row.baseline:>22} | {row.ratio:>7} {mark}", flush=True)

    def note(self, text: str) -> None:
        self.notes.append(text)
        print(f"  note: {text}", flush=True)


def fmt_rate(value: float, unit: str = "/s") -> str:
    return f"{value:,.0f}{unit}"


def fmt_ms(seconds: float) -> str:
    return f"{seconds * 1000:.2f} ms"


def machine() -> str:
    load = os.getloadavg() if hasattr(os, "getloadavg") else (0, 0, 0)
    return (f"{platform.platform()}, Python {platform.python_version()}, {os.cpu_count()} CPUs, "
            f"load average at start {load[0]:.2f}")


def command_line(quick: bool, only: str) -> str:
    """The command that made these results, as RESULTS.md quotes it."""
    return f".venv/bin/python -m benchmarks{' --quick' if quick else ''}{' --only ' + only if only else ''}"


def _goal_line(row: Row) -> str:
    return f"- {row.section}, {row.what}: {row.ours} against {row.baseline} (ratio {row.ratio}; goal {row.goal})"


def results_markdown(report: Report, command: str, started: datetime, seconds: float, machine_line: str,
                     history: str = "") -> str:
    """RESULTS.md: the table, the notes, the goals met and missed, then the history of fixes."""
    lines = [
        "# Benchmark results",
        "",
        f"Run {started:%Y-%m-%d %H:%M} UTC with `{command}` in {seconds / 60:.1f} min, "
        f"on {machine_line}. Every figure is measured in the same run as its baseline; the ratio is ours / baseline.",
        "",
        "| part | what | ours | baseline | ratio | goal | |",
        "|---|---|---:|---:|---:|---|---|",
    ]
    for row in report.rows:
        mark = {True: "met", False: "**missed**", None: ""}[row.met]
        lines.append(f"| {row.section} | {row.what} | {row.ours} | {row.baseline} | {row.ratio} | {row.goal} | {mark} |")
    lines += ["", "## Notes", ""] + [f"- {note}" for note in report.notes]
    met = [row for row in report.rows if row.met is True]
    missed = [row for row in report.rows if row.met is False]
    lines += ["", "## Goals", "", f"Met ({len(met)}):", ""]
    lines += [_goal_line(row) for row in met]
    lines += ["", f"Missed ({len(missed)}):", ""]
    lines += [_goal_line(row) for row in missed] or ["- none"]
    if history.strip():
        lines += ["", history.strip()]
    return "\n".join(lines) + "\n"


def write_results(path: Path, report: Report, command: str, started: datetime, seconds: float,
                  machine_line: str) -> None:
    history = HERE / "HISTORY.md"
    text = history.read_text(encoding="utf-8") if history.exists() else ""
    path.write_text(results_markdown(report, command, started, seconds, machine_line, text), encoding="utf-8")
