"""Shared fixtures of every layer: settings with the reference keys, real SQLite files and the local PostgreSQL.

``database_url`` (and ``store``, ``settings``, ``app``, ``client``, ``live_app`` on it) is a migrated, empty
database: a SQLite file of the test's own, copied from one migrated at the start of the run. A test whose subject
is the store is marked ``@pytest.mark.both_databases`` and runs twice, on SQLite and on the PostgreSQL schema the
run shares (migrated once, emptied before each test). ``unmigrated_database_url`` is an empty, unmigrated one
(on PostgreSQL: the schema dropped, for this test alone). ``sqlite_url`` names the test's SQLite file, which
nothing has made unless the test also asks for ``database_url`` (then it is that database).

Helpers that are not fixtures live in the ``support`` package."""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from receiver.config import load_settings
from receiver.store import Store
from receiver.web import create_app
from support.clock import FakeClock
from support.data import DATA_KEY_BYTES, base_env
from support.postgres import SharedSchema, fresh_postgres_url, require_postgres

TESTS = Path(__file__).parent
BACKENDS = ("sqlite", "postgresql")
MIGRATED = pytest.StashKey[str]()  # the database_url this fixture migrated, so that `store` need not


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "env(**variables): environment variables added to base_env for `settings`")
    config.addinivalue_line("markers", "both_databases: run on SQLite and on PostgreSQL (tests whose subject is the "
                                       "store: its queries, claims, traits, erasure, outages, migrations)")
    config.addinivalue_line("markers", "static_tool: a unit test that runs a tool over the source in a process of "
                                       "its own (lint-imports); it opens no database and no socket")


def pytest_runtest_setup(item: pytest.Item) -> None:
    if item.path.parent == TESTS:
        pytest.fail(f"{item.path.name} is not in a layer: move it to tests/unit, tests/integration or tests/system "
                    "(README, Development)", pytrace=False)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "database_backend" in metafunc.fixturenames and metafunc.definition.get_closest_marker("both_databases"):
        metafunc.parametrize("database_backend", BACKENDS, indirect=True)


@pytest.fixture
def database_backend(request: pytest.FixtureRequest) -> str:
    """``sqlite``, or for a test marked ``both_databases`` each of ``sqlite`` and ``postgresql`` in turn."""
    return getattr(request, "param", "sqlite")


@pytest.fixture(scope="session")
def migrated_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file migrated once per run; each test's database starts as a copy of it."""
    path = tmp_path_factory.mktemp("migrated") / "receiver.db"
    store = Store(f"sqlite:///{path}")
    store.upgrade()
    store.close()  # the last connection's close folds the WAL into the file: the file alone is the database
    return path


@pytest.fixture(scope="session")
def postgres_schema() -> Iterator[SharedSchema]:
    """The PostgreSQL schema the run's tests share, migrated once here (skips where PostgreSQL is down)."""
    schema = SharedSchema(require_postgres())
    schema.migrate()
    yield schema
    schema.close()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'receiver.db'}"


@pytest.fixture
def database_url(database_backend: str, sqlite_url: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    """A migrated, empty database of the test's own (see the module's docstring)."""
    if database_backend == "postgresql":
        url = request.getfixturevalue("postgres_schema").emptied()
    else:
        shutil.copyfile(request.getfixturevalue("migrated_sqlite"), tmp_path / "receiver.db")
        url = sqlite_url
    request.node.stash[MIGRATED] = url
    return url


@pytest.fixture
def unmigrated_database_url(database_backend: str, sqlite_url: str) -> str:
    """An empty database without any table: a SQLite file not made yet, or the PostgreSQL schema dropped."""
    return fresh_postgres_url() if database_backend == "postgresql" else sqlite_url


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def store(database_url: str, request: pytest.FixtureRequest) -> Iterator[Store]:
    store = Store(database_url, data_key=DATA_KEY_BYTES)  # the key of base_env, as the app's settings have it
    if request.node.stash.get(MIGRATED, None) != database_url:
        store.upgrade()  # a test's own database_url: migrated as `receiver db upgrade` would
    yield store
    store.close()


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
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.005}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(5)


@pytest.fixture
def dotenv_dir(tmp_path, monkeypatch):
    """A folder with a ``.env`` that sets two settings the environment does not (the .env rule's tests)."""
    (tmp_path / ".env").write_text("TRUSTPILOT_TAGS=from-dotenv\nDEFAULT_NAME=Dotenv\n")
    for name in ("TRUSTPILOT_TAGS", "DEFAULT_NAME"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path
