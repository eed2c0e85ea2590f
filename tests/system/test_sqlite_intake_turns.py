"""On SQLite the web processes take turns for their intake writes on a file lock beside the database (as the threads
of one process take turns on a lock of their own): while another process holds the turn, a write waits for it, and
it answers StoreUnavailable (a 503) when the turn does not come within DB_TIMEOUT; once the turn is free, it stores."""

import subprocess
import sys
from datetime import UTC, datetime

import pytest

from receiver.invitation import Invitation
from receiver.store import NewInvitation, Store, StoreUnavailable
from support.data import DATA_KEY_BYTES

NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)

HOLDER = """
import sys
from receiver.store import Store
store = Store(sys.argv[1], data_key=b"d" * 32)
with store.database.intake_write():
    print("held", flush=True)
    sys.stdin.readline()
store.close()
"""


def test_another_processs_turn_is_waited_for_and_bounded_by_the_timeout(sqlite_url):
    store = Store(sqlite_url, timeout_seconds=0.3, data_key=DATA_KEY_BYTES)
    store.upgrade()
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, sqlite_url], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(StoreUnavailable):
            store.outbox.add([order(1)], domain="example.com", now=NOW)
        assert store.reports.counts().get("pending", 0) == 0
    finally:
        holder.communicate("done\n", timeout=30)
    assert store.outbox.add([order(1)], domain="example.com", now=NOW) == [True]
    store.close()


def order(n: int) -> NewInvitation:
    return NewInvitation(Invitation(message_id=f"m-{n}", email="a@example.com", name="Ann Lee", ref=f"R-{n}"))
