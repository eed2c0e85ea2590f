"""The benchmark's pure helpers (the ``benchmarks`` package): the body its load generator sends is the seed event
with a unique messageId and order_id, its percentiles are nearest-rank, its sides are measured in alternating
turns, and RESULTS.md keeps its shape. The benchmark itself is not a test."""

import importlib
import json
import os
import sys
from datetime import datetime
from pathlib import Path

import pytest

from support.data import fixture

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # ``benchmarks`` is not installed: it lives beside ``receiver`` in the repository
    sys.path.insert(0, str(ROOT))
harness = importlib.import_module("benchmarks.harness")
load = importlib.import_module("benchmarks.load")
report = importlib.import_module("benchmarks.report")
links = importlib.import_module("benchmarks.links")
cli = importlib.import_module("benchmarks.cli")


def test_the_load_body_is_the_seed_event_with_its_own_ids():
    seed = fixture("order-completed-seed.json")
    first, second, third = load.body_parts(seed)
    body = json.loads(f"{first}bench-t1-7{second}order-t1-7{third}")
    assert body == load.order_event(seed, "t1-7")
    assert body["messageId"] == "bench-t1-7" and body["properties"]["order_id"] == "order-t1-7"
    body["messageId"], body["properties"]["order_id"] = seed["messageId"], seed["properties"]["order_id"]
    assert body == seed  # nothing else changed


def test_the_wrk_script_fills_in_both_ids_and_sends_the_api_key():
    script = load.wrk_script(["A", "B", "C"], "run9", harness.basic_auth("k"))
    assert 'p1 .. "bench-" .. id .. p2 .. "order-" .. id .. p3' in script
    assert '"run9-" .. tid .. "-" .. counter' in script
    assert "[==[Basic azo=]==]" in script  # base64("k:")


def test_nearest_rank_percentiles():
    values = list(range(1, 101))
    assert harness.percentile(values, 0.5) == 50
    assert harness.percentile(values, 0.99) == 99
    assert harness.percentile([3.0], 0.99) == 3.0
    assert harness.percentile(list(reversed(values)), 0.5) == 50
    assert harness.percentile([], 0.5) != harness.percentile([], 0.5)  # NaN
    assert harness.ratio(1.0, 4.0) == 0.25
    assert harness.ratio(1.0, 0.0) == float("inf")


def test_sides_are_measured_in_alternating_turns():
    calls = []
    a, b = harness.alternating(3, lambda: calls.append("a") or len(calls), lambda: calls.append("b") or len(calls))
    assert calls == ["a", "b", "a", "b", "a", "b"]
    assert a == [1, 3, 5] and b == [2, 4, 6]


def test_turns_combine_into_one_figure():
    runs = [load.Load(100, 2.0, 0.001, 0.010, 1, "wrk"), load.Load(300, 2.0, 0.003, 0.020, 0, "wrk"),
            load.Load(200, 1.0, 0.002, 0.050, 2, "wrk")]
    total = load.combined(runs)
    assert (total.requests, total.seconds, total.failed, total.tool) == (600, 5.0, 3, "wrk")
    assert total.p50 == 0.002  # the median turn's
    assert total.p99 == 0.050  # the worst turn's
    assert total.rate == 120.0
    assert load.Load(0, 0.0, 0, 0, 0, "wrk").rate == 0.0


def test_figures_are_formatted_as_in_results():
    assert report.fmt_rate(1494.4) == "1,494/s"
    assert report.fmt_rate(1832, "/s sink") == "1,832/s sink"
    assert report.fmt_ms(0.04711) == "47.11 ms"


def test_results_markdown_keeps_its_table_notes_and_goals(capsys):
    rows = report.Report()
    rows.add("link", "time per link (median of rounds)", "17.5 µs", "22.0 µs", "0.80", "ours ≤ 1.0 × reference", True)
    rows.add("intake", "SQLite: events/s (17,998 stored)", "1,494/s", "5,899/s", "0.25", "≥ 0.5 × bare", False)
    rows.add("intake", "SQLite: p50 latency", "4.77 ms", "1.20 ms", "3.98")
    rows.note("link building: all 2000 payloads checked")
    assert "note: link building" in capsys.readouterr().out
    text = report.results_markdown(rows, report.command_line(True, "link,intake"), datetime(2026, 11, 23, 12, 47),
                                   330.0, "Linux, 2 CPUs", history="## History\n\n1. a fix\n")
    lines = text.splitlines()
    assert lines[0] == "# Benchmark results"
    assert lines[2].startswith("Run 2026-11-23 12:47 UTC with `.venv/bin/python -m benchmarks --quick --only "
                               "link,intake` in 5.5 min, on Linux, 2 CPUs.")
    assert "| link | time per link (median of rounds) | 17.5 µs | 22.0 µs | 0.80 | ours ≤ 1.0 × reference | met |" in lines
    assert "| intake | SQLite: events/s (17,998 stored) | 1,494/s | 5,899/s | 0.25 | ≥ 0.5 × bare | **missed** |" in lines
    assert "| intake | SQLite: p50 latency | 4.77 ms | 1.20 ms | 3.98 |  |  |" in lines
    assert "- link building: all 2000 payloads checked" in lines
    assert "Met (1):" in lines and "Missed (1):" in lines
    assert "- intake, SQLite: events/s (17,998 stored): 1,494/s against 5,899/s (ratio 0.25; goal ≥ 0.5 × bare)" in lines
    assert lines[-3:] == ["## History", "", "1. a fix"]
    assert report.results_markdown(report.Report(), "x", datetime(2026, 1, 1), 1, "m").splitlines()[-1] == "- none"


def test_parts_are_named_by_only():
    assert cli.wanted_parts("") == list(cli.SECTIONS)
    assert cli.wanted_parts(" link, batch ,") == ["link", "batch"]


def test_without_wrk_it_says_how_to_install_it_and_installs_nothing(monkeypatch):
    monkeypatch.setattr(load.shutil, "which", lambda name: None)
    monkeypatch.setattr(load.subprocess, "run", pytest.fail)
    notes = report.Report()
    assert load.find_wrk(notes) is None
    assert "`apt-get install wrk`" in notes.notes[0] and "python-load" in notes.notes[0]


def test_without_the_reference_encryptor_it_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "trustpilot_authenticated_encryption", None)  # makes the import fail
    encryption, problem = links.reference_encryptor()
    assert encryption is None
    assert "pip install -e '.[bench]'" in problem and "--no-deps 'trustpilot-authenticated-encryption==1.1.0'" in problem
    notes = report.Report()
    links.bench_links(notes, quick=True)
    assert notes.rows == [] and notes.notes == [f"link building skipped: {problem}"]


def test_helper_processes_find_the_package_from_anywhere():
    environ = harness.helper_environ({"PYTHONPATH": "/elsewhere"})
    assert environ["PYTHONPATH"].split(os.pathsep) == [str(ROOT), "/elsewhere"]
    assert harness.helper_command("_bare", 8000, 2)[-4:] == ["benchmarks", "_bare", "8000", "2"]
