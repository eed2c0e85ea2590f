"""Intake skips the stored-traits lookup for an order that carries its own email and name (and no
SUPPRESS_AUDIENCES is set): ``needs_stored_traits`` must only say False when the stored traits could not
change the invitation, whatever they hold."""

from hypothesis import given, settings
from hypothesis import strategies as st

from receiver.invitation import Rejected, Rules, invitation_from, needs_stored_traits
from receiver.segment import parse_message

RULES = Rules(tags=("segment",), default_name="Customer")
emails = st.sampled_from([None, "", "  ", "ann@example.com", "broken", 7])
names = st.sampled_from([None, "", "  ", "Ann", 7, True])
fields = st.fixed_dictionaries({}, optional={"email": emails, **{name: names for name in
                                                                 ("name", "surname", "first_name", "last_name")}})


def order(properties: dict, context_traits: dict, traits: dict):
    return parse_message({"type": "track", "event": "Order Completed", "messageId": "m-1", "userId": "u-1",
                          "properties": {"order_id": "A-1", **properties},
                          "context": {"traits": context_traits}, "traits": traits})


def outcome(message, known):
    try:
        return invitation_from(message, RULES, known_traits=known)
    except Rejected as reason:
        return str(reason)


@settings(max_examples=500)
@given(properties=fields, context_traits=fields, traits=fields, known=fields)
def test_when_the_lookup_is_skipped_the_stored_traits_would_have_changed_nothing(properties, context_traits, traits,
                                                                                 known):
    message = order(properties, context_traits, traits)
    if not needs_stored_traits(message, RULES):
        assert outcome(message, known) == outcome(message, {})


def test_an_order_with_its_own_email_and_name_needs_no_stored_traits():
    assert not needs_stored_traits(order({"email": "ann@example.com", "name": "Ann"}, {}, {}), RULES)


def test_an_order_without_an_email_or_a_name_or_with_suppression_set_needs_them():
    assert needs_stored_traits(order({"name": "Ann"}, {}, {}), RULES)
    assert needs_stored_traits(order({"email": "ann@example.com"}, {}, {}), RULES)
    assert needs_stored_traits(order({"email": "ann@example.com", "name": "Ann"}, {}, {}),
                               Rules(suppress=("review_opt_out",)))
