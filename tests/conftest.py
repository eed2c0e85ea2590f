"""Shared fixtures: settings with the reference keys, real SQLite files and the local PostgreSQL."""

from __future__ import annotations

import base64
import json
import os
import socket
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from werkzeug.serving import make_server

from receiver.config import Settings, load_settings
from receiver.links import LinkBuilder
from receiver.store import Store
from receiver.web import create_app
from receiver.worker import Worker

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures"
SHARED_VECTORS = ROOT.parent / "shared" / "reference" / "bgl-vectors.json"
# A copy of Trustpilot's reference vectors, so that the tests stand on their own.
VECTORS = json.loads((ROOT / "tests" / "data" / "bgl-vectors.json").read_text())
ENCRYPT_KEY = "p5+FYz/GQQGalwaH2kd1XF/hDWwkXJjLjvljC5MS7TM="
AUTH_KEY = "C5UYaa2LWj0HY8M8/ZTG/J5rTVl27l+KvCHvVR2mAWU="
API_KEY = "test-api-key"
POSTGRES_URL = os.environ.get("RECEIVER_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")


def base_env(**extra: str) -> dict[str, str]:
    env = {
        "TRUSTPILOT_DOMAIN": "example.com",
        "TRUSTPILOT_ENCRYPT_KEY": ENCRYPT_KEY,
        "TRUSTPILOT_AUTH_KEY": AUTH_KEY,
        "SEGMENT_API_KEYS": f"other-key,{API_KEY}",
    }
    env.update(extra)
    return env


def worker_for(store: Store, settings: Settings, sender: Any, **options: Any) -> Worker:
    """A worker as the CLI builds one: its own group of the settings, and the link builder of the Trustpilot group."""
    return Worker(store, settings.worker, sender, links=LinkBuilder.from_settings(settings.trustpilot), **options)


def basic_auth(key: str = API_KEY) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{key}:".encode()).decode()}


def fixture(name: str) -> dict:
    return json.loads((FIXTURES / name).read_text())


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self, start: datetime = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)):
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


def postgres_reachable() -> str | None:
    """None if the local PostgreSQL answers, else why not."""
    try:
        engine = create_engine(POSTGRES_URL.replace("postgresql://", "postgresql+psycopg://", 1),
                               connect_args={"connect_timeout": 2})
        with engine.connect() as conn:
            conn.execute(text("select 1"))
        engine.dispose()
    except Exception as exc:  # noqa: BLE001 - any failure means: skip
        return f"PostgreSQL at {POSTGRES_URL} is unreachable ({type(exc).__name__})"
    return None


_PG_PROBLEM: list[str | None] = []


def require_postgres() -> str:
    if not _PG_PROBLEM:
        _PG_PROBLEM.append(postgres_reachable())
    if _PG_PROBLEM[0]:
        pytest.skip(_PG_PROBLEM[0])
    return POSTGRES_URL.replace("postgresql://", "postgresql+psycopg://", 1)


def fresh_postgres_url() -> str:
    """The test database, emptied of every table."""
    url = require_postgres()
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()
    return url


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'receiver.db'}"
    return fresh_postgres_url()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'receiver.db'}"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    store = Store(database_url)
    store.create_schema()
    yield store
    store.close()


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "env(**variables): environment variables added to base_env for `settings`")


@pytest.fixture
def settings(database_url: str, request: pytest.FixtureRequest):
    """The settings of ``base_env``; a test marked ``@pytest.mark.env(NAME="value")`` adds or overrides variables."""
    marker = request.node.get_closest_marker("env")
    return load_settings(base_env(DATABASE_URL=database_url, **(marker.kwargs if marker else {})), intake=True)


@pytest.fixture
def app(settings, store, clock):
    app = create_app(settings, store=store, clock=clock)
    app.testing = True
    return app


@pytest.fixture
def client(app):
    return app.test_client()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def live_app(app) -> Iterator[str]:
    """The app served over a real socket on 127.0.0.1 by a threaded WSGI server; yields its base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    # a short poll interval: shutdown() waits up to one interval, on every test that serves
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(5)
