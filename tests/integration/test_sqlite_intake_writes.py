"""On SQLite, the threads of one web process take turns for their intake writes (instead of sleeping in
SQLite's busy handler), and a turn that does not come within DB_TIMEOUT is a StoreUnavailable (a 503)."""

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from receiver.invitation import Invitation
from receiver.store import NewInvitation, Store, StoreUnavailable
from support.data import DATA_KEY_BYTES


def order(n: int) -> NewInvitation:
    return NewInvitation(Invitation(message_id=f"m-{n}", email="a@example.com", name="Ann Lee", ref=f"R-{n}"))


def test_many_threads_of_one_process_all_store_their_orders(sqlite_url, clock):
    store = Store(sqlite_url, timeout_seconds=5, data_key=DATA_KEY_BYTES)
    store.upgrade()
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda n: store.outbox.add([order(n)], domain="example.com", now=clock()), range(400)))
    assert results == [[True]] * 400
    assert store.reports.counts()["pending"] == 400
    store.close()


def test_a_turn_that_does_not_come_within_the_timeout_is_store_unavailable(sqlite_url, clock):
    store = Store(sqlite_url, timeout_seconds=0.2, data_key=DATA_KEY_BYTES)
    store.upgrade()
    holding, done = threading.Event(), threading.Event()

    def hold() -> None:
        with store.database.intake_write():
            holding.set()
            done.wait(10)

    thread = threading.Thread(target=hold)
    thread.start()
    assert holding.wait(10), "the holding thread never took the intake write turn"
    try:
        with pytest.raises(StoreUnavailable):
            store.outbox.add([order(1)], domain="example.com", now=clock())
    finally:
        done.set()
        thread.join()
    assert store.outbox.add([order(1)], domain="example.com", now=clock()) == [True]
    store.close()
