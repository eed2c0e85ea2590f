"""An unreachable or locked database is ``StoreUnavailable`` from every kind of operation (a write, a claim, a read):
the engine's ``handle_error`` hook translates the driver's errors, so no call needs its own guard. Programming
errors stay what they are, and a pooled connection the server dropped is replaced without an error."""

from collections.abc import Callable

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import StatementError

from receiver.invitation import Invitation
from receiver.store import NewInvitation, Store, StoreUnavailable
from support.data import DATA_KEY_BYTES
from support.net import free_port

pytestmark = pytest.mark.both_databases


def order(message_id: str = "m-1", ref: str = "R-1") -> NewInvitation:
    return NewInvitation(Invitation(message_id=message_id, email="a@example.com", name="Ann Lee", ref=ref))


OPERATIONS: dict[str, Callable[[Store, object], object]] = {
    "add": lambda store, now: store.outbox.add([order()], domain="example.com", now=now),
    "claim": lambda store, now: store.outbox.claim(now=now, limit=1, lease_seconds=60),
    "counts": lambda store, now: store.reports.counts(),
}


@pytest.mark.parametrize("operation", OPERATIONS)
def test_sqlite_in_a_missing_folder(operation, tmp_path, clock):
    store = Store(f"sqlite:///{tmp_path / 'missing' / 'receiver.db'}", timeout_seconds=0.2, data_key=DATA_KEY_BYTES)
    with pytest.raises(StoreUnavailable):
        OPERATIONS[operation](store, clock())
    store.close()


@pytest.mark.parametrize("operation", OPERATIONS)
def test_sqlite_locked_past_the_timeout(operation, locked_sqlite, clock):
    store = Store(locked_sqlite, timeout_seconds=0.2, data_key=DATA_KEY_BYTES)
    with pytest.raises(StoreUnavailable):
        OPERATIONS[operation](store, clock())
    store.close()


@pytest.mark.parametrize("operation", OPERATIONS)
def test_postgresql_at_a_closed_port(operation, clock):
    store = Store(f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/x", timeout_seconds=1, data_key=DATA_KEY_BYTES)
    with pytest.raises(StoreUnavailable):
        OPERATIONS[operation](store, clock())
    with pytest.raises(StoreUnavailable):
        store.is_migrated()
    store.close()


def test_programming_errors_stay_what_they_are(store, clock):
    no_ref = NewInvitation(Invitation(message_id="m-1", email="a@example.com", name="Ann", ref=None))  # type: ignore[arg-type]
    # a row the database refuses is no outage either: since issue 17 it is refused alone (its message rejected)
    assert store.outbox.add([no_ref], domain="example.com", now=clock()) == [None]
    with pytest.raises(StatementError) as raised:
        store.outbox.claim(now=clock().replace(tzinfo=None), limit=1, lease_seconds=60)
    assert not isinstance(raised.value, StoreUnavailable) and isinstance(raised.value.orig, ValueError)
    assert store.outbox.add([order()], domain="example.com", now=clock()) == [True]  # and the store still works


def test_a_connection_the_server_dropped_is_replaced_not_an_outage(postgres_schema, clock):
    url = postgres_schema.emptied()
    store = Store(url, data_key=DATA_KEY_BYTES)
    with store.engine.connect() as conn:  # the pool's one connection, checked in again afterwards
        pid = conn.execute(text("SELECT pg_backend_pid()")).scalar()
    admin = create_engine(url)
    with admin.connect() as conn:
        conn.execute(text("SELECT pg_terminate_backend(:pid, 5000)"), {"pid": pid})  # returns once it is gone
    admin.dispose()
    assert store.reports.counts()["pending"] == 0  # the pool's checkout found it dead and opened a fresh one
    store.close()
