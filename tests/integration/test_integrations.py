"""Segment's integrations object as a destination sees it (issue 13 §2).

On ``/segment`` Segment has routed the message to us already: only an explicit false for one of our names
(``DESTINATION_NAMES``) ignores it. On ``/v1/*``, where the receiver stands in for Segment's own API, the whole
routing rule applies: ``All: false`` ignores unless one of our names is true.
"""

import json

import pytest
import requests

from receiver.segment import routed_to_us
from support.data import basic_auth, fixture

IGNORED = "Ignored: its integrations turn this destination off (DESTINATION_NAMES)"


@pytest.fixture
def database_url(sqlite_url):
    return sqlite_url


@pytest.mark.parametrize("integrations, on_segment, on_api", [
    ({}, True, True),
    ({"All": True}, True, True),
    ({"Trustpilot": False}, False, False),
    ({"trustpilot": False}, False, False),
    ({"TRUSTPILOT ": False}, False, False),
    ({"All": False}, True, False),
    ({"All": False, "Trustpilot": True}, True, True),
    ({"All": False, "Trustpilot": {"some": "setting"}}, True, True),
    ({"All": True, "Trustpilot": False}, False, False),
    ({"Google Analytics": False}, True, True),
    ({"All": False, "Google Analytics": True}, True, False),
    ({"All": False, "Webhooks": True}, True, False),
    ({"Trustpilot": None}, True, True),
])
def test_who_a_message_is_for(integrations, on_segment, on_api):
    assert routed_to_us(integrations, ("Trustpilot",)) is on_segment
    assert routed_to_us(integrations, ("Trustpilot",), as_api=True) is on_api


@pytest.mark.parametrize("integrations, on_segment, on_api", [
    ({"All": False, "Webhooks": True}, True, True),
    ({"All": False, "webhooks (actions)": True}, True, True),
    ({"Webhooks": False}, False, False),
    ({"All": False, "Trustpilot": True, "Webhooks": False}, False, False),  # one of ours turned off is off
])
def test_every_one_of_our_names_counts(integrations, on_segment, on_api):
    names = ("Trustpilot", "Webhooks", "Webhooks (Actions)")
    assert routed_to_us(integrations, names) is on_segment
    assert routed_to_us(integrations, names, as_api=True) is on_api


def stored(store):
    return sum(store.reports.counts().values())


@pytest.mark.parametrize("integrations, status", [
    ({"Trustpilot": False}, "ignored"),
    ({"All": False}, "accepted"),  # routed to us by Segment all the same
    ({"All": False, "Webhooks": True}, "accepted"),
    ({"All": False, "Trustpilot": True}, "accepted"),
    ({"All": True, "Salesforce": False}, "accepted"),
])
def test_on_the_destination_endpoint_only_an_explicit_false_ignores(live_app, store, integrations, status):
    message = {**fixture("order-completed-seed.json"), "integrations": integrations}
    response = requests.post(f"{live_app}/segment", json=message, headers=basic_auth(), timeout=5)
    assert response.status_code == 200 and response.json()["status"] == status
    assert stored(store) == (1 if status == "accepted" else 0)
    if status == "ignored":
        assert response.json()["message"] == IGNORED


@pytest.mark.parametrize("integrations, status", [
    ({"All": False}, "ignored"),
    ({"All": False, "Webhooks": True}, "ignored"),
    ({"All": False, "Trustpilot": True}, "accepted"),
    ({"Trustpilot": False}, "ignored"),
    ({}, "accepted"),
])
def test_on_the_tracking_api_the_whole_routing_rule_applies(live_app, store, integrations, status):
    message = {**fixture("order-completed-seed.json"), "integrations": integrations}
    response = requests.post(f"{live_app}/v1/track", json=message, headers=basic_auth(), timeout=5)
    assert response.status_code == 200 and response.json()["success"] is True
    assert response.json()[status] == 1 and stored(store) == (1 if status == "accepted" else 0)


@pytest.mark.env(DESTINATION_NAMES="Trustpilot, webhooks")
def test_destination_names_adds_the_name_segment_knows_us_by(live_app, store):
    routed = {**fixture("order-completed-seed.json"), "integrations": {"All": False, "Webhooks": True}}
    response = requests.post(f"{live_app}/v1/batch", json={"batch": [routed]}, headers=basic_auth(), timeout=5)
    assert response.json()["accepted"] == 1
    off = {**fixture("order-completed-non-ascii-name.json"), "integrations": {"WEBHOOKS": False}}
    response = requests.post(f"{live_app}/segment", json=off, headers=basic_auth(), timeout=5)
    assert response.json() == {"status": "ignored", "message": IGNORED, "messageId": off["messageId"]}
    assert stored(store) == 1


def test_an_identify_routed_by_engage_is_read_on_the_destination_endpoint(live_app, store):
    engage = {"type": "identify", "messageId": "personas-1", "userId": "u-77",
              "traits": {"email": "ann@example.com", "first_name": "Ann"},
              "integrations": {"All": False, "Webhooks": True}}
    assert requests.post(f"{live_app}/segment", json=engage, headers=basic_auth(), timeout=5).status_code == 200
    assert store.traits.known(["user:u-77"]) == {"user:u-77": {"email": "ann@example.com", "first_name": "Ann"}}


def test_in_a_batch_and_on_the_tracking_api(live_app, store):
    off = {**fixture("order-completed-seed.json"), "integrations": {"Trustpilot": False}}
    on = {**fixture("order-completed-non-ascii-name.json"), "integrations": {"All": False, "Trustpilot": True}}
    response = requests.post(f"{live_app}/v1/batch", data=json.dumps({"batch": [off, on]}), headers=basic_auth(),
                             timeout=5)
    assert (response.json()["accepted"], response.json()["ignored"]) == (1, 1)
    assert store.reports.find(message_id=off["messageId"]) is None
