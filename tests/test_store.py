"""The outbox on real SQLite files and the real local PostgreSQL."""

from concurrent.futures import ThreadPoolExecutor

from receiver.invitation import Invitation
from receiver.store import DEAD, PENDING, RETRYING, SENDING, SENT, Store


def inv(message_id="m-1", ref="R-1", email="a@example.com", **kw):
    return Invitation(message_id=message_id, email=email, name="Ann Lee", ref=ref, skus=("S1",), tags=("t",), **kw)


def test_add_stores_once_per_message_and_per_order(store, clock):
    now = clock()
    assert store.add([inv()], domain="example.com", now=now) == [True]
    assert store.add([inv()], domain="example.com", now=now) == [False]  # Segment's retry
    assert store.add([inv(message_id="m-2")], domain="example.com", now=now) == [False]  # same order again
    assert store.add([inv(message_id="m-3")], domain="other.example", now=now) == [True]  # another domain
    assert store.counts()[PENDING] == 2
    row = store.find(message_id="m-1")
    assert (row["email"], row["ref"], row["skus"], row["tags"], row["state"]) == (
        "a@example.com", "R-1", ["S1"], ["t"], PENDING)


def test_a_batch_with_duplicates_inside_it(store, clock):
    items = [inv("m-1", "R-1"), inv("m-1", "R-1"), inv("m-2", "R-1"), inv("m-3", "R-3")]
    assert store.add(items, domain="example.com", now=clock()) == [True, False, False, True]


def test_concurrent_deliveries_of_one_message_make_one_invitation(store, clock):
    def deliver(i):
        return store.add([inv(message_id="same" if i % 2 else f"m-{i}", ref="R-9")], domain="example.com",
                         now=clock())[0]

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(deliver, range(40)))
    assert results.count(True) == 1
    assert sum(store.counts().values()) == 1


def test_claim_leases_due_rows_to_one_worker(store, clock):
    store.add([inv("m-1", "R-1"), inv("m-2", "R-2")], domain="example.com", now=clock())
    first = store.claim(now=clock(), limit=10, lease_seconds=60)
    assert [job.ref for job in first] == ["R-1", "R-2"] and all(job.attempts == 1 for job in first)
    assert store.claim(now=clock(), limit=10, lease_seconds=60) == []
    assert store.counts()[SENDING] == 2


def test_an_expired_lease_makes_the_row_due_again_and_the_old_holder_cannot_finish_it(store, clock):
    store.add([inv()], domain="example.com", now=clock())
    [stale] = store.claim(now=clock(), limit=1, lease_seconds=60)
    clock.advance(seconds=61)
    [fresh] = store.claim(now=clock(), limit=1, lease_seconds=60)
    assert fresh.id == stale.id and fresh.attempts == 2
    assert store.mark_sent(stale, now=clock()) is False
    assert store.mark_sent(fresh, now=clock()) is True
    assert store.get(fresh.id)["state"] == SENT


def test_retry_and_dead(store, clock):
    store.add([inv("m-1", "R-1"), inv("m-2", "R-2")], domain="example.com", now=clock())
    one, two = store.claim(now=clock(), limit=2, lease_seconds=60)
    later = clock.now.replace(hour=13)
    assert store.mark_retry(one, now=clock(), at=later, error="timeout")
    assert store.mark_dead(two, now=clock(), error="550 no such mailbox")
    assert store.claim(now=clock(), limit=5, lease_seconds=60) == []
    clock.now = later
    [again] = store.claim(now=clock(), limit=5, lease_seconds=60)
    assert again.id == one.id and again.attempts == 2
    assert store.get(two.id)["state"] == DEAD and store.get(two.id)["last_error"] == "550 no such mailbox"
    assert store.get(one.id)["last_error"] == "timeout"


def test_release_gives_rows_back_without_counting_the_attempt(store, clock):
    store.add([inv()], domain="example.com", now=clock())
    jobs = store.claim(now=clock(), limit=1, lease_seconds=600)
    store.release(jobs, now=clock())
    [job] = store.claim(now=clock(), limit=1, lease_seconds=600)
    assert job.attempts == 1


def test_rows_survive_a_new_store_on_the_same_file(sqlite_url, clock):
    first = Store(sqlite_url)
    first.create_schema()
    first.add([inv()], domain="example.com", now=clock())
    first.close()
    second = Store(sqlite_url)
    assert second.counts()[PENDING] == 1
    assert second.counts()[RETRYING] == 0
    second.close()
