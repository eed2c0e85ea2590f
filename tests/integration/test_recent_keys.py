"""A single message is stored in one statement without reading its customer's key (``Outbox._insert_guarded``): a
returning customer's key is in the process's memory (``Sealer.recent``), and the statement stores the row only if
that key is still the stored one; on PostgreSQL a new customer's key is made in the same statement. Whatever the
cache holds, every stored order opens again with its own address and name, a key shredded meanwhile is never
written again, a key another process made is the one used, and a duplicate is still a duplicate."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import event, select

from receiver.invitation import Invitation
from receiver.store import NewInvitation, Store, customer_keys
from support.data import DATA_KEY_BYTES

NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
ADDRESS = "Returning.Customer@Example.com"


def order(store: Store, number: int, address: str = ADDRESS, *, message_id: str | None = None) -> list[bool | None]:
    invitation = Invitation(message_id=message_id or f"recent-{number}", email=address, name=f"Customer {number}",
                            ref=f"order-{number}")
    return store.outbox.add([NewInvitation(invitation)], domain="shop.example", now=NOW)


def opened(store: Store) -> list[tuple[str, str | None, str | None]]:
    jobs = store.outbox.claim(now=NOW, limit=100, lease_seconds=60)
    store.outbox.release(jobs, now=NOW)
    return sorted((job.invitation.ref, job.invitation.email, job.invitation.name) for job in jobs)


def secrets_of(store: Store, address: str = ADDRESS) -> list[bytes]:
    with store.engine.connect() as conn:
        return [bytes(secret) for secret in conn.execute(
            select(customer_keys.c.secret).where(customer_keys.c.subject == store.address_key(address))).scalars()]


class Statements:
    """The statements an engine sends while the block runs."""

    def __init__(self, store: Store):
        self.engine, self.sent = store.engine, []

    def __enter__(self) -> list[str]:
        event.listen(self.engine, "before_cursor_execute", self._seen)
        return self.sent

    def __exit__(self, *_: object) -> None:
        event.remove(self.engine, "before_cursor_execute", self._seen)

    def _seen(self, _conn, _cursor, statement, _parameters, _context, _many) -> None:
        self.sent.append(statement)


@pytest.mark.both_databases
def test_a_returning_customers_order_is_one_statement_and_opens_again(store: Store) -> None:
    assert order(store, 1) == [True]
    with Statements(store) as sent:
        assert order(store, 2) == [True]
    assert len(sent) == 1 and sent[0].lstrip().startswith("INSERT INTO invitations")
    assert opened(store) == [("order-1", ADDRESS, "Customer 1"), ("order-2", ADDRESS, "Customer 2")]
    assert len(secrets_of(store)) == 1


@pytest.mark.parametrize("database_backend", ["postgresql"], indirect=True)
def test_a_new_customers_order_is_one_statement_on_postgresql(store: Store) -> None:
    with Statements(store) as sent:
        assert order(store, 1, "first.time@example.com") == [True]
    assert len(sent) == 1 and sent[0].lstrip().startswith("WITH made AS")
    assert opened(store) == [("order-1", "first.time@example.com", "Customer 1")]
    assert order(store, 2, "first.time@example.com") == [True]
    assert len(secrets_of(store, "first.time@example.com")) == 1


@pytest.mark.both_databases
def test_a_key_shredded_meanwhile_is_not_written_again(store: Store, database_url: str) -> None:
    assert order(store, 1) == [True]
    [old] = secrets_of(store)
    other = Store(database_url, data_key=DATA_KEY_BYTES)  # another process: this one's memory still has the key
    try:
        other.erasure.forget([other.address_key(ADDRESS)], now=NOW)
    finally:
        other.close()
    assert secrets_of(store) == []

    assert order(store, 2) == [True]
    [new] = secrets_of(store)
    assert new != old
    assert ("order-2", ADDRESS, "Customer 2") in opened(store)
    assert [ref for ref, email, _ in opened(store) if email is not None] == ["order-2"]


@pytest.mark.both_databases
def test_a_key_another_process_made_is_the_one_used(store: Store, database_url: str) -> None:
    other = Store(database_url, data_key=DATA_KEY_BYTES)
    try:
        assert order(other, 1) == [True]
    finally:
        other.close()
    assert order(store, 2) == [True]  # this process has no key for the customer: the statement finds one
    assert order(store, 3) == [True]  # and now keeps it
    assert len(secrets_of(store)) == 1
    assert opened(store) == [(f"order-{n}", ADDRESS, f"Customer {n}") for n in (1, 2, 3)]


@pytest.mark.both_databases
def test_a_cached_key_that_no_longer_matches_is_replaced(store: Store, database_url: str) -> None:
    assert order(store, 1) == [True]
    other = Store(database_url, data_key=DATA_KEY_BYTES)
    try:
        other.erasure.forget([other.address_key(ADDRESS)], now=NOW)
        assert order(other, 2) == [True]  # the customer comes back: another process makes a new key
    finally:
        other.close()
    assert order(store, 3) == [True]  # this process's key is the shredded one: not used, the stored one is
    assert len(secrets_of(store)) == 1
    assert [(ref, email) for ref, email, _ in opened(store) if email] == [("order-2", ADDRESS), ("order-3", ADDRESS)]


@pytest.mark.both_databases
def test_duplicates_are_still_duplicates(store: Store) -> None:
    assert order(store, 1) == [True]
    assert order(store, 1) == [False]  # Segment's retry: the same messageId
    assert order(store, 1, message_id="another-message") == [False]  # the same order again
    assert order(store, 2, "first.time@example.com", message_id="recent-1") == [False]
    assert opened(store) == [("order-1", ADDRESS, "Customer 1")]
