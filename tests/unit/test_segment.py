import pytest

from receiver.segment import (
    EMAIL_KEYS,
    SKU_KEYS,
    MessageProblem,
    event_key,
    is_order,
    lookup,
    messages_in,
    normalise_keys,
    parse_message,
    snake_key,
    squash,
    with_call_type,
)
from support.data import fixture


@pytest.mark.parametrize("key", ["order_id", "orderId", "OrderId", "OrderID", "ORDER_ID", "order-id", "Order Id"])
def test_every_casing_of_a_key_folds_to_snake_case(key):
    assert snake_key(key) == "order_id"


@pytest.mark.parametrize("key, expected", [
    ("firstName", "first_name"), ("lastName", "last_name"), ("productID", "product_id"),
    ("SKU", "sku"), ("Email", "email"), ("messageId", "message_id"), ("userId", "user_id"),
])
def test_other_keys(key, expected):
    assert snake_key(key) == expected


def test_integrations_keep_destination_names_and_the_first_spelling_wins():
    out = normalise_keys({"integrations": {"Trustpilot": False, "All": True}, "orderId": "1", "order_id": "2"})
    assert out == {"integrations": {"Trustpilot": False, "All": True}, "order_id": "1"}


def test_the_seed_fixture_parses():
    message = parse_message(fixture("order-completed-seed.json"))
    assert message.type == "track" and message.is_order_completed
    assert message.message_id == "ajs-next-1f7b0c2d9e8a4c1f8a2b3c4d5e6f7a81"
    assert message.properties["order_id"] == "50314b8e9bcf000000000000"
    assert message.locale == "en-US"
    assert message.timestamp.isoformat() == "2026-11-20T10:15:02+00:00"


@pytest.mark.parametrize("name", ["Order Completed", "order completed", "order_completed", " ORDER  Completed "])
def test_event_names_compare_loosely(name):
    assert event_key(name) == "order completed"


@pytest.mark.parametrize("raw, reason", [
    ([], "JSON object"),
    ("text", "JSON object"),
    ({}, "Missing message type"),
    ({"type": " "}, "Missing message type"),
    ({"type": 5}, "Invalid message type"),
    ({"type": "track", "properties": []}, "Invalid properties"),
    ({"type": "track", "event": {"x": 1}}, "Invalid event"),
])
def test_unreadable_messages_name_the_problem(raw, reason):
    with pytest.raises(MessageProblem, match=reason):
        parse_message(raw)


def test_a_message_without_an_id_gets_a_stable_one():
    raw = {"type": "track", "event": "Order Completed", "properties": {"order_id": "1"}}
    first, again = parse_message(raw), parse_message(dict(raw))
    assert first.message_id == again.message_id and first.message_id.startswith("sha256:")
    assert parse_message({**raw, "properties": {"order_id": "2"}}).message_id != first.message_id


def test_an_unreadable_timestamp_is_dropped_not_fatal():
    assert parse_message({"type": "track", "timestamp": "yesterday"}).timestamp is None
    naive = parse_message({"type": "track", "timestamp": "2026-01-02T03:04:05"}).timestamp
    assert naive.isoformat() == "2026-01-02T03:04:05+00:00"


def test_body_envelopes():
    one = {"type": "track"}
    assert messages_in(one) == ([one], False)
    assert messages_in([one, 2]) == ([one, 2], True)
    envelope = {"batch": [{"type": "track", "context": {"ip": "x"}}, {"type": "page", "integrations": {"All": True}}],
                "context": {"locale": "de-DE", "ip": "y"}, "integrations": {"All": False}, "writeKey": "k"}
    assert messages_in(envelope) == ([
        {"type": "track", "context": {"locale": "de-DE", "ip": "x"}, "integrations": {"All": False}},
        {"type": "page", "context": {"locale": "de-DE", "ip": "y"}, "integrations": {"All": True}},
    ], True)
    with pytest.raises(MessageProblem):
        messages_in("text")


def test_the_tracking_api_path_gives_the_type():
    assert with_call_type({"Type": "identify", "event": "x"}, "track") == {"event": "x", "type": "track"}
    assert parse_message(with_call_type({"messageId": "m"}, "screen")).type == "screen"


@pytest.mark.parametrize("text", ["Order Completed", "order_completed", "OrderCompleted", "order.completed",
                                  "ORDER-COMPLETED", " order \t completed "])
def test_squash_drops_case_and_every_separator(text):
    assert squash(text) == "ordercompleted"


@pytest.mark.parametrize("event, names, order", [
    ("Completed Order", ("Order Completed", "Completed Order"), True),
    ("order.placed", ("Order Placed",), True),
    ("Order Refunded", ("Order Completed",), False),
])
def test_is_order(event, names, order):
    assert is_order(parse_message({"type": "track", "event": event}), names) is order
    assert not is_order(parse_message({"type": "identify", "event": event}), names)


def test_lookup_tries_names_in_order_skips_placeholders_and_names_the_key():
    source = normalise_keys({"eMail": "undefined", "emailAddress": "b@example.com", "email": None})
    assert lookup(source, EMAIL_KEYS) == ("email_address", "b@example.com")
    assert lookup(source, EMAIL_KEYS, keep_null=True) == ("email_address", "b@example.com")
    assert lookup({"email": None, "e_mail": "n/a"}, EMAIL_KEYS, keep_null=True) == ("email", None)  # it clears
    assert lookup({"E-Mail": "a@example.com", "email_address": "b@example.com"}, EMAIL_KEYS) == ("E-Mail",
                                                                                                 "a@example.com")
    assert lookup({"id": 7, "productId": "n/a", "SKU": ""}, SKU_KEYS) == ("id", 7)
    assert lookup({"email": " ", "other": "x"}, EMAIL_KEYS) is None
