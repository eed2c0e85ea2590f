"""Orders wait for their email (issue 13 §4), over real HTTP on SQLite and PostgreSQL, settled by the worker.

An order without a usable email but with a userId or anonymousId is answered 200 ``waiting`` and stored so, for up
to ``EMAIL_WAIT``. The worker resolves it from stored traits (intake's precedence, suppression checked again), or
after the wait makes it ``dead`` with ``Missing email address``. No email and no identity: 400 at once.
"""


import pytest
import requests
from click.testing import CliRunner

from receiver import bgl
from receiver.cli import main
from receiver.status import read_status, status_lines
from receiver.store import DEAD, PENDING, SENT, SUPPRESSED, WAITING
from receiver.store.waiting import RECHECK_MARGIN
from receiver.web import services
from support.data import AUTH_KEY, ENCRYPT_KEY, basic_auth
from support.workers import worker_for

KEYS = bgl.Keys.from_base64(ENCRYPT_KEY, AUTH_KEY)
WAITING_ANSWER = "Waiting up to 15m for the customer's email from an identify call"


class Capture:
    """A sender that keeps what it is handed: each invitation's link, decoded."""

    def __init__(self):
        self.sent = []

    def send(self, ready):
        self.sent.append({**bgl.decode(ready.link, KEYS), "host": ready.link.split("/")[2]})

    def close(self):
        pass


def post(base, body, path="/segment"):
    return requests.post(f"{base}{path}", json=body, headers=basic_auth(), timeout=10)


def order(ref, user_id="u-1", anonymous_id=None, **properties):
    message = {"type": "track", "event": "Order Completed", "messageId": f"order-{ref}",
               "context": {"locale": "de-AT"},
               "properties": {"order_id": ref, "products": [{"sku": f"SKU-{ref}"}], **properties}}
    return {**message, **({"userId": user_id} if user_id else {}), **({"anonymousId": anonymous_id} if anonymous_id
                                                                       else {})}


def identify(number, user_id="u-1", anonymous_id=None, **traits):
    message = {"type": "identify", "messageId": f"identify-{number}", "traits": traits}
    return {**message, **({"userId": user_id} if user_id else {}), **({"anonymousId": anonymous_id} if anonymous_id
                                                                       else {})}


@pytest.fixture
def run_worker(store, settings, clock):
    sender = Capture()
    worker = worker_for(store, settings, sender, clock=clock)

    def run():
        """What this run sent."""
        before = len(sender.sent)
        worker.drain()
        return sender.sent[before:]

    return run


def row(store, ref):
    return store.reports.find(message_id=f"order-{ref}")


def test_an_order_read_before_its_identify_waits_then_goes_to_the_customer(live_app, store, run_worker, clock):
    answer = post(live_app, order("W-1"))
    assert answer.status_code == 200
    assert answer.json() == {"status": "waiting", "message": WAITING_ANSWER, "messageId": "order-W-1"}
    waiting = row(store, "W-1")
    assert (waiting.state, waiting.email, waiting.name) == (WAITING, None, None)
    assert run_worker() == [] and row(store, "W-1").state == WAITING  # nothing to resolve it with yet
    clock.advance(seconds=5)
    post(live_app, identify(1, email="wanda@example.com", first_name="Wanda", last_name="Maximoff"))
    clock.advance(seconds=1)
    assert run_worker() == [{"email": "wanda@example.com", "name": "Wanda Maximoff", "ref": "W-1",
                             "skus": ["SKU-W-1"], "host": "at.trustpilot.com"}]
    assert row(store, "W-1").state == SENT
    assert run_worker() == []  # once


def test_the_order_s_own_name_wins_over_the_identify_s(live_app, store, run_worker, clock):
    post(live_app, order("W-2", name="Ada", surname="Lovelace"))
    post(live_app, identify(1, email="ada@example.com", first_name="Augusta", last_name="King"))
    [sent] = run_worker()
    assert (sent["email"], sent["name"]) == ("ada@example.com", "Ada Lovelace")


def test_after_the_wait_it_is_dead_and_never_sent(live_app, store, run_worker, clock):
    post(live_app, order("W-3", user_id=None, anonymous_id="guest-9"))
    clock.advance(minutes=14, seconds=59)
    assert run_worker() == [] and row(store, "W-3").state == WAITING
    clock.advance(seconds=2)
    assert run_worker() == []
    dead = row(store, "W-3")
    assert (dead.state, dead.last_error, dead.attempts) == (DEAD, "Missing email address", 0)
    post(live_app, identify(1, user_id=None, anonymous_id="guest-9", email="late@example.com"))
    assert run_worker() == [] and row(store, "W-3").state == DEAD  # too late: dead is final


@pytest.mark.env(EMAIL_WAIT="0")
def test_email_wait_0_keeps_the_immediate_400(live_app, store):
    answer = post(live_app, order("W-4"))
    assert answer.status_code == 400 and answer.json()["message"] == "Missing email address"
    assert row(store, "W-4") is None


def test_no_email_and_no_identity_is_400_at_once(live_app, store):
    answer = post(live_app, order("W-5", user_id=None))
    assert answer.status_code == 400 and answer.json()["message"] == "Missing email address"
    assert row(store, "W-5") is None


def test_an_invalid_email_is_never_waited_for(live_app, store, run_worker):
    answer = post(live_app, order("W-6", email="not-an-address"))
    assert answer.status_code == 400 and answer.json()["message"] == "Invalid email address"
    post(live_app, order("W-7"))
    post(live_app, identify(1, email="nope@"))  # an invalid stored address arrives: the order dies at once
    assert run_worker() == []
    assert (row(store, "W-7").state, row(store, "W-7").last_error) == (DEAD, "Invalid email address")


@pytest.mark.env(SUPPRESS_AUDIENCES="review_opt_out")
def test_suppression_is_checked_again_when_the_email_arrives(live_app, store, run_worker):
    post(live_app, order("W-8"))
    post(live_app, identify(1, email="opted@example.com", review_opt_out=True))
    assert run_worker() == []
    suppressed = row(store, "W-8")
    assert (suppressed.state, suppressed.last_error) == (SUPPRESSED, "suppressed: review_opt_out")
    post(live_app, order("W-9", user_id="u-2"))
    post(live_app, {"type": "track", "event": "Audience Entered", "userId": "u-2", "messageId": "aud-1",
                    "properties": {"audience_key": "review_opt_out", "review_opt_out": True}})
    assert run_worker() == [] and row(store, "W-9").state == SUPPRESSED  # no email needed to be suppressed


@pytest.mark.env(SUPPRESS_AUDIENCES="review_opt_out")
def test_an_order_of_a_suppressed_customer_without_email_is_suppressed_at_once(live_app, store):
    post(live_app, identify(1, review_opt_out=True))
    assert post(live_app, order("W-10")).json()["status"] == "suppressed"
    assert (row(store, "W-10").state, row(store, "W-10").email) == (SUPPRESSED, None)


def test_customer_b_on_customer_a_s_browser_waits_then_dies(live_app, store, run_worker, clock):
    """The shared-browser sequence of issue 13 §5: A identifies on a browser, B orders on it without an email."""
    post(live_app, identify(1, user_id="alice", anonymous_id="kiosk-1", email="alice@example.com", first_name="Alice"),
         path="/v1/identify")
    answer = post(live_app, order("W-11", user_id="bob", anonymous_id="kiosk-1"), path="/v1/track")
    assert answer.json()["success"] is True and answer.json()["waiting"] == 1
    assert run_worker() == [] and row(store, "W-11").state == WAITING
    post(live_app, identify(2, user_id="alice", anonymous_id="kiosk-1", email="alice@example.org"))  # news, not Bob's
    assert run_worker() == [] and row(store, "W-11").state == WAITING
    clock.advance(minutes=16)
    assert run_worker() == []
    assert (row(store, "W-11").state, row(store, "W-11").email) == (DEAD, None)


def test_a_trait_stamped_before_the_order_but_stored_after_it_is_seen(live_app, app, store, run_worker, clock):
    """An identify's request may begin before the order's and commit after it: the look allows for that."""
    post(live_app, order("W-12"))
    assert run_worker() == []  # looked at: nothing yet
    early = services(app).intake
    stamped = clock.now - RECHECK_MARGIN / 2
    saved, clock.now = clock.now, stamped
    early.process([identify(1, email="early@example.com")])  # stamped half a margin before the last look
    clock.now = saved
    assert [sent["email"] for sent in run_worker()] == ["early@example.com"]


def test_a_trait_stamped_long_before_the_last_look_is_found_by_the_last_look(live_app, app, store, run_worker, clock):
    post(live_app, order("W-13"))
    clock.advance(minutes=5)
    post(live_app, identify(1, first_name="Sky"))  # news without an email: looked at now
    assert run_worker() == []
    clock.advance(seconds=RECHECK_MARGIN.total_seconds() * 2)
    assert run_worker() == []  # looked at once more (the news was within the margin), then no more
    saved = clock.now
    clock.now = saved - 2 * RECHECK_MARGIN  # another machine's clock, far behind
    services(app).intake.process([identify(2, email="skewed@example.com")])
    clock.now = saved
    assert run_worker() == [] and row(store, "W-13").state == WAITING  # not news: before the last look's margin
    clock.advance(minutes=9)  # the wait is over: one last look at the traits before giving up
    assert [sent["email"] for sent in run_worker()] == ["skewed@example.com"]


@pytest.mark.env(INVITATION_DELAY="1h")
def test_a_resolved_order_keeps_its_invitation_delay(live_app, store, run_worker, clock):
    post(live_app, order("W-14"))
    post(live_app, identify(1, email="later@example.com"))
    assert run_worker() == [] and row(store, "W-14").state == PENDING
    clock.advance(hours=1)
    assert [sent["email"] for sent in run_worker()] == ["later@example.com"]


def test_a_retried_waiting_order_is_a_duplicate(live_app, store):
    assert post(live_app, order("W-15")).json()["status"] == "waiting"
    assert post(live_app, order("W-15")).json()["status"] == "duplicate"
    batch = post(live_app, {"batch": [order("W-16"), order("W-17", user_id=None)]}, path="/v1/batch").json()
    assert (batch["waiting"], batch["rejected"]) == (1, 1)


def test_waiting_shows_in_status_metrics_and_the_worker_s_tally(live_app, app, store, settings, clock, database_url):
    post(live_app, order("W-18"))
    post(live_app, order("W-19", user_id="u-2"))
    assert "  waiting    2" in status_lines(read_status(store.reports, now=clock()))
    result = CliRunner().invoke(main, ["status"], env={"DATABASE_URL": database_url, **dict(settings.environ)})
    assert "waiting    2" in result.output
    metrics = requests.get(f"{live_app}/metrics", timeout=5).text
    assert 'receiver_invitations{state="waiting"} 2.0' in metrics
    assert 'receiver_messages_total{outcome="waiting",type="track"}' in metrics
    post(live_app, identify(1, email="tally@example.com"))
    clock.advance(minutes=20)
    tally = worker_for(store, settings, Capture(), clock=clock).drain()
    assert str(tally) == "sent 1, retrying 0, dead 1, expired 0; waiting orders: 1 resolved, 0 suppressed, 1 waited out"
    metrics = requests.get(f"{live_app}/metrics", timeout=5).text
    assert 'receiver_waiting_orders_total{result="resolved"}' in metrics
    assert 'receiver_invitations{state="waiting"} 0.0' in metrics


def test_forgetting_a_customer_suppresses_their_waiting_orders(live_app, store, clock, run_worker):
    post(live_app, order("W-20", user_id="fay"))
    post(live_app, order("W-21", user_id="u-1"))
    post(live_app, identify(1, user_id="fay", email="fay@example.com"))  # the erasure request comes first
    done = store.erasure.forget([store.address_key("FAY@example.com")], now=clock())
    assert done.invitations == done.stopped == [row(store, "W-20").id] and done.identities == 1
    assert (row(store, "W-20").state, row(store, "W-20").last_error) == (SUPPRESSED, "forgotten")
    assert row(store, "W-21").state == WAITING  # another customer's
    assert run_worker() == []


def test_retention_erases_the_name_of_an_order_that_waited_in_vain(live_app, store, settings, clock, run_worker):
    post(live_app, order("W-22", name="Nobody", surname="Knows"))
    clock.advance(minutes=16)
    run_worker()
    assert (row(store, "W-22").state, row(store, "W-22").name) == (DEAD, "Nobody Knows")
    clock.advance(days=31)
    assert store.erasure.purge(now=clock(), older_than_seconds=settings.worker.retention) == 1
    assert (row(store, "W-22").name, row(store, "W-22").email) == (None, None)
