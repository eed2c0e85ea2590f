"""Hostile and generated input: always a 2xx/4xx with a JSON message, never a 500, never a hang."""

import gzip
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from receiver.config import load_settings
from receiver.store import Store
from receiver.web import create_app
from support.data import base_env, basic_auth, fixture
from support.messages import messages


@pytest.fixture(scope="module")
def hostile_client(tmp_path_factory):
    url = f"sqlite:///{tmp_path_factory.mktemp('hostile') / 'r.db'}"
    settings = load_settings(base_env(DATABASE_URL=url))
    store = Store(url)
    store.upgrade()
    app = create_app(settings, store=store, max_body=1024 * 1024)
    return app.test_client()


def check(response):
    assert response.status_code < 500 or response.status_code == 501, response.data[:300]
    body = response.get_json()
    assert isinstance(body, dict) and isinstance(body.get("message"), str) and body["message"]
    return body


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(message=messages)
def test_generated_messages_never_cause_a_server_error(hostile_client, message):
    check(hostile_client.post("/segment", data=json.dumps(message), headers={**basic_auth(),
                                                                            "Content-Type": "application/json"}))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=st.binary(max_size=2000), gz=st.booleans(), content_type=st.sampled_from(
    ["application/json", "text/plain", "application/x-www-form-urlencoded", "", "application/json; charset=latin-1"]))
def test_byte_soup_never_causes_a_server_error(hostile_client, body, gz, content_type):
    headers = {**basic_auth(), "Content-Type": content_type}
    if gz:
        headers["Content-Encoding"] = "gzip"
    check(hostile_client.post("/segment", data=body, headers=headers))


@pytest.mark.parametrize("field", ["messageId", "event", "userId", "timestamp"])
def test_huge_strings_in_envelope_fields(hostile_client, field):
    body = fixture("order-completed-seed.json")
    body[field] = "x" * 40_000
    body["messageId"] = body["messageId"] if field != "messageId" else body[field]
    check(hostile_client.post("/segment", json=body, headers=basic_auth()))


@pytest.mark.parametrize("field", ["order_id", "email", "name", "surname", "locale", "coupon"])
def test_huge_strings_in_properties(hostile_client, field):
    body = fixture("order-completed-seed.json")
    body["messageId"] = f"huge-{field}"
    body["properties"] = {**body["properties"], "order_id": f"huge-{field}", field: "é" * 40_000}
    answer = check(hostile_client.post("/segment", json=body, headers=basic_auth()))
    expected = {"order_id": "rejected", "email": "rejected"}.get(field, "accepted")
    assert answer["status"] == expected


def test_huge_locale_and_sku_are_bounded_before_the_database(hostile_client):
    body = fixture("order-completed-seed.json")
    body["messageId"] = "bounded"
    body["context"] = dict(body["context"], locale="de-DE" * 1000)
    body["properties"] = dict(body["properties"], order_id="bounded",
                              products=[{"sku": "s" * 10_000}, {"sku": 5}, {"sku": None, "product_id": []}])
    assert check(hostile_client.post("/segment", json=body, headers=basic_auth()))["status"] == "accepted"


def test_an_oversized_body_is_413(hostile_client):
    response = hostile_client.post("/segment", data=b"[" + b" " * (1024 * 1024) + b"]",
                                   headers={**basic_auth(), "Content-Type": "application/json"})
    assert response.status_code == 413 and check(response)


def test_a_gzip_bomb_is_413(hostile_client):
    bomb = gzip.compress(b" " * (10 * 1024 * 1024))
    response = hostile_client.post("/segment", data=bomb, headers={**basic_auth(), "Content-Encoding": "gzip",
                                                                    "Content-Type": "application/json"})
    assert response.status_code == 413 and check(response)


def test_a_wrong_content_type_is_415(hostile_client):
    response = hostile_client.post("/segment", data="type=track", headers={
        **basic_auth(), "Content-Type": "application/x-www-form-urlencoded"})
    assert response.status_code == 415 and check(response)["message"] == "Content-Type must be application/json"


def test_numbers_where_strings_belong(hostile_client):
    body = fixture("order-completed-seed.json")
    body["messageId"] = "numbers"
    body["properties"] = dict(body["properties"], email=12345, name=7, surname=8.5)
    assert check(hostile_client.post("/segment", json=body, headers=basic_auth())) == {
        "status": "rejected", "message": "Invalid email address", "messageId": "numbers"}
