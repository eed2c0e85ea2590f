"""HTTP load on ``POST /segment``: ``wrk`` when it is installed, else a Python load generator in its own process.
Every request is the seed ``Order Completed`` event with its own ``messageId`` and ``order_id``."""

from __future__ import annotations

import json
import shutil
import statistics
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .harness import API_KEY, Setup, basic_auth, helper_command, helper_environ, percentile
from .report import Report

ROUNDS = 3  # each side's load time is split into this many turns, taken alternately
WRK_SETUP = "apt-get install wrk"
MESSAGE_MARK, ORDER_MARK = "@@MESSAGE@@", "@@ORDER@@"


# -- the request body (pure; tested in tests/unit/test_benchmark_helpers.py) ------------------------------------------

def order_event(seed: dict[str, Any], unique: str) -> dict[str, Any]:
    """The seed ``Order Completed`` event with its own ``messageId`` and ``order_id``."""
    event = json.loads(json.dumps(seed))
    event["messageId"] = f"bench-{unique}"
    event["properties"]["order_id"] = f"order-{unique}"
    return event


def body_parts(seed: dict[str, Any]) -> list[str]:
    """The seed event's JSON cut around its messageId and order_id, for a load generator to fill in."""
    text = json.dumps(order_event(seed, "X") | {"messageId": MESSAGE_MARK}, separators=(",", ":"))
    text = text.replace(json.dumps("order-X"), json.dumps(ORDER_MARK))
    first, rest = text.split(MESSAGE_MARK)
    second, third = rest.split(ORDER_MARK)
    return [first, second, third]


def wrk_script(parts: Sequence[str], prefix: str, authorization: str) -> str:
    """A wrk Lua script posting the seed event with a unique messageId and order_id per request."""
    def long_string(value: str) -> str:
        return f"[==[{value}]==]"

    return f"""
wrk.method = "POST"
wrk.path = "/segment"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = {long_string(authorization)}
local p1, p2, p3 = {long_string(parts[0])}, {long_string(parts[1])}, {long_string(parts[2])}
local made = 0
setup = function(thread) made = made + 1; thread:set("tid", made) end
local counter = 0
request = function()
  counter = counter + 1
  local id = "{prefix}-" .. tid .. "-" .. counter
  return wrk.format(nil, nil, nil, p1 .. "bench-" .. id .. p2 .. "order-" .. id .. p3)
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('BENCH {{"requests":%d,"duration_us":%d,"p50_us":%d,"p99_us":%d,"non2xx":%d,'
    .. '"socket_errors":%d}}\\n', summary.requests, summary.duration, latency:percentile(50),
    latency:percentile(99), e.status, e.connect + e.read + e.write + e.timeout))
end
"""


# -- one load run ---------------------------------------------------------------------------------------------

@dataclass
class Load:
    requests: int
    seconds: float
    p50: float
    p99: float
    failed: int
    tool: str

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def combined(runs: Sequence[Load]) -> Load:
    """Several turns of one side as one figure: the requests over the time, the median p50, the worst p99."""
    return Load(requests=sum(r.requests for r in runs), seconds=sum(r.seconds for r in runs),
                p50=statistics.median(r.p50 for r in runs), p99=max(r.p99 for r in runs),
                failed=sum(r.failed for r in runs), tool=runs[0].tool)


def find_wrk(report: Report) -> str | None:
    """The ``wrk`` on the PATH; without it, a note that the Python fallback is used (nothing is installed)."""
    found = shutil.which("wrk")
    if not found:
        report.note(f"wrk is not installed (`{WRK_SETUP}`, see the README's Benchmarks): the load generator is the "
                    "Python fallback (threads with kept-alive connections, in its own process), labelled 'python-load'")
    return found


def load_against(setup: Setup, url: str, label: str) -> Load:
    """One turn of load on ``url``: a fraction ``1 / ROUNDS`` of the set-up's seconds."""
    parts = body_parts(setup.seed)
    prefix = f"{label}-{time.time_ns()}"
    if setup.wrk:
        script = setup.workdir / f"order-{prefix}.lua"
        script.write_text(wrk_script(parts, prefix, basic_auth(API_KEY)), encoding="utf-8")
        return run_wrk(setup.wrk, url, script, setup.seconds / ROUNDS, setup.connections, threads=2)
    return python_load(url, parts, prefix, setup.seconds / ROUNDS, setup.connections)


def run_wrk(wrk: str, url: str, script: Path, seconds: float, connections: int, threads: int) -> Load:
    result = subprocess.run(
        [wrk, f"-t{threads}", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--timeout", "10s", "-s", str(script),
         url + "/segment"],
        capture_output=True, text=True, timeout=seconds + 60, check=True)
    line = next(line for line in result.stdout.splitlines() if line.startswith("BENCH "))
    data = json.loads(line[len("BENCH "):])
    return Load(requests=data["requests"], seconds=data["duration_us"] / 1e6, p50=data["p50_us"] / 1e6,
                p99=data["p99_us"] / 1e6, failed=data["non2xx"] + data["socket_errors"], tool="wrk")


def python_load(url: str, parts: Sequence[str], prefix: str, seconds: float, connections: int) -> Load:
    """The fallback load generator: one thread per connection, kept alive, in a process of its own."""
    result = subprocess.run(
        helper_command("_load", url, json.dumps(list(parts)), prefix, seconds, connections),
        env=helper_environ(), capture_output=True, text=True, timeout=seconds + 60, check=True)
    data = json.loads(result.stdout.strip().splitlines()[-1])
    return Load(requests=data["requests"], seconds=data["seconds"], p50=data["p50"], p99=data["p99"],
                failed=data["failed"], tool="python-load")


# -- the fallback's own process (``python -m benchmarks _load ...``) ----------------------------------------------

def python_load_main(url: str, parts_json: str, prefix: str, seconds: str, connections: str) -> None:
    import threading

    parts = json.loads(parts_json)
    latencies: list[float] = []
    failed = [0]
    lock = threading.Lock()
    deadline = time.perf_counter() + float(seconds)

    def client(number: int) -> None:
        mine, errors = _client_loop(url, parts, f"{prefix}-{number}", deadline)
        with lock:
            latencies.extend(mine)
            failed[0] += errors

    started = time.perf_counter()
    threads = [threading.Thread(target=client, args=(n,)) for n in range(int(connections))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    print(json.dumps({"requests": len(latencies), "seconds": elapsed, "p50": percentile(latencies, 0.5),
                      "p99": percentile(latencies, 0.99), "failed": failed[0]}))


def _client_loop(url: str, parts: Sequence[str], prefix: str, deadline: float) -> tuple[list[float], int]:
    """One kept-alive connection posting until ``deadline``: each request's latency, and how many failed."""
    import http.client
    from urllib.parse import urlsplit

    where = urlsplit(url)
    headers = {"Content-Type": "application/json", "Authorization": basic_auth(API_KEY)}
    conn = http.client.HTTPConnection(where.hostname, where.port, timeout=10)
    latencies: list[float] = []
    failed = count = 0
    while time.perf_counter() < deadline:
        count += 1
        unique = f"{prefix}-{count}"
        body = f"{parts[0]}bench-{unique}{parts[1]}order-{unique}{parts[2]}"
        started = time.perf_counter()
        try:
            conn.request("POST", "/segment", body=body.encode(), headers=headers)
            response = conn.getresponse()
            response.read()
            ok = 200 <= response.status < 300
        except OSError:
            conn.close()
            conn = http.client.HTTPConnection(where.hostname, where.port, timeout=10)
            ok = False
        latencies.append(time.perf_counter() - started)
        failed += not ok
    conn.close()
    return latencies, failed
