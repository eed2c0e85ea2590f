import pytest

from receiver.invitation import (
    Rejected,
    Rules,
    invitation_from,
    product_skus,
    property_tags,
    sanitise_tag,
    suppressed_by,
)
from receiver.segment import parse_message
from support.data import fixture

RULES = Rules(tags=("segment", "summer sale"), default_name="Valued customer")


def invite(properties=None, traits=None, **envelope):
    raw = {"type": "track", "event": "Order Completed", "messageId": "m-1", "properties": properties or {},
           "context": {"traits": traits or {}}, **envelope}
    return invitation_from(parse_message(raw), RULES)


def test_the_seed_order():
    invitation = invitation_from(parse_message(fixture("order-completed-seed.json")), Rules(tags=("segment",)))
    assert invitation.payload() == {
        "email": "test@example.com", "name": "John Johnson", "ref": "50314b8e9bcf000000000000",
        "skus": ["45790-32", "46493-32"], "tags": ["segment"],
    }
    assert invitation.locale == "en-US"


def test_a_numeric_order_id_is_kept_as_a_string():
    assert invite({"order_id": 100045, "email": "a@b.co"}).ref == "100045"
    assert invite({"order_id": 12.0, "email": "a@b.co"}).ref == "12"


@pytest.mark.parametrize("props, reason", [
    ({"email": "a@b.co"}, "Missing order_id"),
    ({"order_id": "", "email": "a@b.co"}, "Missing order_id"),
    ({"order_id": "   ", "email": "a@b.co"}, "Missing order_id"),
    ({"order_id": True, "email": "a@b.co"}, "Invalid order_id"),
    ({"order_id": {"id": 1}, "email": "a@b.co"}, "Invalid order_id"),
    ({"order_id": "1"}, "Missing email address"),
    ({"order_id": "1", "email": ""}, "Missing email address"),
    ({"order_id": "1", "email": "not-an-email"}, "Invalid email address"),
    ({"order_id": "1", "email": "a b@c.com"}, "Invalid email address"),
    ({"order_id": "1", "email": "a@localhost"}, "Invalid email address"),
    ({"order_id": "1", "email": 42}, "Invalid email address"),
    ({"order_id": "1", "email": "x" * 250 + "@b.co"}, "Invalid email address"),
])
def test_rejections_name_the_field(props, reason):
    with pytest.raises(Rejected, match=f"^{reason}"):
        invite(props)


def test_name_falls_back_in_order():
    base = {"order_id": "1", "email": "a@b.co"}
    assert invite({**base, "name": "John", "surname": "Johnson"}).name == "John Johnson"
    assert invite({**base, "name": "Jane Roe"}).name == "Jane Roe"
    assert invite({**base, "first_name": "Jürgen", "last_name": "Müller"}).name == "Jürgen Müller"
    assert invite(base, traits={"name": "Trait Name"}).name == "Trait Name"
    assert invite(base, traits={"firstName": "Ann", "lastName": "Lee"}).name == "Ann Lee"
    assert invite(base).name == "Valued customer"
    assert invite({**base, "name": "  \n\t "}).name == "Valued customer"


def test_skus_take_sku_else_product_id_without_blanks_or_repeats():
    products = [{"product_id": "P1"}, {"sku": "S2", "product_id": "P2"}, {"sku": "", "product_id": ""},
                {"sku": "S2"}, {"product_id": 77}, "junk", {"sku": None, "product_id": "P1"}]
    assert invite({"order_id": "1", "email": "a@b.co", "products": products}).skus == ("P1", "S2", "77")
    assert invite({"order_id": "1", "email": "a@b.co", "products": "nope"}).skus == ()


def test_tags_never_contain_spaces():
    assert invite({"order_id": "1", "email": "a@b.co"}).tags == ("segment", "summer_sale")
    assert sanitise_tag("  a \t b\n") == "a_b"


def test_control_characters_are_removed_from_text_fields():
    invitation = invite({"order_id": "A\x00-1", "email": "a@b.co", "name": "Bad\x07 Name"})
    assert invitation.ref == "A -1" and invitation.name == "Bad Name"


def test_the_locale_comes_from_the_context_then_the_properties():
    assert invite({"order_id": "1", "email": "a@b.co", "locale": "fr-FR"}).locale == "fr-FR"
    raw_context = {"order_id": "1", "email": "a@b.co", "locale": "fr-FR"}
    raw = {"type": "track", "event": "Order Completed", "properties": raw_context, "context": {"locale": "de-DE"}}
    assert invitation_from(parse_message(raw), RULES).locale == "de-DE"


def test_known_traits_come_after_the_properties_and_the_context():
    message = parse_message({"type": "track", "event": "Order Completed", "messageId": "m-1",
                             "properties": {"order_id": "1"}, "context": {"traits": {"first_name": "Ctx"}}})
    known = {"email": "known@example.com", "first_name": "Known", "last_name": "Name"}
    invitation = invitation_from(message, RULES, known_traits=known)
    assert (invitation.email, invitation.name) == ("known@example.com", "Ctx")
    with pytest.raises(Rejected, match="Invalid email address"):
        invitation_from(message, RULES, known_traits={"email": "broken"})


def test_first_name_with_surname():
    assert invite({"order_id": "1", "email": "a@b.co", "firstName": "Ann", "surname": "Lee"}).name == "Ann Lee"
    assert invite({"order_id": "1", "email": "a@b.co", "surname": "Lee"}).name == "Lee"


def test_suppressed_by_names_the_first_true_trait():
    message = parse_message({"type": "track", "context": {"traits": {"Unsubscribed": "TRUE", "vip": True}}})
    assert suppressed_by(message, ("complainers", "unsubscribed", "vip")) == "unsubscribed"
    assert suppressed_by(message, ("complainers",), {"complainers": True}) == "complainers"
    assert suppressed_by(message, ("complainers",), {"complainers": False}) is None
    assert suppressed_by(message, ()) is None


def test_sku_map_and_property_tags():
    products = [{"sku": "S1", "product_id": "P1"}, {"product_id": "P2"}, {"sku": "S3"}]
    assert product_skus(products, {"S1": "C1", "P2": "C2"}) == ("C1", "C2", "S3")
    assert property_tags({"affiliation": "Google Store", "coupon": ["a", "", None], "total": 10},
                         ("affiliation", "coupon", "total", "missing")) == [
        "affiliation:Google_Store", "coupon:a", "total:10"]


def test_an_unusable_locale_costs_no_order():
    base = {"type": "track", "event": "Order Completed", "messageId": "m-1",
            "properties": {"order_id": "1", "email": "a@b.co", "locale": "fr-FR"}}
    assert invitation_from(parse_message({**base, "context": {"locale": 5}}), RULES).locale == "fr-FR"
    assert invitation_from(parse_message({**base, "context": {"locale": "x" * 80}}), RULES).locale == "fr-FR"


def test_a_waiting_invitation_is_completed_by_the_rules_of_intake():
    from receiver.invitation import Invitation, MissingEmail, completed

    waiting = Invitation(message_id="m", email="", name="", ref="R-1")
    rules = Rules(default_name="Valued customer")
    traits = {"e_mail": "x@example.com", "first_name": "Xi", "last_name": "Li", "name": "login"}
    assert completed(waiting, traits, rules).name == "Xi Li"
    assert completed(waiting, {"email": "x@example.com"}, rules).name == "Valued customer"
    named = Invitation(message_id="m", email="", name="From Order", ref="R-1")
    assert completed(named, {"email": "x@example.com", "name": "From Traits"}, rules).name == "From Order"
    with pytest.raises(MissingEmail):
        completed(waiting, {"email": "undefined", "name": "X"}, rules)
    with pytest.raises(Rejected, match="Invalid email address"):
        completed(waiting, {"email": "nope"}, rules)
