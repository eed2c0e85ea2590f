"""Segment's integrations object: an event that turns Trustpilot off is accepted and ignored, as by every destination."""

import json

import pytest
import requests

from support.data import basic_auth, fixture


@pytest.mark.parametrize("integrations, status", [
    ({"Trustpilot": False}, "ignored"),
    ({"All": False}, "ignored"),
    ({"All": False, "Trustpilot": True}, "accepted"),
    ({"All": True, "Salesforce": False}, "accepted"),
])
def test_over_http(live_app, store, integrations, status):
    message = {**fixture("order-completed-seed.json"), "integrations": integrations}
    response = requests.post(f"{live_app}/segment", json=message, headers=basic_auth(), timeout=5)
    assert response.status_code == 200 and response.json()["status"] == status
    assert sum(store.reports.counts().values()) == (1 if status == "accepted" else 0)
    if status == "ignored":
        assert response.json()["message"] == "Ignored: its integrations turn Trustpilot off"


def test_in_a_batch_and_on_the_tracking_api(live_app, store):
    off = {**fixture("order-completed-seed.json"), "integrations": {"Trustpilot": False}}
    on = {**fixture("order-completed-non-ascii-name.json"), "integrations": {"All": False, "Trustpilot": True}}
    response = requests.post(f"{live_app}/v1/batch", data=json.dumps({"batch": [off, on]}), headers=basic_auth(),
                             timeout=5)
    assert (response.json()["accepted"], response.json()["ignored"]) == (1, 1)
    assert store.reports.find(message_id=off["messageId"]) is None
