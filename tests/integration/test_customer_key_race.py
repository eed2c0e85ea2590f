"""A new customer's first orders, stored at the same moment by several processes (each its own engine, as web
processes are): every one of them makes or finds the same customer key, so every stored order opens again with
its own address and name. On PostgreSQL a single message gets its key in one statement (``Sealer._one``), whose
snapshot cannot see a key a racer commits after it began: that case reads the key again."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest

from receiver.invitation import Invitation
from receiver.store import NewInvitation, Store
from support.data import DATA_KEY_BYTES

RACERS = 8
NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)


@pytest.mark.both_databases
@pytest.mark.parametrize("address", ["new.customer@example.com", "Nouvelle.Cliente@Exemple.fr"])
def test_racing_first_orders_of_one_customer_all_open_again(store: Store, database_url: str, address: str) -> None:
    stores = [Store(database_url, data_key=DATA_KEY_BYTES) for _ in range(RACERS)]
    start = threading.Barrier(RACERS)
    results: dict[int, list[bool | None]] = {}
    failures: list[BaseException] = []

    def order(number: int) -> None:
        invitation = Invitation(message_id=f"race-{number}", email=address, name=f"Customer {number}",
                                ref=f"order-{number}")
        try:
            start.wait()
            results[number] = stores[number].outbox.add([NewInvitation(invitation)], domain="shop.example", now=NOW)
        except BaseException as exc:  # noqa: BLE001 - reported below
            failures.append(exc)

    threads = [threading.Thread(target=order, args=(number,)) for number in range(RACERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for one in stores:
        one.close()

    assert failures == []
    assert results == {number: [True] for number in range(RACERS)}
    jobs = store.outbox.claim(now=NOW, limit=RACERS * 2, lease_seconds=60)
    assert sorted((job.invitation.ref, job.invitation.email, job.invitation.name) for job in jobs) == sorted(
        (f"order-{number}", address, f"Customer {number}") for number in range(RACERS))
    assert len({job.address_key for job in jobs}) == 1
