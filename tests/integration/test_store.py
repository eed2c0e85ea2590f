"""The outbox on real SQLite files and the real local PostgreSQL."""

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import text

from receiver.invitation import Invitation
from receiver.store import DEAD, PENDING, RETRYING, SENDING, SENT, SUPPRESSED, NewInvitation, Store
from support.data import DATA_KEY_BYTES
from support.wait import wait_until

pytestmark = pytest.mark.both_databases


def inv(message_id="m-1", ref="R-1", email="a@example.com", **kw):
    return NewInvitation(Invitation(message_id=message_id, email=email, name="Ann Lee", ref=ref, skus=("S1",),
                                    tags=("t",), **kw))


def test_add_stores_once_per_message_and_per_order(store, clock):
    now = clock()
    assert store.outbox.add([inv()], domain="example.com", now=now) == [True]
    assert store.outbox.add([inv()], domain="example.com", now=now) == [False]  # Segment's retry
    assert store.outbox.add([inv(message_id="m-2")], domain="example.com", now=now) == [False]  # same order again
    assert store.outbox.add([inv(message_id="m-3")], domain="other.example", now=now) == [True]  # another domain
    assert store.reports.counts()[PENDING] == 2
    row = store.reports.find(message_id="m-1")
    assert (row.email, row.ref, row.skus, row.tags, row.state) == (
        "a@example.com", "R-1", ("S1",), ("t",), PENDING)


def test_add_stores_each_row_with_its_order_key_state_due_time_and_reason(store, clock):
    later = clock() + timedelta(hours=2)
    rows = [
        NewInvitation(inv("m-1", "R-1").invitation, order_key="message:m-1"),
        NewInvitation(inv("m-2", "R-2").invitation, state=SUPPRESSED, reason="suppressed: unsubscribed"),
        NewInvitation(inv("m-3", "R-3").invitation, due_at=later),
        NewInvitation(inv("m-4", "R-4").invitation, order_key="message:m-1"),  # the order key of the first
    ]
    assert store.outbox.add(rows, domain="example.com", now=clock()) == [True, True, True, False]
    first, second, third = (store.reports.find(message_id=f"m-{n}") for n in (1, 2, 3))
    assert (first.order_key, first.state, first.next_attempt_at, first.last_error) == (
        "message:m-1", PENDING, clock(), None)
    assert (second.order_key, second.state, second.last_error) == ("R-2", SUPPRESSED, "suppressed: unsubscribed")
    assert third.next_attempt_at == later and store.reports.find(message_id="m-4") is None
    assert [job.invitation.message_id for job in store.outbox.claim(now=clock(), limit=5, lease_seconds=60)] == ["m-1"]


def test_times_go_in_and_come_out_as_aware_utc_and_are_stored_as_naive_utc(store, clock):
    ordered = datetime(2026, 11, 20, 14, 30, tzinfo=timezone(timedelta(hours=2)))  # 12:30 UTC
    due = datetime(2026, 11, 21, 9, 0, tzinfo=timezone(timedelta(hours=-5)))  # 14:00 UTC
    store.outbox.add([NewInvitation(inv(ordered_at=ordered).invitation, due_at=due)], domain="example.com", now=clock())
    row = store.reports.find(message_id="m-1")
    assert (row.ordered_at, row.next_attempt_at, row.created_at) == (ordered, due, clock())
    assert {moment.tzinfo for moment in (row.ordered_at, row.next_attempt_at, row.created_at)} == {UTC}
    assert row.sent_at is None and store.reports.oldest_due(now=due) == due
    [job] = store.outbox.claim(now=due, limit=1, lease_seconds=60)
    assert job.invitation.ordered_at == ordered and job.invitation.ordered_at.tzinfo is UTC
    with store.engine.connect() as conn:  # what the migrations' columns hold: naive UTC, as before the type existed
        stored = conn.execute(text("SELECT ordered_at, created_at FROM invitations")).one()
    as_datetime = [value if isinstance(value, datetime) else datetime.fromisoformat(value) for value in stored]
    assert as_datetime == [datetime(2026, 11, 20, 12, 30), clock().replace(tzinfo=None)]


def test_a_naive_time_is_refused(store, clock):
    with pytest.raises(Exception, match="timezone-aware"):
        store.outbox.add([inv()], domain="example.com", now=clock().replace(tzinfo=None))
    assert sum(store.reports.counts().values()) == 0


def test_a_batch_with_duplicates_inside_it(store, clock):
    items = [inv("m-1", "R-1"), inv("m-1", "R-1"), inv("m-2", "R-1"), inv("m-3", "R-3")]
    assert store.outbox.add(items, domain="example.com", now=clock()) == [True, False, False, True]


def test_concurrent_deliveries_of_one_message_make_one_invitation(store, clock):
    def deliver(i):
        return store.outbox.add([inv(message_id="same" if i % 2 else f"m-{i}", ref="R-9")], domain="example.com",
                                now=clock())[0]

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(deliver, range(40)))
    assert results.count(True) == 1
    assert sum(store.reports.counts().values()) == 1


def test_claim_leases_due_rows_to_one_worker(store, clock):
    store.outbox.add([inv("m-1", "R-1"), inv("m-2", "R-2")], domain="example.com", now=clock())
    first = store.outbox.claim(now=clock(), limit=10, lease_seconds=60)
    assert [job.invitation.ref for job in first] == ["R-1", "R-2"] and all(job.attempts == 1 for job in first)
    assert store.outbox.claim(now=clock(), limit=10, lease_seconds=60) == []
    assert store.reports.counts()[SENDING] == 2


def test_an_expired_lease_makes_the_row_due_again_and_the_old_holder_cannot_finish_it(store, clock):
    store.outbox.add([inv()], domain="example.com", now=clock())
    [stale] = store.outbox.claim(now=clock(), limit=1, lease_seconds=0.3)  # leases run on the database's clock
    [fresh] = wait_until(lambda: store.outbox.claim(now=clock(), limit=1, lease_seconds=60), "the lease to run out",
                         timeout=5)
    assert fresh.id == stale.id and fresh.attempts == 2
    assert store.outbox.mark_sent(stale, now=clock()) is False
    assert store.outbox.mark_sent(fresh, now=clock()) is True
    assert store.reports.get(fresh.id).state == SENT


def test_retry_and_dead(store, clock):
    store.outbox.add([inv("m-1", "R-1"), inv("m-2", "R-2")], domain="example.com", now=clock())
    one, two = store.outbox.claim(now=clock(), limit=2, lease_seconds=60)
    later = clock.now.replace(hour=13)
    assert store.outbox.mark_retry(one, now=clock(), at=later, error="timeout")
    assert store.outbox.mark_dead(two, now=clock(), error="550 no such mailbox")
    assert store.outbox.claim(now=clock(), limit=5, lease_seconds=60) == []
    clock.now = later
    [again] = store.outbox.claim(now=clock(), limit=5, lease_seconds=60)
    assert again.id == one.id and again.attempts == 2
    assert store.reports.get(two.id).state == DEAD and store.reports.get(two.id).last_error == "550 no such mailbox"
    assert store.reports.get(one.id).last_error == "timeout"


def test_release_gives_rows_back_without_counting_the_attempt(store, clock):
    store.outbox.add([inv()], domain="example.com", now=clock())
    jobs = store.outbox.claim(now=clock(), limit=1, lease_seconds=600)
    store.outbox.release(jobs, now=clock())
    [job] = store.outbox.claim(now=clock(), limit=1, lease_seconds=600)
    assert job.attempts == 1


def test_rows_survive_a_new_store_on_the_same_file(sqlite_url, clock):
    first = Store(sqlite_url, data_key=DATA_KEY_BYTES)
    first.upgrade()
    first.outbox.add([inv()], domain="example.com", now=clock())
    first.close()
    second = Store(sqlite_url, data_key=DATA_KEY_BYTES)
    assert second.reports.counts()[PENDING] == 1
    assert second.reports.counts()[RETRYING] == 0
    second.close()
