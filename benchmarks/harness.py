"""What every part shares: constants, pure helpers (ratios, percentiles, alternating rounds), the run's set-up,
processes and servers started and stopped within deadlines, and the only functions that reach into the
receiver's internals (the store, the gunicorn options, the sender's invitation): adapt those here alone."""

from __future__ import annotations

import base64
import os
import selectors
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

ROOT = Path(__file__).resolve().parent.parent
HERE = ROOT / "benchmarks"
SEED = ROOT / "fixtures" / "order-completed-seed.json"
DEFAULT_POSTGRES = "postgresql://postgres@127.0.0.1:5432/bench"
API_KEY = "bench-key"
DOMAIN = "bench.example.com"
DATA_KEY = b"d" * 32  # the receiver processes' DATA_KEY (keys_environ)
CALLBACK_SECRET = "whsec_" + base64.b64encode(b"receiver benchmark callback secret").decode()

T = TypeVar("T")


# -- pure helpers (tested in tests/unit/test_benchmark_helpers.py) -------------------------------------------------

def ratio(ours: float, baseline: float) -> float:
    return ours / baseline if baseline else float("inf")


def percentile(values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile of ``values`` (``fraction`` in 0..1)."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = max(1, min(len(ordered), int(-(-fraction * len(ordered) // 1))))
    return ordered[rank - 1]


def alternating(rounds: int, *measures: Callable[[], T]) -> list[list[T]]:
    """Each measure's results over ``rounds`` rounds taken in turn (a, b, a, b, ...), so that the machine's
    noise falls on every side alike."""
    results: list[list[T]] = [[] for _ in measures]
    for _ in range(rounds):
        for mine, measure in zip(results, measures, strict=True):
            mine.append(measure())
    return results


def seconds_per_item(action: Callable[[], Any], count: int) -> float:
    """How long ``action`` takes, divided by the ``count`` items it handles."""
    started = time.perf_counter()
    action()
    return (time.perf_counter() - started) / count


def basic_auth(api_key: str) -> str:
    return "Basic " + base64.b64encode(f"{api_key}:".encode()).decode()


# -- the run's set-up ----------------------------------------------------------------------------------------

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


def keys_environ(database: str, workdir: Path) -> dict[str, str]:
    """The environment of a receiver process: this one's, without any real keys, with the benchmark's."""
    environ = {name: value for name, value in os.environ.items()
               if not name.startswith(("SEGMENT_", "TRUSTPILOT_", "CALLBACK_", "SMTP_", "MAIL_", "PROMETHEUS_"))}
    environ.update({
        "DATABASE_URL": database,
        "TRUSTPILOT_DOMAIN": DOMAIN,
        "TRUSTPILOT_ENCRYPT_KEY": base64.b64encode(b"e" * 32).decode(),
        "TRUSTPILOT_AUTH_KEY": base64.b64encode(b"a" * 32).decode(),
        "DATA_KEY": base64.b64encode(DATA_KEY).decode(),
        "SEGMENT_API_KEYS": API_KEY,
        "SENDER": "log",
        "PYTHONUNBUFFERED": "1",
        "HOME": str(workdir),
    })
    return environ


def receiver_command() -> list[str]:
    script = Path(sys.executable).with_name("receiver")  # the console script the Procfile runs
    return [str(script)] if script.exists() else [sys.executable, "-m", "receiver"]


def helper_command(name: str, *args: object) -> list[str]:
    """One of the benchmark's own helper processes (see ``benchmarks/__main__.py``)."""
    return [sys.executable, "-m", "benchmarks", name, *map(str, args)]


def helper_environ(environ: dict[str, str] | None = None) -> dict[str, str]:
    """``environ`` (default this process's) with the repository on the path, so ``-m benchmarks`` runs anywhere."""
    base = dict(os.environ if environ is None else environ)
    base["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), base.get("PYTHONPATH", "")]))
    return base


# -- processes and servers, each within a deadline -------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def stop(process: subprocess.Popen[Any], timeout: float = 30.0) -> None:
    """SIGTERM, then SIGKILL if it has not exited within ``timeout`` seconds."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def wait_all(processes: Sequence[subprocess.Popen[Any]], timeout: float) -> None:
    """Until every process has exited; a ``TimeoutExpired`` once ``timeout`` seconds have passed for all."""
    deadline = time.monotonic() + timeout
    for process in processes:
        process.wait(max(0.0, deadline - time.monotonic()))


def first_line(process: subprocess.Popen[bytes], timeout: float) -> str:
    """The first line a process prints on its stdout pipe, waiting at most ``timeout`` seconds for it."""
    assert process.stdout is not None
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        if not selector.select(timeout):
            raise RuntimeError(f"{process.args!r} printed nothing within {timeout:.0f}s")
    return process.stdout.readline().decode().strip()


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


RECEIVER, BARE, GTHREAD = "receiver", "bare", "gthread"


@contextmanager
def server(kind: str, environ: dict[str, str], workdir: Path, workers: int) -> Iterator[str]:
    """``receiver serve`` (the Procfile's web line, after its release line), the bare Flask app under the same
    gunicorn options, or (``GTHREAD``) the receiver's app under the server it had before issue 17."""
    port = free_port()
    if kind == RECEIVER:
        command = [*receiver_command(), "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)]
        health = "/readyz"
    elif kind == GTHREAD:
        command, environ = helper_command("_gthread", port, workers), helper_environ(environ)
        health = "/readyz"
    else:
        command, environ = helper_command("_bare", port, workers), helper_environ(environ)
        health = "/healthz"
    with (workdir / f"{kind}-{port}.log").open("wb") as log_file:
        if kind in (RECEIVER, GTHREAD):  # the release phase: serve migrates SQLite itself, PostgreSQL only when asked
            subprocess.run([*receiver_command(), "db", "upgrade"], env=environ, cwd=workdir, stdout=log_file,
                           stderr=log_file, check=True, timeout=120)
        process = subprocess.Popen(command, env=environ, cwd=workdir, stdout=log_file, stderr=log_file)
        try:
            wait_healthy(f"http://127.0.0.1:{port}{health}", process)
            yield f"http://127.0.0.1:{port}"
        finally:
            stop(process)


def bare_app() -> Any:
    """The baseline: a Flask endpoint that only answers 200 (served by ``serve_bare``, called in process by
    ``stages``)."""
    from flask import Flask, jsonify

    app = Flask("bare")

    @app.post("/segment")
    def segment() -> Any:
        return jsonify({"status": "ok"}), 200

    @app.get("/healthz")
    def healthz() -> Any:
        return jsonify({"status": "ok"}), 200

    return app


def serve_bare(port: int, workers: int) -> None:
    """A Flask endpoint that only answers 200, under ``receiver serve``'s own gunicorn options."""
    from gunicorn.app.base import BaseApplication

    app = bare_app()

    class Bare(BaseApplication):
        def load_config(self) -> None:
            for key, value in gunicorn_options(port, workers).items():
                self.cfg.set(key, value)

        def load(self) -> Any:
            return app

    Bare().run()


def serve_gthread(port: int, workers: int) -> None:
    """The receiver's app as ``receiver serve`` ran it before issue 17: gunicorn's gthread workers (4 threads each,
    no read deadline), the settings read from the environment."""
    from gunicorn.app.base import BaseApplication

    from receiver.config import load_settings
    from receiver.server import metrics_folder

    settings = load_settings(intake=True)
    metrics_folder(settings.server.metrics_dir)
    from receiver.web import create_app  # after the metrics folder: prometheus_client reads it on import

    class Gthread(BaseApplication):
        def load_config(self) -> None:
            for key, value in gthread_options(port, workers).items():
                self.cfg.set(key, value)

        def load(self) -> Any:
            return create_app(settings)

    Gthread().run()


# -- PostgreSQL -----------------------------------------------------------------------------------------------

def postgres_problem(url: str) -> str | None:
    """Why ``url`` cannot be used (one line), or None when it answers."""
    from sqlalchemy import create_engine, text

    engine = create_engine(sqlalchemy_url(url), connect_args={"connect_timeout": 3})
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

    engine = create_engine(sqlalchemy_url(url))
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()


# -- the receiver's internals: the only functions here that import them, and STAGES ------------------------------

@dataclass
class Outbox:
    """What the parts need of a migrated store: its engine, its invitations table, its dialect's name."""

    engine: Any
    invitations: Any
    dialect: str
    sent: str  # the state of a sent invitation
    address_key: Callable[[str], str | None]  # an address's key, as intake stores it beside the address


@contextmanager
def opened_outbox(database: str) -> Iterator[Outbox]:
    """The receiver's store on ``database`` (a ``DATABASE_URL``), migrated, closed afterwards."""
    from receiver.config import database_url
    from receiver.store import SENT, Store, invitations

    store = Store(database_url(database), data_key=DATA_KEY)  # the receiver's: rows keyed as it keys them
    try:
        store.upgrade()
        yield Outbox(engine=store.engine, invitations=invitations, dialect=store.dialect, sent=SENT,
                     address_key=store.address_key)
    finally:
        store.close()


@contextmanager
def metrics_client(database: str, workdir: Path) -> Iterator[tuple[Any, Any]]:
    """The receiver's app on ``database`` (migrated) as a test client, and its store: ``/metrics`` in-process,
    without the network in the figure."""
    from receiver.config import load_settings
    from receiver.store import Store
    from receiver.web import create_app

    settings = load_settings(keys_environ(database, workdir), intake=True)
    store = Store(settings.database.url, timeout_seconds=settings.database.timeout,
                  data_key=settings.database.data_key)
    try:
        store.upgrade()
        yield create_app(settings, store=store).test_client(), store
    finally:
        store.close()


@contextmanager
def wsgi_receiver(database: str, workdir: Path) -> Iterator[tuple[Any, Any]]:
    """The receiver's WSGI app on ``database`` (migrated), as ``receiver serve`` loads it in a worker, and its
    store; logging configured as ``serve`` has it (INFO, text), its lines written to /dev/null."""
    import logging

    from receiver import logs
    from receiver.config import load_settings
    from receiver.store import Store
    from receiver.web import create_app

    logs.setup("INFO", "text")
    with open(os.devnull, "w", encoding="utf-8") as devnull:
        for handler in logging.getLogger().handlers:
            if isinstance(handler, logging.StreamHandler):
                handler.setStream(devnull)
        # DB_TIMEOUT at its most: a 1,000-message batch on a busy machine may take seconds before it reaches the store
        settings = load_settings(keys_environ(database, workdir) | {"DB_TIMEOUT": "9s"}, intake=True)
        store = Store(settings.database.url, timeout_seconds=settings.database.timeout,
                      data_key=settings.database.data_key)
        try:
            store.upgrade()
            yield create_app(settings, store=store), store
        finally:
            store.close()


# Where a request's time goes: each stage is the functions its time is spent in (exclusive of the other stages'
# functions they call); what no stage covers is Flask's and werkzeug's own work, and the code between them.
STAGES: tuple[tuple[str, str, str], ...] = (
    ("auth", "receiver.web.endpoints", "authenticate"),
    ("body", "receiver.web.endpoints", "_raw_body"),
    ("JSON", "receiver.web.endpoints", "_json_body"),
    ("schema", "receiver.intake:Intake", "parse"),
    ("rules", "receiver.intake:Intake", "process"),
    ("store", "receiver.store.outbox:Outbox", "add"),
    ("store", "receiver.store.traits:Traits", "recalled"),
    ("store", "receiver.store.traits:Traits", "remember"),
    ("response", "receiver.web.endpoints", "jsonify"),
    ("logging", "logging:Logger", "_log"),
    ("metrics", "prometheus_client.metrics:MetricWrapperBase", "labels"),
    ("metrics", "prometheus_client.metrics:Counter", "inc"),
    ("metrics", "prometheus_client.metrics:Histogram", "observe"),
)


@contextmanager
def stage_timers(clock: Callable[[], float] = time.perf_counter) -> Iterator[dict[str, float]]:
    """Seconds spent in each of ``STAGES`` while the block runs (each function timed without the stages it calls)."""
    import importlib

    totals: dict[str, float] = {stage: 0.0 for stage, _, _ in STAGES}
    stack: list[list[float]] = []
    undo: list[tuple[Any, str, Any]] = []

    def timed(stage: str, function: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            inner = [0.0]
            stack.append(inner)
            started = clock()
            try:
                return function(*args, **kwargs)
            finally:
                elapsed = clock() - started
                stack.pop()
                totals[stage] += elapsed - inner[0]
                if stack:
                    stack[-1][0] += elapsed
        return wrapper

    for stage, where, name in STAGES:
        module_name, _, class_name = where.partition(":")
        owner = importlib.import_module(module_name)
        owner = getattr(owner, class_name) if class_name else owner
        if name not in vars(owner):
            raise RuntimeError(f"stage {stage}: {where}.{name} is gone; adapt benchmarks/harness.py STAGES")
        original = vars(owner)[name]
        undo.append((owner, name, original))
        setattr(owner, name, timed(stage, original))
    try:
        yield totals
    finally:
        for owner, name, original in reversed(undo):
            setattr(owner, name, original)


def query_plans(store: Any, action: Callable[[], Any]) -> list[str]:
    """Each statement ``action`` sends to the store's database, with the plan the database chooses for it."""
    from sqlalchemy import event

    seen: list[tuple[str, Any]] = []

    def capture(_conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, _many: bool) -> None:
        seen.append((statement, parameters))

    event.listen(store.engine, "before_cursor_execute", capture)
    try:
        action()
    finally:
        event.remove(store.engine, "before_cursor_execute", capture)
    explain = "EXPLAIN QUERY PLAN " if store.dialect == "sqlite" else "EXPLAIN "
    found = []
    with store.engine.connect() as conn:
        for statement, parameters in seen:
            if not statement.lstrip().upper().startswith("SELECT"):
                continue
            rows = conn.exec_driver_sql(explain + statement, parameters).all()
            plan = "; ".join(str(row[-1] if store.dialect == "sqlite" else row[0]).strip() for row in rows)
            found.append(f"`{' '.join(statement.split())[:90]}`: {plan}")
    return found


def sqlalchemy_url(database: str) -> str:
    """A ``DATABASE_URL`` as the receiver hands it to SQLAlchemy (``postgres://`` and the driver's name)."""
    from receiver.config import database_url

    return database_url(database)


def gunicorn_options(port: int, workers: int) -> dict[str, Any]:
    """``receiver serve``'s gunicorn options (its worker class, waitress's loop, included), so that the bare
    baseline runs under the very same."""
    from receiver.server import gunicorn_options as receiver_options

    return receiver_options("127.0.0.1", port, workers)


def server_description(workers: int) -> str:
    """Which server and worker class ``receiver serve`` runs (and the bare endpoint with it), for the table."""
    options = gunicorn_options(free_port(), workers)
    worker = options["worker_class"]
    name = worker if isinstance(worker, str) else f"{worker.__module__}.{worker.__qualname__}"
    return f"gunicorn master, {options['workers']} × {name} (waitress inside, {options['threads']} threads each)"


def gthread_options(port: int, workers: int) -> dict[str, Any]:
    """The gunicorn options of ``receiver serve`` before issue 17: gthread workers, 4 threads, timeout 8 s."""
    return gunicorn_options(port, workers) | {"worker_class": "gthread", "timeout": 8}


def http_sender_and_invitation(url: str) -> tuple[Any, Callable[[int], Any]]:
    """The receiver's HTTP sender (its entry-point factory) posting to ``url``, and a maker of ready
    invitations by id, as the worker hands them to a sender."""
    from receiver.invitation import Invitation
    from receiver.senders import ReadyInvitation
    from receiver.senders.http import from_environ

    sender = from_environ({"CALLBACK_URL": url, "CALLBACK_SECRET": CALLBACK_SECRET})

    def invitation(number: int) -> Any:
        return ReadyInvitation(id=number, invitation=Invitation(message_id="bench", email="jane@example.com",
                                                                name="Jane Roe", ref="R-1", skus=("SKU-1",),
                                                                tags=("segment",), locale="en-GB"),
                               link="https://uk.trustpilot.com/evaluate-bgl/bench.example.com?p=" + "A" * 240)

    return sender, invitation
