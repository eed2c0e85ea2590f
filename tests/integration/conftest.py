"""tests/integration: the store, the senders and the app in the test process. A test here that starts a process
fails, naming tests/system."""

import sqlite3
from collections.abc import Iterator

import pytest

from receiver.store import Store
from support.data import DATA_KEY_BYTES
from support.layers import no_processes


@pytest.fixture(autouse=True)
def _integration_layer(monkeypatch: pytest.MonkeyPatch) -> None:
    no_processes(monkeypatch, "integration")


@pytest.fixture
def locked_sqlite(sqlite_url: str, tmp_path) -> Iterator[str]:
    """A migrated SQLite file that another connection holds exclusively (reads are locked out too)."""
    migrated = Store(sqlite_url, data_key=DATA_KEY_BYTES)
    migrated.upgrade()
    migrated.close()
    holder = sqlite3.connect(tmp_path / "receiver.db", isolation_level=None)
    holder.execute("PRAGMA locking_mode=EXCLUSIVE")
    holder.execute("BEGIN EXCLUSIVE")
    holder.execute("DELETE FROM invitations")
    yield sqlite_url
    holder.execute("ROLLBACK")
    holder.close()
