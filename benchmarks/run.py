"""Benchmarks: the receiver side by side with a baseline, every figure a ratio.

    .venv/bin/python benchmarks/run.py [--quick] [--postgres URL] [--only link,intake,batch,delivery,growth]

Prints a table and writes benchmarks/RESULTS.md. Not part of the test suite: it times things, tests do not.
It installs what only it needs (Trustpilot's reference encryptor into this venv, ``wrk`` with apt-get when
missing and allowed) and runs everything on 127.0.0.1. The PostgreSQL database given (default the local
``bench``) has its ``public`` schema dropped and recreated: never point it at a database you care about.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

ROOT = Path(__file__).resolve().parent.parent
HERE = ROOT / "benchmarks"
SEED = ROOT / "fixtures" / "order-completed-seed.json"
DEFAULT_POSTGRES = "postgresql://postgres@127.0.0.1:5432/bench"
API_KEY = "bench-key"
DOMAIN = "bench.example.com"
CALLBACK_SECRET = "whsec_" + base64.b64encode(b"receiver benchmark callback secret").decode()
REFERENCE_PACKAGE = "trustpilot-authenticated-encryption"
# The reference pins pycryptodome==3.6.6, which no longer imports on Python 3.11 (``0xffffffffL``); its
# encrypt() only uses AES.new(key, MODE_CBC) and Padding.pad, whose API is unchanged in later releases.
REFERENCE_CRYPTO = "pycryptodome>=3.19"


# -- small pure helpers (tested in tests/test_benchmark_helpers.py) ------------------------------

def ratio(ours: float, baseline: float) -> float:
    return ours / baseline if baseline else float("inf")


def percentile(values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile of ``values`` (``fraction`` in 0..1)."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = max(1, min(len(ordered), int(-(-fraction * len(ordered) // 1))))
    return ordered[rank - 1]


def order_event(seed: dict[str, Any], unique: str) -> dict[str, Any]:
    """The seed ``Order Completed`` event with its own ``messageId`` and ``order_id``."""
    event = json.loads(json.dumps(seed))
    event["messageId"] = f"bench-{unique}"
    event["properties"]["order_id"] = f"order-{unique}"
    return event


MESSAGE_MARK, ORDER_MARK = "@@MESSAGE@@", "@@ORDER@@"


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


def basic_auth(api_key: str) -> str:
    return "Basic " + base64.b64encode(f"{api_key}:".encode()).decode()


# -- results --------------------------------------------------------------------------------------

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


# -- set-up -----------------------------------------------------------------------------------------

def pip_install(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", *args],
                   check=True)


def reference_encryptor() -> Any:
    try:
        from trustpilot_authenticated_encryption import encryption
        return encryption
    except (ImportError, SyntaxError):
        pass
    print(f"installing {REFERENCE_PACKAGE} (and {REFERENCE_CRYPTO}) into {sys.prefix}", flush=True)
    pip_install("--no-deps", REFERENCE_PACKAGE)
    pip_install(REFERENCE_CRYPTO)
    for name in [m for m in sys.modules if m == "Crypto" or m.startswith(("Crypto.", "trustpilot_authenticated"))]:
        del sys.modules[name]
    from trustpilot_authenticated_encryption import encryption
    return encryption


def find_wrk(report: Report) -> str | None:
    found = shutil.which("wrk")
    if found:
        return found
    if os.geteuid() == 0 and shutil.which("apt-get"):
        print("installing wrk with apt-get", flush=True)
        for command in (["apt-get", "install", "-y", "-qq", "wrk"], ["apt-get", "update", "-qq"],
                        ["apt-get", "install", "-y", "-qq", "wrk"]):  # a fresh machine may need the update
            subprocess.run(command, check=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            found = shutil.which("wrk")
            if found:
                break
    if not found:
        report.note("wrk is not installed and could not be: the load generator is the Python fallback "
                    "(threads with kept-alive connections, in its own process), labelled 'python-load'")
    return found


def postgres_problem(url: str) -> str | None:
    from sqlalchemy import create_engine, text

    from receiver.config import database_url

    engine = create_engine(database_url(url), connect_args={"connect_timeout": 3})
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:  # noqa: BLE001 - any reason to skip is printed
        return f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}"
    finally:
        engine.dispose()
    return None


def reset_postgres(url: str) -> None:
    from sqlalchemy import create_engine, text

    from receiver.config import database_url

    engine = create_engine(database_url(url))
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def keys_environ(database: str, workdir: Path) -> dict[str, str]:
    environ = {name: value for name, value in os.environ.items()
               if not name.startswith(("SEGMENT_", "TRUSTPILOT_", "CALLBACK_", "SMTP_", "MAIL_", "PROMETHEUS_"))}
    environ.update({
        "DATABASE_URL": database,
        "TRUSTPILOT_DOMAIN": DOMAIN,
        "TRUSTPILOT_ENCRYPT_KEY": base64.b64encode(b"e" * 32).decode(),
        "TRUSTPILOT_AUTH_KEY": base64.b64encode(b"a" * 32).decode(),
        "SEGMENT_API_KEYS": API_KEY,
        "SENDER": "log",
        "PYTHONUNBUFFERED": "1",
        "HOME": str(workdir),
    })
    return environ


def receiver_command() -> list[str]:
    script = Path(sys.executable).with_name("receiver")  # the console script the Procfile runs
    return [str(script)] if script.exists() else [sys.executable, "-m", "receiver"]


def wait_healthy(url: str, process: subprocess.Popen[bytes], timeout: float = 60.0) -> None:
    import requests

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited with code {process.returncode} before answering")
        try:
            if requests.get(url, timeout=1).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer within {timeout:.0f}s")


def stop(process: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextmanager
def server(kind: str, environ: dict[str, str], workdir: Path, workers: int) -> Iterator[str]:
    """``receiver serve`` (the Procfile's web line) or the bare Flask app, under the same gunicorn options."""
    port = free_port()
    if kind == "receiver":
        command = [*receiver_command(), "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)]
        health = "/readyz"
    else:
        command = [sys.executable, str(HERE / "run.py"), "_bare", str(port), str(workers)]
        health = "/healthz"
    log_file = (workdir / f"{kind}-{port}.log").open("wb")
    process = subprocess.Popen(command, env=environ, cwd=workdir, stdout=log_file, stderr=log_file)
    try:
        wait_healthy(f"http://127.0.0.1:{port}{health}", process)
        yield f"http://127.0.0.1:{port}"
    finally:
        stop(process)
        log_file.close()


def serve_bare(port: int, workers: int) -> None:
    """A Flask endpoint that only answers 200, under ``receiver serve``'s own gunicorn options."""
    from flask import Flask, jsonify
    from gunicorn.app.base import BaseApplication

    from receiver.cli import gunicorn_options

    app = Flask("bare")

    @app.post("/segment")
    def segment() -> Any:
        return jsonify({"status": "ok"}), 200

    @app.get("/healthz")
    def healthz() -> Any:
        return jsonify({"status": "ok"}), 200

    class Bare(BaseApplication):
        def load_config(self) -> None:
            for key, value in gunicorn_options("127.0.0.1", port, workers).items():
                self.cfg.set(key, value)

        def load(self) -> Any:
            return app

    Bare().run()


# -- load generation --------------------------------------------------------------------------------

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


ROUNDS = 3  # each side's load time is split into this many turns, taken alternately


def combined(runs: Sequence[Load]) -> Load:
    """Several turns of one side as one figure: the requests over the time, the median p50, the worst p99."""
    return Load(requests=sum(r.requests for r in runs), seconds=sum(r.seconds for r in runs),
                p50=statistics.median(r.p50 for r in runs), p99=max(r.p99 for r in runs),
                failed=sum(r.failed for r in runs), tool=runs[0].tool)


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
        [sys.executable, str(HERE / "run.py"), "_load", url, json.dumps(list(parts)), prefix, str(seconds),
         str(connections)], capture_output=True, text=True, timeout=seconds + 60, check=True)
    data = json.loads(result.stdout.strip().splitlines()[-1])
    return Load(requests=data["requests"], seconds=data["seconds"], p50=data["p50"], p99=data["p99"],
                failed=data["failed"], tool="python-load")


def _python_load_main(url: str, parts_json: str, prefix: str, seconds: str, connections: str) -> None:
    import http.client
    import threading
    from urllib.parse import urlsplit

    parts = json.loads(parts_json)
    where = urlsplit(url)
    latencies: list[float] = []
    failed = [0]
    lock = threading.Lock()
    deadline = time.perf_counter() + float(seconds)
    headers = {"Content-Type": "application/json", "Authorization": basic_auth(API_KEY)}

    def client(number: int) -> None:
        conn = http.client.HTTPConnection(where.hostname, where.port, timeout=10)
        mine: list[float] = []
        count = 0
        while time.perf_counter() < deadline:
            count += 1
            unique = f"{prefix}-{number}-{count}"
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
            mine.append(time.perf_counter() - started)
            if not ok:
                with lock:
                    failed[0] += 1
        with lock:
            latencies.extend(mine)

    started = time.perf_counter()
    threads = [threading.Thread(target=client, args=(n,)) for n in range(int(connections))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    print(json.dumps({"requests": len(latencies), "seconds": elapsed, "p50": percentile(latencies, 0.5),
                      "p99": percentile(latencies, 0.99), "failed": failed[0]}))


# -- 1. link building ------------------------------------------------------------------------------

def link_payloads(count: int) -> list[dict[str, Any]]:
    names = ["Jane Roe", "Jürgen Müller", "Søren Kierkegaard", "Zoë Ødegaard", "John Johnson"]
    return [{"email": f"customer{n}@example.com", "name": names[n % len(names)], "ref": f"ORDER-{n:08d}",
             "skus": [f"SKU-{n}-{k}" for k in range(n % 4)], "tags": ["segment", f"store_{n % 7}"][: 1 + n % 2]}
            for n in range(count)]


def bench_links(report: Report, quick: bool) -> None:
    from receiver import bgl

    print("1. link building: ours (receiver.bgl.build_link) against Trustpilot's reference encryptor", flush=True)
    encryption = reference_encryptor()
    encrypt_b64 = base64.b64encode(os.urandom(32)).decode()
    auth_b64 = base64.b64encode(os.urandom(32)).decode()
    keys = bgl.Keys.from_base64(encrypt_b64, auth_b64)
    payloads = link_payloads(500 if quick else 2000)

    def ours(payload: dict[str, Any]) -> str:
        return bgl.build_link(payload, keys, DOMAIN)

    def reference(payload: dict[str, Any]) -> str:
        # as Trustpilot's documentation builds a BGL with it: JSON, encrypt, URL-encode into ?p=
        token = encryption.encrypt(json.dumps(payload).encode("utf-8"), encrypt_b64, auth_b64).decode("ascii")
        return f"https://www.trustpilot.com/evaluate-bgl/{DOMAIN}?p={quote(token, safe='')}"

    for payload in payloads:  # both must make links that decode (with our decoder) to the same payload
        if bgl.decode(ours(payload), keys) != payload or bgl.decode(reference(payload), keys) != payload:
            raise RuntimeError("the two encryptors disagree on a payload: not timing them")
    report.note(f"link building: all {len(payloads)} payloads checked: both links decode to the same payload")

    def timed(build: Callable[[dict[str, Any]], str]) -> float:
        started = time.perf_counter()
        for payload in payloads:
            build(payload)
        return (time.perf_counter() - started) / len(payloads)

    ours_times, reference_times = [], []
    for _ in range(5 if quick else 15):  # interleaved rounds: the machine's noise hits both alike
        ours_times.append(timed(ours))
        reference_times.append(timed(reference))
    ours_s, reference_s = statistics.median(ours_times), statistics.median(reference_times)
    value = ratio(ours_s, reference_s)
    report.add("link", "time per link (median of rounds)", f"{ours_s * 1e6:.1f} µs", f"{reference_s * 1e6:.1f} µs",
               f"{value:.2f}", "ours ≤ 1.0 × reference", value <= 1.0)


# -- 2. intake over HTTP ---------------------------------------------------------------------------

@dataclass
class Setup:
    wrk: str | None
    workdir: Path
    seed: dict[str, Any]
    seconds: float
    connections: int
    workers: int
    quick: bool
    postgres: str | None


def load_against(setup: Setup, url: str, label: str) -> Load:
    parts = body_parts(setup.seed)
    prefix = f"{label}-{time.time_ns()}"
    if setup.wrk:
        script = setup.workdir / f"order-{prefix}.lua"
        script.write_text(wrk_script(parts, prefix, basic_auth(API_KEY)), encoding="utf-8")
        return run_wrk(setup.wrk, url, script, setup.seconds / ROUNDS, setup.connections, threads=2)
    return python_load(url, parts, prefix, setup.seconds / ROUNDS, setup.connections)


def count_rows(database: str) -> int:
    from sqlalchemy import func, select

    from receiver.config import database_url
    from receiver.store import Store, invitations

    store = Store(database_url(database))
    try:
        with store.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(invitations)).scalar() or 0)
    finally:
        store.close()


def intake_pair(setup: Setup, report: Report, database: str, label: str, section: str = "intake",
                before: int = 0) -> tuple[Load, Load]:
    """The bare endpoint, then the receiver, under the same gunicorn options and the same load."""
    environ = keys_environ(database, setup.workdir)
    with server("bare", environ, setup.workdir, setup.workers) as bare_url, \
            server("receiver", environ, setup.workdir, setup.workers) as url:
        # both up at once, loaded in turn: the machine's noise falls on both alike
        bare_runs, our_runs = [], []
        for _ in range(ROUNDS):
            bare_runs.append(load_against(setup, bare_url, "bare"))
            our_runs.append(load_against(setup, url, label))
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


# -- 3. batches ------------------------------------------------------------------------------------

def bench_batches(setup: Setup, report: Report) -> None:
    import requests

    size = 1000
    print(f"3. batches: one {size}-message Actions batch against {size} single requests (one client, kept alive)",
          flush=True)
    databases = [("SQLite", f"sqlite:///{setup.workdir / 'batch.db'}")]
    if setup.postgres:
        databases.append(("PostgreSQL", setup.postgres))
    for label, database in databases:
        if database == setup.postgres:
            reset_postgres(database)
        environ = keys_environ(database, setup.workdir)
        with server("receiver", environ, setup.workdir, setup.workers) as url, requests.Session() as session:
            session.headers.update({"Authorization": basic_auth(API_KEY), "Content-Type": "application/json"})
            run = time.time_ns()
            singles = [json.dumps(order_event(setup.seed, f"single-{run}-{n}")) for n in range(size)]
            for warm in range(20):
                session.post(url + "/segment", data=json.dumps(order_event(setup.seed, f"warm-{run}-{warm}")))
            started = time.perf_counter()
            for body in singles:
                response = session.post(url + "/segment", data=body, timeout=10)
                if response.status_code != 200 or response.json()["status"] != "accepted":
                    raise RuntimeError(f"a single request got {response.status_code}")
            single_s = (time.perf_counter() - started) / size
            batch_times = []
            for attempt in range(3):
                batch = json.dumps([order_event(setup.seed, f"batch-{run}-{attempt}-{n}") for n in range(size)])
                started = time.perf_counter()
                response = session.post(url + "/segment", data=batch, timeout=30)
                batch_times.append(time.perf_counter() - started)
                if response.status_code != 200 or response.json()["accepted"] != size:
                    raise RuntimeError(f"the batch got {response.status_code}: {response.text[:200]}")
            batch_s = statistics.median(batch_times) / size
        value = ratio(batch_s, single_s)
        report.add("batch", f"{label}: per message, batch vs single", fmt_ms(batch_s), fmt_ms(single_s),
                   f"{value:.3f}", "≤ 0.2", value <= 0.2)


# -- 4. delivery -----------------------------------------------------------------------------------

def fill(database: str, count: int, *, state: str, start: int = 0) -> float:
    """Insert ``count`` invitations in ``state`` through the store's table definition; seconds taken."""
    from datetime import timedelta

    from sqlalchemy import insert

    from receiver.config import database_url
    from receiver.store import Store, invitations

    store = Store(database_url(database))
    store.upgrade()
    now = datetime.now(UTC)
    started = time.perf_counter()
    chunk = 20_000
    try:
        with store.engine.begin() as conn:
            for first in range(start, start + count, chunk):
                rows = [{"message_id": f"fill-{n}", "domain": DOMAIN, "ref": f"R-{n}", "order_key": f"R-{n}",
                         "email": f"customer{n}@example.com", "name": "Jane Roe", "skus": ["SKU-1"],
                         "tags": ["segment"], "locale": "en-GB", "state": state, "attempts": 1 if state != "pending" else 0,
                         "next_attempt_at": now - timedelta(seconds=1), "created_at": now, "updated_at": now,
                         "sent_at": now if state == "sent" else None}
                        for n in range(first, min(first + chunk, start + count))]
                conn.execute(insert(invitations), rows)
            if store.dialect == "postgresql":
                conn.exec_driver_sql("ANALYZE invitations")
    finally:
        store.close()
    return time.perf_counter() - started


def sink_process(workdir: Path) -> tuple[subprocess.Popen[bytes], str]:
    """The tests' HTTP sink (tests/support/sink.py) in a process of its own; its URL."""
    process = subprocess.Popen([sys.executable, str(HERE / "run.py"), "_sink"], stdout=subprocess.PIPE,
                               stdin=subprocess.PIPE, cwd=workdir)
    assert process.stdout is not None
    url = process.stdout.readline().decode().strip()
    if not url.startswith("http://127.0.0.1:"):
        raise RuntimeError("the sink did not start")
    return process, url


def _sink_main() -> None:
    sys.path.insert(0, str(ROOT / "tests"))
    from support.sink import Sink

    with Sink() as sink:
        print(sink.url, flush=True)
        sys.stdin.read()  # until the benchmark closes our stdin


def sink_rate(url: str, clients: int, count: int) -> float:
    """The sink's own maximum rate for ``clients`` processes sending with the real HTTP sender."""
    processes = [subprocess.Popen([sys.executable, str(HERE / "run.py"), "_send", url, str(count)],
                                  stdout=subprocess.PIPE, text=True) for _ in range(clients)]
    results = [json.loads(p.communicate(timeout=300)[0].strip().splitlines()[-1]) for p in processes]
    start = min(r["start"] for r in results)
    end = max(r["end"] for r in results)
    return sum(r["count"] for r in results) / (end - start)


def _send_main(url: str, count: str) -> None:
    from dataclasses import replace

    from receiver.invitation import Invitation
    from receiver.senders import ReadyInvitation
    from receiver.senders.http import from_environ

    sender = from_environ({"CALLBACK_URL": url, "CALLBACK_SECRET": CALLBACK_SECRET})
    invitation = ReadyInvitation(id=1, invitation=Invitation(message_id="bench", email="jane@example.com",
                                                             name="Jane Roe", ref="R-1", skus=("SKU-1",),
                                                             tags=("segment",), locale="en-GB"),
                                 link="https://uk.trustpilot.com/evaluate-bgl/bench.example.com?p=" + "A" * 240)
    for _ in range(20):
        sender.send(invitation)
    start = time.time()
    for n in range(int(count)):
        sender.send(replace(invitation, id=n + 2))
    end = time.time()
    sender.close()
    print(json.dumps({"count": int(count), "start": start, "end": end}))


@dataclass
class Delivery:
    count: int
    rate: float  # from the first to the last sent_at
    wall: float  # from starting the processes until they exited


def deliver(setup: Setup, database: str, workers: int, count: int, sink_url: str) -> Delivery:
    """``receiver worker --once`` processes draining ``count`` due invitations to the sink."""
    from sqlalchemy import func, select

    from receiver.config import database_url
    from receiver.store import SENT, Store, invitations

    environ = keys_environ(database, setup.workdir) | {"SENDER": "http", "CALLBACK_URL": sink_url,
                                                        "CALLBACK_SECRET": CALLBACK_SECRET}
    started = time.perf_counter()
    logs = [(setup.workdir / f"worker-{n}.log").open("wb") for n in range(workers)]
    processes = [subprocess.Popen([*receiver_command(), "worker", "--once"], env=environ, cwd=setup.workdir,
                                  stdout=log, stderr=log) for log in logs]
    try:
        for process in processes:
            process.wait(timeout=300)
    finally:
        for process in processes:
            stop(process)
        for log in logs:
            log.close()
    wall = time.perf_counter() - started
    store = Store(database_url(database))
    try:
        with store.engine.connect() as conn:
            sent, first, last = conn.execute(
                select(func.count(), func.min(invitations.c.sent_at), func.max(invitations.c.sent_at))
                .where(invitations.c.state == SENT, invitations.c.message_id.like("due-%"))).one()
    finally:
        store.close()
    if sent != count:
        raise RuntimeError(f"only {sent} of {count} invitations were sent")
    span = (last - first).total_seconds() if first and last else 0.0
    return Delivery(count=sent, rate=sent / span if span else float("inf"), wall=wall)


def fill_due(database: str, count: int) -> None:
    """``count`` pending invitations, due now, named ``due-*`` (see ``deliver``); what intake stored before
    is marked sent first, so that the due queue holds exactly these."""
    from sqlalchemy import update

    from receiver.config import database_url
    from receiver.store import Store, invitations

    store = Store(database_url(database))
    try:
        store.upgrade()
        with store.engine.begin() as conn:
            conn.execute(update(invitations).where(invitations.c.state == "pending").values(state="sent"))
        fill(database, count, state="pending", start=10_000_000)
        with store.engine.begin() as conn:
            conn.execute(update(invitations).where(invitations.c.state == "pending")
                         .values(message_id="due-" + invitations.c.message_id))
    finally:
        store.close()


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


# -- 5. growth -------------------------------------------------------------------------------------

def bench_growth(setup: Setup, report: Report, sink_url: str) -> None:
    # the empty table is measured first and last, so that the machine's drift over the run shows beside growth
    sizes = (0, 10_000, 100_000, 0) if setup.quick else (0, 10_000, 1_000_000, 0)
    due = 2000 if setup.quick else 10_000
    print(f"5. growth: intake and delivery with {', '.join(f'{n:,}' for n in sizes)} invitations already stored "
          "(state sent), PostgreSQL", flush=True)
    intake_share: dict[int, list[float]] = {}  # per size: our rate as a share of its baseline's, measured beside it
    delivery_share: dict[int, list[float]] = {}
    for size in sizes:
        reset_postgres(setup.postgres or "")
        if size:
            took = fill(setup.postgres or "", size, state="sent")
            report.note(f"growth: stored {size:,} sent invitations in {took:.1f}s")
        ours, bare = intake_pair(setup, report, setup.postgres or "", f"PostgreSQL, {size:,} stored", "growth",
                                 before=size)
        intake_share.setdefault(size, []).append(ratio(ours.rate, bare.rate))
        fill_due(setup.postgres or "", due)
        sink_max = sink_rate(sink_url, 1, 2000 if setup.quick else 5000)
        result = deliver(setup, setup.postgres or "", 1, due, sink_url)
        delivery_share.setdefault(size, []).append(ratio(result.rate, sink_max))
        report.add("growth", f"{size:,} stored: 1 worker, invitations/s", fmt_rate(result.rate),
                   fmt_rate(sink_max) + " sink", f"{ratio(result.rate, sink_max):.2f}", "≥ 500/s", result.rate >= 500)
    for size in sorted(set(sizes) - {0}):
        for what, share in (("intake", intake_share), ("delivery", delivery_share)):
            empty = statistics.mean(share[0])
            value = ratio(share[size][0], empty)
            report.add("growth", f"{what} with {size:,} stored vs none (share of baseline)", f"{share[size][0]:.2f}",
                       f"{empty:.2f} (mean of 2)", f"{value:.2f}", "≥ 0.8 (no growth)", value >= 0.8)


# -- the run ----------------------------------------------------------------------------------------

SECTIONS = ("link", "intake", "batch", "delivery", "growth")


def machine() -> str:
    load = os.getloadavg() if hasattr(os, "getloadavg") else (0, 0, 0)
    return (f"{platform.platform()}, Python {platform.python_version()}, {os.cpu_count()} CPUs, "
            f"load average at start {load[0]:.2f}")


def write_results(path: Path, report: Report, args: argparse.Namespace, started: datetime, seconds: float,
                  machine_line: str) -> None:
    lines = [
        "# Benchmark results",
        "",
        f"Run {started:%Y-%m-%d %H:%M} UTC with `.venv/bin/python benchmarks/run.py"
        f"{' --quick' if args.quick else ''}{' --only ' + args.only if args.only else ''}` in {seconds / 60:.1f} min, "
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
    lines += [f"- {row.section}, {row.what}: {row.ours} against {row.baseline} (ratio {row.ratio}; goal {row.goal})"
              for row in met]
    lines += ["", f"Missed ({len(missed)}):", ""]
    lines += [f"- {row.section}, {row.what}: {row.ours} against {row.baseline} (ratio {row.ratio}; goal {row.goal})"
              for row in missed] or ["- none"]
    history = HERE / "HISTORY.md"
    if history.exists():
        lines += ["", history.read_text(encoding="utf-8").strip()]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="Short runs and smaller counts (a smoke test).")
    parser.add_argument("--postgres", default=os.environ.get("BENCH_POSTGRES_URL", DEFAULT_POSTGRES),
                        help="PostgreSQL database whose public schema the benchmark drops and recreates.")
    parser.add_argument("--only", default="", help=f"Comma-separated parts to run: {','.join(SECTIONS)}.")
    parser.add_argument("--seconds", type=float, help="Seconds of load per side (default 12, 3 with --quick).")
    parser.add_argument("--connections", type=int, default=8, help="Concurrent connections of the load generator.")
    parser.add_argument("--results", default=str(HERE / "RESULTS.md"), help="Where to write the results.")
    args = parser.parse_args(argv)
    wanted = [name.strip() for name in args.only.split(",") if name.strip()] or list(SECTIONS)
    unknown = set(wanted) - set(SECTIONS)
    if unknown:
        parser.error(f"unknown part(s): {', '.join(sorted(unknown))}")

    started_at, started = datetime.now(UTC), time.perf_counter()
    machine_line = machine()
    print(f"benchmark on {machine_line}", flush=True)
    report = Report()
    problem = postgres_problem(args.postgres)
    postgres = None if problem else args.postgres
    if problem:
        report.note(f"PostgreSQL parts skipped: {args.postgres} is unreachable ({problem})")
    with tempfile.TemporaryDirectory(prefix="receiver-bench-") as folder:
        setup = Setup(wrk=None, workdir=Path(folder), seed=json.loads(SEED.read_text(encoding="utf-8")),
                      seconds=args.seconds or (3.0 if args.quick else 12.0), connections=args.connections,
                      workers=2, quick=args.quick, postgres=postgres)
        if "link" in wanted:
            bench_links(report, args.quick)
        if {"intake", "growth"} & set(wanted):
            setup.wrk = find_wrk(report)
        if "intake" in wanted:
            bench_intake(setup, report)
        if "batch" in wanted:
            bench_batches(setup, report)
        if {"delivery", "growth"} & set(wanted) and postgres:
            sink, sink_url = sink_process(setup.workdir)
            try:
                if "delivery" in wanted:
                    bench_delivery(setup, report, sink_url)
                if "growth" in wanted:
                    bench_growth(setup, report, sink_url)
            finally:
                assert sink.stdin is not None
                sink.stdin.close()
                stop(sink)
        if postgres:
            reset_postgres(postgres)
    elapsed = time.perf_counter() - started
    write_results(Path(args.results), report, args, started_at, elapsed, machine_line)
    print(f"wrote {args.results} ({elapsed / 60:.1f} min)", flush=True)
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    helpers = {"_bare": lambda a: serve_bare(int(a[0]), int(a[1])), "_sink": lambda a: _sink_main(),
               "_send": lambda a: _send_main(*a), "_load": lambda a: _python_load_main(*a)}
    if len(sys.argv) > 1 and sys.argv[1] in helpers:
        helpers[sys.argv[1]](sys.argv[2:])
        sys.exit(0)
    sys.exit(main())
