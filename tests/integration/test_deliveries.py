"""Every delivery attempt is one row of ``deliveries``, written with its outcome; an invitation's history, delivery
health (``store.deliveries.summary``), ``receiver status`` and ``/metrics`` are read from those rows, so that they
agree whichever process reads them."""

from dataclasses import replace
from datetime import timedelta

import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import delete, func, select

from receiver.config import load_settings
from receiver.invitation import Invitation
from receiver.senders import SendFailure
from receiver.status import read_status, status_lines
from receiver.store import Attempt, NewInvitation, Store, deliveries, invitations
from receiver.web import create_app
from support.data import base_env
from support.workers import ScriptedSender, make_worker
from support.workers import add_invitation as add

pytestmark = pytest.mark.both_databases


class Broken:
    """A sender with a bug: it raises something that is not a ``SendFailure``."""

    def send(self, invitation):
        raise KeyError("jane@example.com")

    def close(self):
        pass


def test_each_attempt_is_one_row_with_its_outcome_code_and_fixed_text(store, clock):
    add(store, clock)
    failure = SendFailure("the callback answered 503 Service Unavailable", transient=True, code="http 503")
    worker, _ = make_worker(store, clock, ScriptedSender(failure))
    worker.drain()
    first_at = clock()
    clock.advance(seconds=60)
    worker.drain()
    history = store.deliveries.history(1)
    assert [(row.outcome, row.code, row.error, row.sender) for row in history] == [
        ("transient", "http 503", "the callback answered 503 Service Unavailable", "log"),
        ("sent", None, None, "log")]
    assert [row.attempted_at for row in history] == [first_at, first_at + timedelta(seconds=60)]
    assert all(row.duration_seconds >= 0 and row.invitation_id == 1 for row in history)
    assert [row.failed for row in history] == [True, False]


def test_a_permanent_failure_and_a_sender_bug_are_recorded_without_personal_data(store, clock):
    add(store, clock, "R-1")
    worker, _ = make_worker(store, clock, ScriptedSender(SendFailure("550 mailbox unavailable", transient=False,
                                                                     code="smtp 550")))
    worker.drain()
    add(store, clock, "R-2")
    make_worker(store, clock, Broken())[0].drain()
    [dead] = store.deliveries.history(1)
    [bug] = store.deliveries.history(2)
    assert (dead.outcome, dead.code, dead.error) == ("permanent", "smtp 550", "550 mailbox unavailable")
    assert (bug.outcome, bug.code, bug.error) == ("error", "KeyError", "unexpected KeyError in the sender")
    assert store.deliveries.history(3) == []


def test_an_attempt_is_recorded_even_when_the_lease_was_lost(store, clock):
    add(store, clock)
    [job] = store.outbox.claim(now=clock(), limit=1, lease_seconds=60)
    attempt = Attempt(sender="log", outcome="sent", attempted_at=clock(), duration_seconds=0.01)
    assert store.outbox.mark_sent(replace(job, lease_token="not-ours"), now=clock(), attempt=attempt) is False
    assert [row.outcome for row in store.deliveries.history(1)] == ["sent"]  # the attempt was made all the same
    assert store.reports.get(1).state == "sending"
    assert store.outbox.mark_sent(job, now=clock(), attempt=attempt) is True
    assert len(store.deliveries.history(1)) == 2 and store.reports.get(1).state == "sent"


def test_the_summary_has_the_last_success_the_failures_and_the_oldest_undelivered(store, clock):
    start = clock()
    empty = store.deliveries.summary(start)
    assert (empty.last_success, empty.failures_last_hour, empty.failure_ratio, empty.undelivered) == (None, 0, 0, 0)
    add(store, clock, "R-1")
    worker, _ = make_worker(store, clock, ScriptedSender(), WORKER_BATCH="1")
    worker.drain()  # R-1 sent at start
    failing = SendFailure("timeout", transient=True, code="timeout")
    clock.advance(minutes=20)
    add(store, clock, "R-2")
    add(store, clock, "R-3")
    worker.sender = ScriptedSender(failing, failing)
    worker.run_batch()  # R-2 fails at +20m
    worker.run_batch()  # R-3 fails at +20m
    clock.advance(minutes=5)
    summary = store.deliveries.summary(clock())
    assert summary.last_success == start
    assert (summary.failures_last_hour, summary.attempts_window, summary.failures_window) == (2, 2, 2)
    assert summary.failure_ratio == 1.0
    assert summary.undelivered == 2 and summary.oldest_undelivered == start + timedelta(minutes=20)
    assert summary.undelivered_age(clock()) == timedelta(minutes=5)
    assert summary.stalled(clock()) == timedelta(minutes=5)  # since the work was queued, not since the success
    clock.advance(minutes=11)
    later = store.deliveries.summary(clock())
    assert (later.attempts_window, later.failures_last_hour) == (0, 2)  # out of the 15 minutes, not of the hour


def test_a_delayed_order_counts_once_due_and_a_retried_one_from_its_first_attempt(store, clock):
    add(store, clock, "R-1")
    with store.engine.begin() as conn:  # as INVITATION_DELAY stores it: due in a day
        conn.execute(invitations.update().values(next_attempt_at=clock() + timedelta(days=1)))
    assert store.deliveries.summary(clock()).undelivered == 0
    clock.advance(days=1)
    worker, _ = make_worker(store, clock, ScriptedSender(SendFailure("timeout", transient=True)))
    worker.drain()
    clock.advance(minutes=3)
    summary = store.deliveries.summary(clock())
    assert summary.undelivered == 1 and summary.undelivered_age(clock()) == timedelta(minutes=3)


def test_the_rows_go_with_their_invitation(store, clock, database_backend):
    add(store, clock)
    make_worker(store, clock, ScriptedSender())[0].drain()
    if database_backend == "sqlite":
        pytest.skip("SQLite's foreign keys are off (Alembic's batch migrations need them so); nothing deletes rows")
    with store.engine.begin() as conn:
        conn.execute(delete(invitations))
        assert conn.execute(select(func.count()).select_from(deliveries)).scalar() == 0


def test_status_prints_the_last_successful_delivery_and_the_failures_of_the_last_hour(store, clock):
    add(store, clock, "R-1")
    worker, _ = make_worker(store, clock, ScriptedSender(), WORKER_BATCH="1")
    worker.drain()
    clock.advance(minutes=10)
    add(store, clock, "R-2")
    worker.sender = ScriptedSender(SendFailure("timeout", transient=True, code="timeout"))
    worker.drain()
    clock.advance(minutes=2)
    lines = status_lines(read_status(store.reports, now=clock(), deliveries=store.deliveries))
    assert "last successful delivery: 2026-11-20 12:00:00Z (12m 0s ago)" in lines
    assert "failed delivery attempts in the last hour: 1" in lines
    assert "failure ratio, last 15 minutes: 50% (1 of 2 attempts)" in lines
    assert "oldest undelivered invitation: 2m 0s (1 undelivered)" in lines


def metric_values(client):
    found = {}
    for family in text_string_to_metric_families(client.get("/metrics").get_data(as_text=True)):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def test_metrics_count_the_attempts_of_workers_in_other_processes(store, database_url, clock):
    """The worker writes through one store, the web app scrapes through another (two processes, one database):
    the counts and the last success come from the table, not from the scraped process."""
    settings = load_settings(base_env(DATABASE_URL=database_url), intake=True)
    for ref in ("R-1", "R-2"):
        add(store, clock, ref)
    worker, _ = make_worker(store, clock, ScriptedSender(SendFailure("timeout", transient=True)), WORKER_BATCH="1")
    worker.drain()
    web_store = Store(database_url)
    try:
        found = metric_values(create_app(settings, store=web_store, clock=clock).test_client())
    finally:
        web_store.close()
    assert found[("receiver_deliveries_total", (("result", "transient"), ("sender", "log")))] == 1
    assert found[("receiver_deliveries_total", (("result", "sent"), ("sender", "log")))] == 1
    assert found[("receiver_last_delivery_timestamp_seconds", ())] == clock().timestamp()
    assert found[("receiver_delivery_failure_ratio_15m", ())] == 0.5
    assert found[("receiver_undelivered_invitations", ())] == 1


def test_purge_and_forget_clear_the_attempts_error_texts_and_keep_the_rest(store, clock):
    add(store, clock, "R-1")
    worker, _ = make_worker(store, clock, ScriptedSender(SendFailure("550 refused", transient=False, code="smtp 550")),
                            WORKER_BATCH="1")
    worker.drain()
    bo = Invitation(message_id="m-R-2", email="bo@example.com", name="Bo", ref="R-2")
    store.outbox.add([NewInvitation(bo)], domain="example.com", now=clock())
    worker.sender = ScriptedSender(SendFailure("451 later", transient=True, code="smtp 451"))
    worker.drain()
    clock.advance(days=31)
    assert store.erasure.purge(now=clock(), older_than_seconds=30 * 86400) == 1  # R-1 is dead, R-2 still retrying
    assert [(row.code, row.error) for row in store.deliveries.history(1)] == [("smtp 550", None)]
    assert [(row.code, row.error) for row in store.deliveries.history(2)] == [("smtp 451", "451 later")]
    store.erasure.forget([store.address_key("bo@example.com")], now=clock())
    assert [(row.outcome, row.code, row.error) for row in store.deliveries.history(2)] == [
        ("transient", "smtp 451", None)]
