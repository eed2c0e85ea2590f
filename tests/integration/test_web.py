"""POST /segment: statuses, JSON bodies, and nothing stored for anything refused."""

import base64
import copy
import gzip
import json

import pytest
import requests

from support.data import API_KEY, basic_auth, fixture


def post(client, body, headers=None, raw=None):
    return client.post("/segment", data=raw if raw is not None else json.dumps(body),
                       headers={**basic_auth(), "Content-Type": "application/json", **(headers or {})})


def stored(store):
    return sum(store.reports.counts().values())


def test_the_seed_order_is_accepted_and_stored(client, store):
    response = post(client, fixture("order-completed-seed.json"))
    assert response.status_code == 200
    assert response.get_json()["status"] == "accepted"
    row = store.reports.find(message_id="ajs-next-1f7b0c2d9e8a4c1f8a2b3c4d5e6f7a81")
    assert (row.email, row.name, row.ref, row.skus) == (
        "test@example.com", "John Johnson", "50314b8e9bcf000000000000", ("45790-32", "46493-32"))


def test_the_same_message_again_is_a_duplicate(client, store):
    post(client, fixture("order-completed-seed.json"))
    again = post(client, fixture("order-completed-seed.json"))
    assert again.status_code == 200
    assert again.get_json()["duplicate"] is True and again.get_json()["status"] == "duplicate"
    assert stored(store) == 1


@pytest.mark.parametrize("name, status, message", [
    ("order-completed-missing-email.json", 400, "Missing email address"),
    ("order-completed-missing-order-id.json", 400, "Missing order_id"),
    ("order-completed-invalid-email.json", 400, "Invalid email address"),
])
@pytest.mark.env(EMAIL_WAIT="0")
def test_refused_fixtures(client, store, name, status, message):
    response = post(client, fixture(name))
    assert response.status_code == status
    assert response.get_json()["message"] == message
    assert response.content_type == "application/json"
    assert stored(store) == 0


@pytest.mark.parametrize("name", ["track-product-viewed.json", "identify.json"])
def test_other_calls_are_acknowledged_and_ignored(client, store, name):
    response = post(client, fixture(name))
    assert response.status_code == 200 and response.get_json()["status"] == "ignored"
    assert stored(store) == 0


@pytest.mark.parametrize("call", ["screen", "group", "alias"])
def test_calls_we_do_not_use_are_ignored(client, store, call):
    response = post(client, {"type": call, "messageId": "x"})
    assert response.status_code == 200 and response.get_json()["status"] == "ignored"
    assert stored(store) == 0


@pytest.mark.parametrize("raw, message", [
    (b"{not json", "The body is not valid JSON"),
    (b"42", "The body must be a JSON object (one message) or an array of messages"),
    (b'"text"', "The body must be a JSON object (one message) or an array of messages"),
    (b"{}", "Missing message type"),
    (b'{"event": "Order Completed"}', "Missing message type"),
    (b"\xff\xfe", "The body is not valid UTF-8"),
    (b'{"type": "track", "type": "identify"}', "The JSON has a duplicate key"),
    (b"[" * 100000 + b"]" * 100000, "The JSON is nested too deeply"),
])
def test_malformed_bodies_get_400_with_a_message(client, store, raw, message):
    response = post(client, None, raw=raw)
    assert response.status_code == 400
    assert response.get_json()["message"] == message
    assert stored(store) == 0


@pytest.mark.parametrize("headers, message", [
    ({}, "No credentials"),
    ({"Authorization": "Basic " + base64.b64encode(b"wrong-key:").decode()}, "Missing or invalid API key"),
    ({"Authorization": "Bearer " + API_KEY}, "Invalid bearer token"),  # an API key is not a bearer token
    ({"Authorization": "Basic !!!"}, "Missing or invalid API key"),
    ({"Authorization": "Basic " + base64.b64encode(b"\xff\xfe:").decode()}, "Missing or invalid API key"),
])
def test_missing_or_wrong_credentials_are_401_and_store_nothing(client, store, headers, message):
    response = client.post("/segment", data=json.dumps(fixture("order-completed-seed.json")),
                           headers={"Content-Type": "application/json", **headers})
    assert response.status_code == 401
    assert response.get_json() == {"message": message}
    assert stored(store) == 0


def test_any_configured_key_works(client):
    response = post(client, fixture("order-completed-seed.json"), headers=basic_auth("other-key"))
    assert response.status_code == 200


def test_errors_are_json_not_html(client):
    assert client.get("/segment").status_code == 405
    assert client.get("/segment").get_json()["message"]
    assert client.get("/nowhere").get_json()["message"]


def test_gzip_bodies(client, store):
    body = gzip.compress(json.dumps(fixture("order-completed-seed.json")).encode())
    response = post(client, None, raw=body, headers={"Content-Encoding": "gzip"})
    assert response.status_code == 200 and stored(store) == 1
    bad = post(client, None, raw=b"not gzip", headers={"Content-Encoding": "gzip"})
    assert bad.status_code == 400 and bad.get_json()["message"] == "The body is not valid gzip"


def test_over_real_http(live_app, store):
    url = f"{live_app}/segment"
    seed = fixture("order-completed-seed.json")
    response = requests.post(url, json=seed, headers=basic_auth(), timeout=5)
    assert response.status_code == 200 and response.json()["status"] == "accepted"
    assert requests.post(url, json=seed, headers=basic_auth(), timeout=5).json()["duplicate"] is True
    unauthorised = requests.post(url, json=seed, timeout=5)
    assert unauthorised.status_code == 401 and unauthorised.headers["Content-Type"] == "application/json"
    other_order = copy.deepcopy(seed)
    other_order["messageId"] = "another"
    assert requests.post(url, json=other_order, headers=basic_auth(), timeout=5).json()["status"] == "duplicate"
    assert stored(store) == 1
