"""Shared fixtures: settings with the reference keys, real SQLite files and the local PostgreSQL.

Helpers that are not fixtures live in the ``support`` package."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from receiver.config import load_settings
from receiver.store import Store
from receiver.web import create_app
from support.clock import FakeClock
from support.data import base_env
from support.postgres import fresh_postgres_url


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
    store.upgrade()  # what `receiver db upgrade` does; the app that tests build on it never migrates
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
