"""Traits and Engage on SQLite and PostgreSQL: identify calls remembered, orders completed from them, audiences suppress."""

import copy
import json
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
import requests
from sqlalchemy import event

from receiver.store import SUPPRESSED, TraitUpdate
from support.data import FIXTURES, basic_auth, fixture

ENGAGE = json.loads((FIXTURES / "dialects" / "engage-audience-identify.json").read_text())
AUDIENCE = "order_completed_last_30days"


def post(base, body):
    return requests.post(f"{base}/segment", data=json.dumps(body), timeout=10,
                         headers={**basic_auth(), "Content-Type": "application/json"})


def identify(message_id, traits, user_id=None, anonymous_id=None, timestamp="2026-11-20T10:00:00Z", **extra):
    message = {"type": "identify", "messageId": message_id, "traits": traits, "timestamp": timestamp, **extra}
    if user_id:
        message["userId"] = user_id
    if anonymous_id:
        message["anonymousId"] = anonymous_id
    return message


def order(message_id, ref, user_id=None, anonymous_id=None, context_traits=None, **properties):
    message = {"type": "track", "event": "Order Completed", "messageId": message_id,
               "properties": {"order_id": ref, **properties}, "context": {"traits": context_traits or {}}}
    if user_id:
        message["userId"] = user_id
    if anonymous_id:
        message["anonymousId"] = anonymous_id
    return message


# -- the store, on both databases ---------------------------------------------------------------------

@pytest.mark.both_databases
def test_traits_merge_as_segment_merges_them(store, clock):
    now = clock()
    store.traits.remember([TraitUpdate("user:u-1", {"email": "a@example.com", "first_name": "Ann"}, now)], now=now)
    store.traits.remember([TraitUpdate("user:u-1", {"email": "b@example.com", "last_name": "Lee"},
                                       now + timedelta(minutes=1))], now=now)
    assert store.traits.known(["user:u-1", "user:nobody"]) == {
        "user:u-1": {"email": "b@example.com", "first_name": "Ann", "last_name": "Lee"}}


@pytest.mark.both_databases
def test_an_older_identify_arriving_late_does_not_overwrite_a_newer_one(store, clock):
    now = clock()
    store.traits.remember([TraitUpdate("user:u-1", {"email": "new@example.com"}, now)], now=now)
    retried = TraitUpdate("user:u-1", {"email": "old@example.com", "name": "Old Only"}, now - timedelta(hours=3))
    store.traits.remember([retried], now=now)  # Segment retries for hours
    assert store.traits.known(["user:u-1"])["user:u-1"] == {"email": "new@example.com", "name": "Old Only"}


@pytest.mark.both_databases
def test_one_batch_touching_one_trait_many_times_keeps_the_newest(store, clock):
    now = clock()
    updates = [TraitUpdate("user:u-1", {AUDIENCE: value}, now + timedelta(seconds=offset))
               for value, offset in [(True, 5), (False, 9), (True, 1), (True, 9)]]  # a tie: the later one wins
    assert store.traits.remember(updates, now=now) == 1
    assert store.traits.known(["user:u-1"]) == {"user:u-1": {AUDIENCE: True}}


@pytest.mark.both_databases
def test_concurrent_identifies_of_one_user_never_fail_and_the_newest_wins(store, clock):
    now = clock()

    def write(i):
        return store.traits.remember([TraitUpdate("user:u-1", {"email": f"e{i}@example.com", f"t{i % 3}": i},
                                                  now + timedelta(seconds=i))], now=now)

    with ThreadPoolExecutor(8) as pool:
        assert sum(pool.map(write, range(40))) == 80
    assert store.traits.known(["user:u-1"])["user:u-1"] == {"email": "e39@example.com", "t0": 39, "t1": 37, "t2": 38}


# -- identify, then an order that does not say who the customer is ----------------------------------

def test_an_order_takes_email_and_name_from_the_stored_traits_of_its_user(live_app, store):
    assert post(live_app, identify("id-1", {"email": "ada@example.com", "firstName": "Ada", "lastName": "Lovelace",
                                            "phone": "+44 20 7946 0000"}, user_id="u-1")).status_code == 200
    response = post(live_app, order("o-1", "R-1", user_id="u-1"))
    assert response.status_code == 200 and response.json()["status"] == "accepted"
    row = store.reports.find(message_id="o-1")
    assert (row.email, row.name) == ("ada@example.com", "Ada Lovelace")
    # only what an invitation can use is kept
    assert store.traits.known(["user:u-1"])["user:u-1"] == {"email": "ada@example.com", "first_name": "Ada",
                                                             "last_name": "Lovelace"}


def test_user_id_first_then_anonymous_id(live_app, store):
    post(live_app, [identify("id-a", {"email": "anon@example.com", "name": "Anon"}, anonymous_id="a-1"),
                    identify("id-u", {"email": "user@example.com"}, user_id="u-1")])
    post(live_app, [order("o-1", "R-1", anonymous_id="a-1"),  # a guest: the anonymous id's traits
                    order("o-2", "R-2", user_id="u-1", anonymous_id="a-1"),  # both: the user's email, the guest's name
                    order("o-3", "R-3", user_id="u-unknown", anonymous_id="a-1")])
    rows = [store.reports.find(message_id=m) for m in ("o-1", "o-2", "o-3")]
    assert [(row.email, row.name) for row in rows] == [
        ("anon@example.com", "Anon"), ("user@example.com", "Anon"), ("anon@example.com", "Anon")]


def test_the_properties_then_the_context_traits_come_before_the_stored_traits(live_app, store):
    post(live_app, identify("id-1", {"email": "stored@example.com", "name": "Stored"}, user_id="u-1"))
    post(live_app, [order("o-1", "R-1", user_id="u-1", email="props@example.com"),
                    order("o-2", "R-2", user_id="u-1", context_traits={"email": "ctx@example.com"})])
    assert store.reports.find(message_id="o-1").email == "props@example.com"
    assert (store.reports.find(message_id="o-2").email, store.reports.find(message_id="o-2").name) == (
        "ctx@example.com", "Stored")


def test_traits_only_email_fixture(live_app, store):
    body = json.loads((FIXTURES / "dialects" / "order-completed-traits-only-email.json").read_text())
    assert post(live_app, body).json()["status"] == "accepted"
    row = store.reports.find(message_id="traits-3c4d5e6f-0001")
    assert (row.email, row.name, row.locale) == ("lucia.garcia@example.es", "Lucía García", "es-ES")


@pytest.mark.env(EMAIL_WAIT="0")  # with a wait (the default) it waits, then dies: tests/test_waiting.py
def test_an_order_of_a_stranger_is_still_rejected(live_app, store):
    response = post(live_app, order("o-1", "R-1", user_id="never-identified"))
    assert response.status_code == 400 and response.json()["message"] == "Missing email address"


def test_only_plain_values_are_remembered(live_app, store):
    post(live_app, identify("id-1", {"email": "x" * 2000, "name": {"first": "A"}, "first_name": "Ann",
                                     "last_name": None}, user_id="u-1"))
    assert store.traits.known(["user:u-1"]) == {"user:u-1": {"first_name": "Ann", "last_name": None}}


def test_an_identify_not_meant_for_us_is_not_remembered(live_app, store):
    response = post(live_app, identify("id-1", {"email": "x@example.com"}, user_id="u-1",
                                       integrations={"Trustpilot": False}))
    assert response.json()["status"] == "ignored"
    assert store.traits.known(["user:u-1"]) == {}


# -- Engage ------------------------------------------------------------------------------------------

def count_transactions(store):
    commits: list[int] = []
    event.listen(store.engine, "commit", lambda conn: commits.append(1))
    return commits


@pytest.mark.env(SUPPRESS_AUDIENCES=AUDIENCE)
def test_an_engage_audience_sync_is_one_transaction_however_many_identifies(live_app, store):
    members = []
    for number in range(1500):
        member = copy.deepcopy(ENGAGE)
        member["messageId"] = f"engage-{number}"
        member["userId"] = f"member-{number}"
        member["anonymousId"] = f"anon-{number}"
        members.append(member)
    commits = count_transactions(store)
    response = post(live_app, members)
    assert response.status_code == 200 and response.json()["ignored"] == 1500
    assert len(commits) == 1
    known = store.traits.known([f"user:member-{n}" for n in range(1500)] + ["anon:anon-1499"])
    assert len(known) == 1501 and all(traits == {AUDIENCE: True} for traits in known.values())


@pytest.mark.env(SUPPRESS_AUDIENCES=f"unsubscribed, {AUDIENCE}")
def test_a_member_of_a_suppressing_audience_gets_no_invitation(live_app, store, clock):
    assert post(live_app, ENGAGE).status_code == 200  # user-3301 joins the audience
    seed = fixture("order-completed-seed.json")
    seed["userId"] = ENGAGE["userId"]
    response = post(live_app, seed)
    assert response.status_code == 200
    assert response.json() == {"status": "suppressed", "message": f"Suppressed: the customer is in {AUDIENCE}",
                               "messageId": seed["messageId"]}
    row = store.reports.find(message_id=seed["messageId"])
    assert (row.state, row.last_error) == (SUPPRESSED, f"suppressed: {AUDIENCE}")
    assert store.outbox.claim(now=clock(), limit=10, lease_seconds=60) == []  # the worker never sees it
    assert post(live_app, seed).json()["status"] == "duplicate"  # Segment's retry

    left = copy.deepcopy(ENGAGE)  # Engage says so when the user leaves the audience
    left.update(messageId="engage-left", timestamp="2026-11-22T09:30:00.000Z", traits={AUDIENCE: False})
    post(live_app, left)
    later = order("o-later", "R-later", user_id=ENGAGE["userId"], email="back@example.com")
    assert post(live_app, later).json()["status"] == "accepted"


@pytest.mark.env(SUPPRESS_AUDIENCES="Unsubscribed")
def test_suppression_by_the_event_own_traits_and_in_a_batch(live_app, store):
    batch = [order("o-1", "R-1", anonymous_id="a-1", email="a@example.com", context_traits={"UNSUBSCRIBED": True}),
             order("o-2", "R-2", anonymous_id="a-2", email="b@example.com", context_traits={"unsubscribed": False}),
             order("o-3", "R-3", anonymous_id="a-3", email="c@example.com", context_traits={"unsubscribed": "true"})]
    response = post(live_app, batch)
    assert (response.json()["accepted"], response.json()["suppressed"]) == (1, 2)
    assert store.reports.counts()[SUPPRESSED] == 2 and store.reports.counts()["pending"] == 1
    assert store.reports.find(message_id="o-1").last_error == "suppressed: unsubscribed"


@pytest.mark.env(SUPPRESS_AUDIENCES="unsubscribed")
def test_an_identify_and_an_order_in_the_same_batch(live_app, store):
    response = post(live_app, [order("o-1", "R-1", user_id="u-1", email="u@example.com"),
                               identify("id-1", {"unsubscribed": True}, user_id="u-1")])
    # a batch's identify calls are stored before its orders are read
    assert response.json()["suppressed"] == 1
