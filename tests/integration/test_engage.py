"""Engage in every form it arrives (issue 13 §3), over real HTTP on SQLite and PostgreSQL: audience identify calls
routed with ``{"All": false, "<destination>": true}``, and ``Audience Entered`` / ``Audience Exited`` track events,
stored as the same trait and suppressing the customer's next order."""

import pytest
import requests

from receiver.segment import as_flag, audience_change, parse_message
from receiver.store import PENDING, SUPPRESSED
from support.data import basic_auth

ROUTED = {"All": False, "Webhooks": True}  # as Engage sends to a destination Segment knows as "Webhooks"
PERSONAS = {"computation_class": "audience", "computation_key": "review_opt_out", "space_id": "spa_1"}
SUPPRESS = "review_opt_out,unsubscribed"


def post(base, body, path="/segment"):
    return requests.post(f"{base}{path}", json=body, headers=basic_auth(), timeout=10)


def audience_event(event, user_id, key="review_opt_out", member=None, number=1, **extra):
    properties = {"audience_key": key, "audience_name": key.replace("_", " ").title()}
    if member is not None:
        properties[key] = member
    return {"type": "track", "event": event, "userId": user_id, "messageId": f"personas-{user_id}-{event}-{number}",
            "context": {"personas": {**PERSONAS, "computation_key": key}}, "integrations": ROUTED,
            "properties": properties, **extra}


def order(user_id, ref):
    return {"type": "track", "event": "Order Completed", "userId": user_id, "messageId": f"order-{ref}",
            "integrations": ROUTED, "properties": {"order_id": ref, "email": f"{user_id}@example.com"}}


def state_of(store, ref):
    return store.reports.find(message_id=f"order-{ref}").state


@pytest.mark.env(SUPPRESS_AUDIENCES=SUPPRESS)
def test_an_audience_identify_routed_to_webhooks_suppresses(live_app, store):
    identify = {"type": "identify", "userId": "u-1", "messageId": "personas-id-1", "integrations": ROUTED,
                "traits": {"review_opt_out": True}, "context": {"personas": PERSONAS}}
    assert post(live_app, identify).json()["status"] == "ignored"
    assert store.traits.known(["user:u-1"]) == {"user:u-1": {"review_opt_out": True}}
    answer = post(live_app, order("u-1", "A-1")).json()
    assert answer["status"] == "suppressed" and answer["message"] == "Suppressed: the customer is in review_opt_out"
    assert state_of(store, "A-1") == SUPPRESSED


@pytest.mark.env(SUPPRESS_AUDIENCES=SUPPRESS)
def test_audience_entered_then_exited_as_track_events(live_app, store):
    entered = post(live_app, audience_event("Audience Entered", "u-2", member=True)).json()
    assert entered == {"status": "ignored", "message": "Ignored: audience noted, audience events make no invitation",
                       "messageId": "personas-u-2-Audience Entered-1"}
    assert post(live_app, order("u-2", "B-1")).json()["status"] == "suppressed"
    post(live_app, audience_event("Audience Exited", "u-2", member=False))
    assert store.traits.known(["user:u-2"]) == {"user:u-2": {"review_opt_out": False}}
    assert post(live_app, order("u-2", "B-2")).json()["status"] == "accepted"
    assert (state_of(store, "B-1"), state_of(store, "B-2")) == (SUPPRESSED, PENDING)


@pytest.mark.env(SUPPRESS_AUDIENCES=SUPPRESS)
@pytest.mark.parametrize("member, suppressed", [("true", True), ("TRUE", True), ("false", False), (True, True),
                                                (False, False), (None, True)])  # None: the event's name says
def test_membership_as_a_boolean_a_string_or_the_event_name(live_app, store, member, suppressed):
    post(live_app, audience_event("Audience Entered", "u-3", key="unsubscribed", member=member))
    assert post(live_app, order("u-3", "C-1")).json()["status"] == ("suppressed" if suppressed else "accepted")


@pytest.mark.env(SUPPRESS_AUDIENCES=SUPPRESS)
def test_an_identify_string_true_suppresses_and_false_does_not(live_app, store):
    for user_id, value in (("u-4", "true"), ("u-5", "false")):
        post(live_app, {"type": "identify", "userId": user_id, "messageId": f"id-{user_id}", "integrations": ROUTED,
                        "traits": {"unsubscribed": value}})
    assert post(live_app, order("u-4", "D-1")).json()["status"] == "suppressed"
    assert post(live_app, order("u-5", "D-2")).json()["status"] == "accepted"


@pytest.mark.env(SUPPRESS_AUDIENCES="j_o_post_purchase__opt_out_x7k2")
def test_a_journeys_step_without_audience_key_names_its_audience_in_personas(live_app, store):
    journey = {"type": "track", "event": "Audience Entered", "userId": "u-6", "messageId": "personas-journey-1",
               "integrations": ROUTED, "properties": {"j_o_post_purchase__opt_out_x7k2": "true"},
               "context": {"personas": {"computation_class": "audience",
                                        "computation_key": "j_o_post_purchase__opt_out_x7k2"}}}
    assert post(live_app, journey).status_code == 200
    assert post(live_app, order("u-6", "E-1")).json()["status"] == "suppressed"


@pytest.mark.env(SUPPRESS_AUDIENCES=SUPPRESS)
def test_an_audience_we_do_not_suppress_by_is_not_stored(live_app, store):
    answer = post(live_app, audience_event("Audience Entered", "u-7", key="big_spenders", member=True)).json()
    assert answer["message"] == "Ignored: audience events make no invitation"
    assert store.traits.known(["user:u-7"]) == {}


@pytest.mark.env(SUPPRESS_AUDIENCES=SUPPRESS)
def test_an_audience_event_and_an_order_in_one_batch(live_app, store):
    batch = [order("u-8", "F-1"), audience_event("Audience Entered", "u-8", member=True)]
    answer = post(live_app, batch).json()  # the batch's traits are stored before its orders are read
    assert (answer["suppressed"], answer["ignored"]) == (1, 1)
    routed = audience_event("Audience Exited", "u-9", key="unsubscribed")
    direct = audience_event("Audience Exited", "u-10", key="unsubscribed", integrations={})
    answer = post(live_app, {"batch": [routed, direct]}, path="/v1/batch").json()
    assert answer["success"] is True and answer["ignored"] == 2
    # on /v1/* the whole routing rule applies: {"All": false, "Webhooks": true} is not for us there
    assert store.traits.known(["user:u-9", "user:u-10"]) == {"user:u-10": {"unsubscribed": False}}


@pytest.mark.parametrize("value, flag", [(True, True), ("true", True), (" False ", False), ("yes", None), (1, None),
                                         (None, None)])
def test_as_flag(value, flag):
    assert as_flag(value) is flag


def test_audience_change_reads_only_audience_events():
    assert audience_change(parse_message(audience_event("audience_entered", "u", member="false"))) == (
        "review_opt_out", False)
    assert audience_change(parse_message(order("u", "G-1"))) is None
    nameless = audience_event("Audience Entered", "u")
    nameless["properties"] = {}
    assert audience_change(parse_message(nameless)) is None  # no key, and personas names none the properties hold
