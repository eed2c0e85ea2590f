"""Issue 17, point 3 (pure part): a field no store or sender can carry refuses its message, naming the field; a
timestamp outside what the store and the delay arithmetic hold is read as unreadable."""

from datetime import UTC, datetime, timedelta

import pytest

from receiver.config import SETTINGS
from receiver.invitation import Rejected, Rules, invitation_from
from receiver.segment import LATEST_TIMESTAMP, MessageProblem, parse_message, parse_timestamp
from receiver.text import has_uncarriable, uncarriable_in

BAD = ["\ud800", "\udfff", "\x00", "a\ud83db", "x\x00y"]


def order(**properties):
    return {"type": "track", "event": "Order Completed", "messageId": "m-1", "userId": "u-1",
            "properties": {"order_id": "R-1", "email": "jane@example.com", "name": "Jane", **properties}}


@pytest.mark.parametrize("bad", BAD)
@pytest.mark.parametrize("key, field", [("messageId", "messageId"), ("userId", "userId"),
                                        ("anonymousId", "anonymousId"), ("message_id", "messageId")])
def test_an_id_holding_nul_or_a_lone_surrogate_refuses_the_message(key, field, bad):
    raw = {k: v for k, v in order().items() if k != key and not (key == "message_id" and k == "messageId")}
    with pytest.raises(MessageProblem, match=f"^Invalid {field}: "):
        parse_message({**raw, key: f"id-{bad}"})


SURROGATES = [bad for bad in BAD if "\x00" not in bad]
FIELDS = [
    ({"name": "Ja{}ne"}, "name"),
    ({"order_id": "R{}1"}, "order_id"),
    ({"products": [{"sku": "S{}1"}]}, "skus"),
    ({"coupon": "C{}"}, "tags"),
]


def spoilt(properties, bad):
    return {key: (value.format(bad) if isinstance(value, str) else [{"sku": value[0]["sku"].format(bad)}])
            for key, value in properties.items()}


@pytest.mark.parametrize("bad", SURROGATES)
@pytest.mark.parametrize("properties, field", FIELDS)
def test_an_invitation_field_holding_a_lone_surrogate_is_rejected_by_name(properties, field, bad):
    message = parse_message(order(**spoilt(properties, bad)))
    with pytest.raises(Rejected, match=f"^Invalid {field}: "):
        invitation_from(message, Rules(tag_properties=("coupon",)))


@pytest.mark.parametrize("properties, field", FIELDS)
def test_a_nul_in_free_text_is_cleaned_as_any_control_character(properties, field):
    invitation = invitation_from(parse_message(order(**spoilt(properties, "\x00"))), Rules(tag_properties=("coupon",)))
    assert not any("\x00" in text for text in (invitation.name, invitation.ref, *invitation.skus, *invitation.tags))


@pytest.mark.parametrize("bad", BAD)
def test_an_email_holding_one_is_an_invalid_email(bad):
    with pytest.raises(Rejected, match="^Invalid email address$"):
        invitation_from(parse_message(order(email=f"ja{bad}ne@example.com")), Rules())


def test_a_surrogate_pair_is_one_character_and_carried():
    assert not has_uncarriable("😀") and has_uncarriable("\ud83d")
    assert uncarriable_in({"a": ["b", {"c\x00": 1}]}) and not uncarriable_in({"a": [1, None, "b"]})


@pytest.mark.parametrize("value", [
    "9999-12-31T23:59:59-14:00",  # past datetime.max once in UTC: OverflowError before issue 17
    "0001-01-01T00:00:00+14:00",  # before datetime.min once in UTC
    "9999-12-30T00:00:00Z",  # + INVITATION_DELAY=3d overflows
    "9989-06-01T00:00:00Z",
])
def test_a_timestamp_at_the_ends_of_the_calendar_is_unreadable(value):
    assert parse_timestamp(value) is None


def test_a_timestamp_in_the_span_is_read():
    assert parse_timestamp("2026-03-01T10:00:00+01:00") == datetime(2026, 3, 1, 9, tzinfo=UTC)
    assert parse_timestamp("1970-01-01T00:00:00Z") == datetime(1970, 1, 1, tzinfo=UTC)


def test_the_latest_timestamp_leaves_room_for_the_longest_invitation_delay():
    delay = next(setting for setting in SETTINGS if setting.name == "INVITATION_DELAY").kind.maximum
    assert LATEST_TIMESTAMP + timedelta(seconds=delay) + timedelta(days=366) < datetime.max.replace(tzinfo=UTC)
