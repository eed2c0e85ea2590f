"""The benchmark's pure helpers (benchmarks/run.py): the body its load generator sends is the seed event with
a unique messageId and order_id, and its percentiles are nearest-rank. The benchmark itself is not a test."""

import importlib.util
import json
import sys
from pathlib import Path

from support.data import fixture

ROOT = Path(__file__).resolve().parent.parent
spec = importlib.util.spec_from_file_location("benchmark_run", ROOT / "benchmarks" / "run.py")
bench = importlib.util.module_from_spec(spec)
sys.modules[spec.name] = bench  # its dataclasses look their module up
spec.loader.exec_module(bench)


def test_the_load_body_is_the_seed_event_with_its_own_ids():
    seed = fixture("order-completed-seed.json")
    first, second, third = bench.body_parts(seed)
    body = json.loads(f"{first}bench-t1-7{second}order-t1-7{third}")
    assert body == bench.order_event(seed, "t1-7")
    assert body["messageId"] == "bench-t1-7" and body["properties"]["order_id"] == "order-t1-7"
    body["messageId"], body["properties"]["order_id"] = seed["messageId"], seed["properties"]["order_id"]
    assert body == seed  # nothing else changed


def test_the_wrk_script_fills_in_both_ids_and_sends_the_api_key():
    script = bench.wrk_script(["A", "B", "C"], "run9", bench.basic_auth("k"))
    assert 'p1 .. "bench-" .. id .. p2 .. "order-" .. id .. p3' in script
    assert '"run9-" .. tid .. "-" .. counter' in script
    assert "[==[Basic azo=]==]" in script  # base64("k:")


def test_nearest_rank_percentiles():
    values = list(range(1, 101))
    assert bench.percentile(values, 0.5) == 50
    assert bench.percentile(values, 0.99) == 99
    assert bench.percentile([3.0], 0.99) == 3.0
    assert bench.ratio(1.0, 4.0) == 0.25
