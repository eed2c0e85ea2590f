"""The outbox's less travelled paths and the queue's reads, on both databases: an empty add, expiry, retrying by id
and of the dead, the due count and the last errors. (The worker, the CLI and the metrics use them on SQLite.)"""

from datetime import timedelta

import pytest

from receiver.invitation import Invitation
from receiver.store import DEAD, EXPIRED, PENDING, RETRYING, NewInvitation

pytestmark = pytest.mark.both_databases


def add(store, clock, *refs):
    rows = [NewInvitation(Invitation(message_id=f"m-{ref}", email="a@example.com", name="Ann Lee", ref=ref))
            for ref in refs]
    return store.outbox.add(rows, domain="example.com", now=clock())


def test_an_empty_add_stores_nothing(store, clock):
    assert store.outbox.add([], domain="example.com", now=clock()) == []
    assert sum(store.reports.counts().values()) == 0


def test_an_expired_job_is_never_sent_and_its_attempt_is_not_counted(store, clock):
    add(store, clock, "R-1")
    [job] = store.outbox.claim(now=clock(), limit=1, lease_seconds=60)
    assert store.outbox.mark_expired(job, now=clock(), error="the order is older than 30d")
    row = store.reports.get(job.id)
    assert (row.state, row.attempts, row.last_error) == (EXPIRED, 0, "the order is older than 30d")
    assert store.outbox.claim(now=clock() + timedelta(days=1), limit=1, lease_seconds=60) == []


def test_retry_brings_back_the_retrying_then_one_by_id_then_every_dead_one(store, clock):
    add(store, clock, "R-1", "R-2", "R-3")
    first, second, third = store.outbox.claim(now=clock(), limit=3, lease_seconds=60)
    store.outbox.mark_retry(first, now=clock(), at=clock() + timedelta(hours=1), error="timeout")
    store.outbox.mark_dead(second, now=clock(), error="550")
    store.outbox.mark_dead(third, now=clock(), error="550")
    assert store.outbox.retry(now=clock()) == 1
    assert store.reports.get(first.id).next_attempt_at == clock()
    assert store.outbox.retry(now=clock(), invitation_id=second.id) == 1
    assert (store.reports.get(second.id).state, store.reports.get(second.id).attempts) == (RETRYING, 0)
    assert store.reports.get(third.id).state == DEAD
    assert store.outbox.retry(now=clock(), invitation_id=999) == 0
    assert store.outbox.retry(now=clock(), dead=True) == 3
    assert {store.reports.get(job.id).state for job in (first, second, third)} == {RETRYING}


def test_the_due_count_and_the_oldest_due_leave_out_what_is_not_due_yet(store, clock):
    add(store, clock, "R-1", "R-2")
    store.outbox.add([NewInvitation(Invitation(message_id="m-later", email="a@example.com", name="Ann", ref="L-1"),
                                    due_at=clock() + timedelta(hours=1))], domain="example.com", now=clock())
    clock.advance(minutes=5)
    assert store.reports.due_count(now=clock()) == 2
    assert store.reports.oldest_due(now=clock()) == clock() - timedelta(minutes=5)
    assert store.reports.counts()[PENDING] == 3


def test_the_last_errors_are_the_newest_first_and_as_many_as_asked(store, clock):
    add(store, clock, "R-1", "R-2", "R-3")
    for number, job in enumerate(store.outbox.claim(now=clock(), limit=3, lease_seconds=60)):
        clock.advance(seconds=1)
        store.outbox.mark_dead(job, now=clock(), error=f"550 number {number}")
    errors = store.reports.last_errors(limit=2)
    assert [(error.state, error.last_error, error.attempts) for error in errors] == [
        (DEAD, "550 number 2", 1), (DEAD, "550 number 1", 1)]
    assert errors[0].updated_at == clock()
