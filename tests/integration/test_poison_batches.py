"""Issue 17, point 3: a bad message costs only itself, on both databases, through the app.

Messages carrying NUL, lone surrogates and timestamps from anywhere in the calendar, alone and in batches beside
valid orders: nothing answers 500, each bad one is refused by name (or its timestamp stood in for), and every valid
neighbour is stored."""

import json
import uuid
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from receiver.invitation import Invitation
from receiver.store import NewInvitation
from support.data import basic_auth

# Every code point: surrogates and NUL included (hypothesis leaves out the surrogates unless told).
ANY_CHARACTER = st.characters(min_codepoint=0, max_codepoint=0x10FFFF, exclude_categories=())
ANY_TEXT = st.text(ANY_CHARACTER, max_size=12) | st.sampled_from(["\ud800", "\x00", "a\udfffb", "A\u200b1"])
FIELDS = ("messageId", "userId", "anonymousId", "email", "name", "order_id", "sku", "coupon", "locale", "timestamp",
          "trait_email", "trait_name")
OFFSETS = st.integers(-(24 * 60 - 1), 24 * 60 - 1).map(lambda minutes: timezone(timedelta(minutes=minutes)))
ANY_TIME = st.datetimes(timezones=OFFSETS).map(datetime.isoformat)
EXAMPLES = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def post(client, body):
    return client.post("/segment", data=json.dumps(body),
                       headers={**basic_auth(), "Content-Type": "application/json"})


def valid_order(tag: str) -> dict:
    return {"type": "track", "event": "Order Completed", "messageId": f"ok-{tag}", "userId": "u-1",
            "timestamp": "2026-03-01T10:00:00Z",
            "properties": {"order_id": f"OK-{tag}", "email": "jane@example.com", "name": "Jane",
                           "products": [{"sku": "S-1"}]}}


def spoilt(tag: str, field: str, value: str) -> dict:
    """An order (or for the traits, an identify call) with ``field`` set to ``value``."""
    message = valid_order(tag) | {"messageId": f"bad-{tag}"}
    message["properties"] = {**message["properties"], "order_id": f"BAD-{tag}"}
    if field in ("messageId", "userId", "anonymousId", "timestamp"):
        message[field] = value
    elif field == "sku":
        message["properties"]["products"] = [{"sku": value}]
    elif field.startswith("trait_"):
        message = {"type": "identify", "messageId": f"bad-{tag}", "userId": "u-2", "traits": {field[6:]: value}}
    else:
        message["properties"][field] = value
    return message


@pytest.mark.env(TAG_PROPERTIES="coupon", INVITATION_DELAY="3650d")
@EXAMPLES
@given(field=st.sampled_from(FIELDS), value=ANY_TEXT | ANY_TIME, before=st.integers(0, 2), after=st.integers(0, 2))
def test_a_poison_message_costs_only_itself(client, store, field, value, before, after):
    tag = uuid.uuid4().hex
    good = [valid_order(f"{tag}-{index}") for index in range(before + after)]
    batch = [*good[:before], spoilt(tag, field, value), *good[before:]]
    response = post(client, batch if len(batch) > 1 else batch[0])
    assert response.status_code in (200, 400), response.get_data(as_text=True)
    for message in good:
        assert store.reports.find(message_id=message["messageId"]) is not None
    body = response.get_json()
    if len(batch) > 1:
        assert body["accepted"] >= len(good)
        reasons = [error["reason"] for error in body["errors"]]
    else:
        reasons = [body["message"]] if body["status"] == "rejected" else []
    assert all(reason.startswith(("Invalid", "Missing", "Rejected")) for reason in reasons)


@pytest.mark.env(INVITATION_DELAY="3650d")
@EXAMPLES
@given(timestamp=ANY_TIME)
def test_any_timestamp_is_read_or_stood_in_for(client, store, clock, timestamp):
    message = valid_order(uuid.uuid4().hex) | {"timestamp": timestamp}
    response = post(client, message)
    assert response.status_code == 200 and response.get_json()["status"] == "accepted"
    assert store.reports.find(message_id=message["messageId"]) is not None


def test_a_timestamp_past_the_end_of_time_is_replaced_by_the_receipt_time(client, store, clock):
    message = valid_order("end") | {"timestamp": "9999-12-31T23:59:59-14:00"}  # OverflowError before issue 17
    assert post(client, message).status_code == 200
    assert store.reports.find(message_id=message["messageId"]).ordered_at in (None, clock())


@pytest.mark.env(INVITATION_DELAY="3d")
def test_with_a_delay_the_last_days_of_the_calendar_are_no_500(client, store):
    message = valid_order("delay") | {"timestamp": "9999-12-30T00:00:00Z"}
    assert post(client, message).status_code == 200


@pytest.mark.parametrize("field, value, reason", [
    ("messageId", "m-\ud800", "Invalid messageId"), ("messageId", "m-\x00", "Invalid messageId"),
    ("userId", "u\x00", "Invalid userId"), ("anonymousId", "\ud800", "Invalid anonymousId"),
    ("email", "ja\ud800ne@example.com", "Invalid email address"), ("name", "Ja\ud800ne", "Invalid name"),
    ("order_id", "R-\udfff", "Invalid order_id"), ("sku", "S\ud800", "Invalid skus"),
    ("trait_email", "a\x00@example.com", "Invalid traits.email"),
])
def test_each_bad_field_is_named_and_its_neighbours_are_stored(client, store, field, value, reason):
    batch = [valid_order("n1"), spoilt("x", field, value), valid_order("n2")]
    response = post(client, batch)
    assert response.status_code == 200
    body = response.get_json()
    assert body["accepted"] == 2 and [error["index"] for error in body["errors"]] == [1]
    assert body["errors"][0]["reason"].startswith(reason)
    assert store.reports.find(message_id="ok-n1") and store.reports.find(message_id="ok-n2")


def test_a_row_the_database_refuses_costs_only_itself(store, clock):
    """Past every check, a row the database still refuses (here: no ref, NOT NULL) is refused alone."""
    def row(tag, ref):
        return NewInvitation(Invitation(message_id=f"m-{tag}", email="jane@example.com", name="Jane", ref=ref))

    added = store.outbox.add([row(1, "R-1"), row(2, None), row(3, "R-3"), row(4, "R-1")], domain="example.com",
                             now=clock())
    assert added == [True, None, True, False]
    assert store.reports.find(message_id="m-3") is not None and store.reports.find(message_id="m-2") is None


def test_intake_answers_rejected_for_a_row_the_database_refuses(client, store, monkeypatch):
    """The checks of intake turned off, a NUL that PostgreSQL's text cannot hold reaches the insert: that message is
    rejected and its batch still stored (on SQLite, which stores NUL, it is simply accepted)."""
    monkeypatch.setattr("receiver.invitation._check_carriable", lambda invitation: None)
    monkeypatch.setattr("receiver.invitation.clean_text", lambda value, limit: str(value)[:limit])
    batch = [valid_order("d1"), spoilt("d", "order_id", "R\x00"), valid_order("d2")]
    response = post(client, batch)
    assert response.status_code == 200
    body = response.get_json()
    if store.dialect == "postgresql":
        assert body["accepted"] == 2 and body["errors"][0]["index"] == 1
        assert body["errors"][0]["reason"] == "Rejected: the database refused this message's invitation"
    assert store.reports.find(message_id="ok-d1") and store.reports.find(message_id="ok-d2")
