"""Leases are judged by the database's clock (issue 17 §9): workers whose own clocks differ by minutes neither take
an invitation another is still sending nor leave an expired one waiting, on SQLite and PostgreSQL alike."""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import timedelta

from receiver.clock import utcnow
from receiver.config import load_settings
from receiver.invitation import Invitation
from receiver.store import SENDING, SENT, NewInvitation, Store
from support.data import DATA_KEY_BYTES, base_env
from support.wait import wait_until
from support.workers import worker_for

SKEW = timedelta(minutes=10)


def shifted(delta: timedelta):
    return lambda: utcnow() + delta


def add_one(store: Store) -> int:
    store.outbox.add([NewInvitation(Invitation(message_id="m-1", email="ann@example.com", name="Ann", ref="R-1"))],
                     domain="example.com", now=utcnow() - timedelta(minutes=30))
    return store.reports.find(message_id="m-1").id


def test_a_worker_whose_clock_runs_minutes_ahead_cannot_take_a_live_lease(store):
    add_one(store)
    [held] = store.outbox.claim(now=utcnow(), limit=1, lease_seconds=60)
    assert store.outbox.claim(now=utcnow() + SKEW, limit=1, lease_seconds=60) == []  # its own clock says: expired
    assert store.outbox.mark_sent(held, now=utcnow())


def test_a_worker_whose_clock_runs_behind_still_takes_an_expired_lease(store):
    add_one(store)
    [stale] = store.outbox.claim(now=utcnow(), limit=1, lease_seconds=0.3)
    [fresh] = wait_until(lambda: store.outbox.claim(now=utcnow() - SKEW, limit=1, lease_seconds=60),
                         "the lease to run out by the database's clock", timeout=5)
    assert fresh.id == stale.id and fresh.attempts == 2
    assert not store.outbox.mark_sent(stale, now=utcnow()) and store.outbox.mark_sent(fresh, now=utcnow())


def test_the_lease_is_written_in_the_columns_own_form(store):
    """SQLite keeps times as text: the database's time must be written as SQLAlchemy writes them, to compare and to
    read back exactly; PostgreSQL's must be UTC in a column without a time zone."""
    row_id = add_one(store)
    before = utcnow()
    store.outbox.claim(now=before - SKEW, limit=1, lease_seconds=90)
    row = store.reports.get(row_id)
    assert row.state == SENDING
    assert before + timedelta(seconds=89) < row.next_attempt_at < utcnow() + timedelta(seconds=91)
    # a day ahead by the worker's clock is still inside the lease by the database's
    assert store.outbox.claim(now=utcnow() + timedelta(days=1), limit=1, lease_seconds=0) == []


def test_only_the_holder_extends_a_lease(store):
    add_one(store)
    [held] = store.outbox.claim(now=utcnow(), limit=1, lease_seconds=0.5)
    assert store.outbox.extend(replace(held, lease_token="not-the-token"), lease_seconds=60) is False
    assert store.outbox.extend(held, lease_seconds=60) is True
    threading.Event().wait(0.7)  # past the first lease: the extended one holds
    assert store.outbox.claim(now=utcnow(), limit=1, lease_seconds=60) == []
    assert store.outbox.mark_sent(held, now=utcnow())
    assert store.outbox.extend(held, lease_seconds=60) is False  # its outcome is recorded


class Blocking:
    """A sender whose send waits until the test lets it go; records what it sent."""

    def __init__(self) -> None:
        self.sending, self.release, self.sent = threading.Event(), threading.Event(), []

    def send(self, invitation) -> None:
        self.sending.set()
        assert self.release.wait(10)
        self.sent.append(invitation.id)

    def close(self) -> None:
        pass


class Recording(Blocking):
    def send(self, invitation) -> None:
        self.sent.append(invitation.id)


def test_two_workers_whose_clocks_differ_by_minutes_deliver_once(store, database_url):
    row_id = add_one(store)
    settings = load_settings(base_env(DATABASE_URL=database_url, LEASE="60s"))
    first, second = Blocking(), Recording()
    other = Store(database_url, data_key=DATA_KEY_BYTES)  # the second worker's own engine, as a second process has
    try:
        on_time = worker_for(store, settings, first, clock=utcnow)
        ahead = worker_for(other, settings, second, clock=shifted(SKEW))
        thread = threading.Thread(target=on_time.run_batch)
        thread.start()
        assert first.sending.wait(10)
        assert ahead.run_batch().handled == 0  # ten minutes ahead, and still the lease holds
        first.release.set()
        thread.join(10)
        on_time.close()
        ahead.close()
    finally:
        other.close()
    assert first.sent == [row_id] and second.sent == []
    assert store.reports.get(row_id).state == SENT
