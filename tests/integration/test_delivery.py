"""The worker's rules, in-process with an injected clock: backoff, dead, retry, delay, expiry, status."""

import re
from datetime import timedelta

from click.testing import CliRunner

from receiver import bgl
from receiver.cli import main
from receiver.config import load_settings
from receiver.intake import Intake
from receiver.invitation import Invitation
from receiver.senders import SendFailure
from receiver.status import read_status, status_lines
from receiver.store import DEAD, EXPIRED, PENDING, RETRYING, SENT
from support.data import base_env, fixture
from support.workers import ScriptedSender, make_worker
from support.workers import add_invitation as add


def state(store, invitation_id=1):
    return store.reports.get(invitation_id).state


def test_a_sent_invitation_carries_a_link_that_decodes_to_it(store, clock):
    add(store, clock, skus=("S1",), tags=("t",))
    sender = ScriptedSender()
    worker, settings = make_worker(store, clock, sender)
    assert worker.drain().sent == 1
    [ready] = sender.delivered
    assert bgl.decode(ready.link, settings.trustpilot.keys) == {"email": "ann@example.com", "name": "Ann Lee", "ref": "R-1",
                                                     "skus": ["S1"], "tags": ["t"]}
    assert state(store) == SENT and store.reports.get(1).sent_at is not None


def test_the_sender_gets_the_stored_invitation_wrapped_with_its_id_and_link(store, clock):
    add(store, clock, skus=("S1", "S2"), tags=("t",), locale="de-DE", ordered_at=clock() - timedelta(hours=1))
    sender = ScriptedSender()
    make_worker(store, clock, sender)[0].drain()
    [ready] = sender.delivered
    assert ready.id == 1 and ready.invitation == Invitation(
        message_id="m-R-1", email="ann@example.com", name="Ann Lee", ref="R-1", skus=("S1", "S2"), tags=("t",),
        locale="de-DE", ordered_at=clock() - timedelta(hours=1))
    fields = ("message_id", "email", "name", "ref", "skus", "tags", "locale")  # what senders have always read
    assert [getattr(ready, name) for name in fields] == [getattr(ready.invitation, name) for name in fields]


def test_transient_failures_back_off_exponentially_then_succeed(store, clock):
    add(store, clock)
    sender = ScriptedSender(SendFailure("timeout", transient=True), SendFailure("451", transient=True))
    worker, _ = make_worker(store, clock, sender)
    assert worker.drain().retrying == 1
    row = store.reports.get(1)
    assert row.state == RETRYING and row.last_error == "timeout" and row.attempts == 1
    assert row.next_attempt_at == (clock.now + timedelta(seconds=60))
    clock.advance(seconds=59)
    assert worker.drain().handled == 0  # not due yet
    clock.advance(seconds=1)
    assert worker.drain().retrying == 1
    assert store.reports.get(1).next_attempt_at == (clock.now + timedelta(seconds=120))
    clock.advance(seconds=120)
    assert worker.drain().sent == 1
    assert state(store) == SENT and store.reports.get(1).attempts == 3 and store.reports.get(1).last_error is None


def test_retry_after_is_honoured_when_longer_than_the_backoff(store, clock):
    add(store, clock)
    worker, _ = make_worker(store, clock, ScriptedSender(SendFailure("429", transient=True, retry_after=900)))
    worker.drain()
    assert store.reports.get(1).next_attempt_at == (clock.now + timedelta(seconds=900))


def test_a_permanent_failure_is_dead_at_once(store, clock):
    add(store, clock)
    worker, _ = make_worker(store, clock, ScriptedSender(SendFailure("550 no such mailbox", transient=False)))
    assert worker.drain().dead == 1
    assert state(store) == DEAD and store.reports.get(1).last_error == "550 no such mailbox (permanent failure)"


def test_transient_failures_are_dead_after_max_attempts(store, clock):
    add(store, clock)
    failures = [SendFailure("timeout", transient=True) for _ in range(3)]
    worker, _ = make_worker(store, clock, ScriptedSender(*failures), MAX_ATTEMPTS="3")
    for _ in range(3):
        worker.drain()
        clock.advance(hours=2)
    assert state(store) == DEAD and store.reports.get(1).attempts == 3
    assert store.reports.get(1).last_error == "timeout (gave up after 3 attempts)"


def test_an_unexpected_sender_error_is_retried_without_its_details(store, clock):
    add(store, clock)
    worker, _ = make_worker(store, clock, ScriptedSender(RuntimeError("ann@example.com exploded")))
    worker.drain()
    assert store.reports.get(1).last_error == "unexpected RuntimeError in the sender"


def test_retry_command_brings_back_retrying_and_dead(store, clock, database_url):
    add(store, clock, "R-1")
    add(store, clock, "R-2")
    add(store, clock, "R-3")
    worker, _ = make_worker(store, clock, ScriptedSender(
        SendFailure("timeout", transient=True), SendFailure("550", transient=False),
        SendFailure("550", transient=False)))
    worker.drain()
    assert [state(store, i) for i in (1, 2, 3)] == [RETRYING, DEAD, DEAD]
    env = base_env(DATABASE_URL=database_url)
    result = CliRunner().invoke(main, ["retry"], env=env)
    assert result.output.strip() == "1 invitation(s) due now"
    result = CliRunner().invoke(main, ["retry", "--id", "2"], env=env)
    assert result.output.strip() == "1 invitation(s) due now"
    assert state(store, 2) == RETRYING and store.reports.get(2).attempts == 0 and state(store, 3) == DEAD
    result = CliRunner().invoke(main, ["retry", "--dead"], env=env)
    assert result.output.strip() == "3 invitation(s) due now"
    assert [state(store, i) for i in (1, 2, 3)] == [RETRYING, RETRYING, RETRYING]
    missing = CliRunner().invoke(main, ["retry", "--id", "99"], env=env)
    assert missing.exit_code == 1


def test_invitation_delay_holds_the_invitation_until_the_order_time_plus_the_delay(store, clock):
    settings = load_settings(base_env(INVITATION_DELAY="3d"))
    order = fixture("order-completed-seed.json")
    order["timestamp"] = clock.now.isoformat()
    Intake(settings.trustpilot, store, clock).process([order])
    worker, _ = make_worker(store, clock, ScriptedSender())
    clock.advance(days=3, seconds=-1)
    assert worker.drain().handled == 0
    clock.advance(seconds=1)
    assert worker.drain().sent == 1


def test_an_old_order_is_due_at_once_when_its_delay_has_passed(store, clock):
    settings = load_settings(base_env(INVITATION_DELAY="12h"))
    order = fixture("order-completed-seed.json")
    order["timestamp"] = (clock.now - timedelta(days=1)).isoformat()
    Intake(settings.trustpilot, store, clock).process([order])
    assert store.reports.get(1).next_attempt_at == clock.now


def test_orders_older_than_max_event_age_expire_instead_of_being_sent(store, clock):
    add(store, clock, "OLD", ordered_at=clock.now - timedelta(days=31))
    add(store, clock, "NEW", ordered_at=clock.now - timedelta(days=29))
    sender = ScriptedSender()
    worker, _ = make_worker(store, clock, sender, MAX_EVENT_AGE="30d")
    tally = worker.drain()
    assert (tally.sent, tally.expired) == (1, 1)
    assert [ready.ref for ready in sender.delivered] == ["NEW"]
    assert state(store, 1) == EXPIRED and store.reports.get(1).attempts == 0


def test_one_invitation_per_order_can_be_turned_off(store, clock):
    settings = load_settings(base_env(DEDUPE_ORDERS="false"))
    first = fixture("order-completed-seed.json")
    second = {**first, "messageId": "another"}
    verdicts = Intake(settings.trustpilot, store, clock).process([first, second, first])
    assert [v.outcome for v in verdicts] == ["accepted", "accepted", "duplicate"]


def test_status_shows_counts_oldest_due_and_errors_without_personal_data(store, clock):
    add(store, clock, "R-1")
    add(store, clock, "R-2")
    worker, _ = make_worker(store, clock, ScriptedSender(SendFailure("550 mailbox unavailable", transient=False)),
                            WORKER_BATCH="1")
    assert worker.run_batch().dead == 1
    clock.advance(hours=2, minutes=5)
    lines = status_lines(read_status(store.reports, now=clock()))
    text = "\n".join(lines)
    assert "  pending    1" in lines and "  dead       1" in lines
    assert "oldest due invitation: waiting 2h 5m" in lines
    assert re.search(r"#1 dead after 1 attempt\(s\) at 2026-11-20 12:00:00Z: 550 mailbox unavailable", text)
    assert "ann@example.com" not in text and "Ann" not in text


def test_status_command_runs(sqlite_url):
    result = CliRunner().invoke(main, ["status"], env=base_env(DATABASE_URL=sqlite_url))
    assert result.exit_code == 0
    assert "oldest due invitation: none due" in result.output and "last errors: none" in result.output


def test_release_on_stop_gives_back_the_rest_of_the_batch(store, clock):
    for ref in ("R-1", "R-2", "R-3"):
        add(store, clock, ref)

    class StopAfterFirst(ScriptedSender):
        def send(self, invitation):
            super().send(invitation)
            worker.stop.set()

    worker, _ = make_worker(store, clock, StopAfterFirst())
    tally = worker.run_batch()
    assert tally.sent == 1
    assert [state(store, i) for i in (1, 2, 3)] == [SENT, PENDING, PENDING]
    assert store.reports.get(2).attempts == 0


class SlowSender(ScriptedSender):
    """Each send takes ``seconds`` of the injected clock; records whether the job's lease still held then."""

    def __init__(self, store, clock, seconds):
        super().__init__()
        self.store, self.clock, self.seconds = store, clock, seconds
        self.lease_held = []

    def send(self, invitation):
        self.clock.advance(seconds=self.seconds)
        row = self.store.reports.get(invitation.id)
        self.lease_held.append(row.state == "sending" and row.next_attempt_at > self.clock.now)
        super().send(invitation)


def test_a_batch_of_slow_sends_never_outlives_its_lease(store, clock):
    for n in range(5):
        add(store, clock, ref=f"R-{n}")
    sender = SlowSender(store, clock, seconds=40)
    worker, _ = make_worker(store, clock, sender, LEASE="120s", WORKER_BATCH="5")
    first = worker.run_batch()
    assert first.sent == 2  # 80 s gone of a 120 s lease: the other three go back, due now, not counted as attempts
    assert [store.reports.get(n).state for n in (3, 4, 5)] == [PENDING] * 3
    assert [store.reports.get(n).attempts for n in (3, 4, 5)] == [0, 0, 0]
    assert worker.drain().sent == 3
    assert sorted(ready.ref for ready in sender.delivered) == [f"R-{n}" for n in range(5)]
    assert sender.lease_held == [True] * 5  # without the guard the 4th and 5th sends ran on an expired lease
