"""Generated messages through the mapping code (segment, then invitation): every valid `Order Completed`, in any
client's casing, becomes exactly its invitation; anything else maps or names its problem."""

import string
from collections import Counter

from hypothesis import event, given, settings
from hypothesis import strategies as st

from receiver.invitation import Invitation, Rejected, Rules, invitation_from
from receiver.segment import MessageProblem, parse_message
from support.messages import json_values, messages

SPELLINGS = {  # as clients spell the keys an order needs; every spelling folds to the first
    "type": ["type", "Type", "TYPE"],
    "event": ["event", "Event", "EVENT"],
    "message_id": ["message_id", "messageId", "MessageID", "message-id"],
    "properties": ["properties", "Properties"],
    "order_id": ["order_id", "orderId", "OrderID", "ORDER_ID", "order-id"],
    "email": ["email", "Email", "EMAIL"],
    "name": ["name", "Name"],
    "surname": ["surname", "Surname"],
    "first_name": ["first_name", "firstName", "FirstName", "FIRST_NAME"],
    "last_name": ["last_name", "lastName", "LAST_NAME"],
    "products": ["products", "Products"],
    "sku": ["sku", "SKU", "Sku"],
    "product_id": ["product_id", "productId", "ProductID"],
    "context": ["context", "Context"],
    "locale": ["locale", "Locale"],
}


ids = st.text(alphabet=string.ascii_letters + string.digits + "-_#", min_size=1, max_size=30)


words = st.text(alphabet=st.characters(categories=["L"]), min_size=1, max_size=15)


emails = st.builds("{}@{}.{}".format, st.text(alphabet=string.ascii_letters + string.digits + ".+_-", min_size=1,
                                              max_size=20),
                   st.text(alphabet=string.ascii_lowercase + string.digits + "-", min_size=1, max_size=12),
                   st.sampled_from(["com", "de", "co.uk", "fr"]))


@st.composite
def order_completed(draw: st.DrawFn) -> tuple[dict, tuple]:
    """A valid ``Order Completed`` message with its keys spelled in any client's casing, and what its
    invitation must hold: (email, name, ref, skus, locale)."""
    def key(field: str) -> str:
        return draw(st.sampled_from(SPELLINGS[field]))

    ref = draw(ids | st.integers(min_value=0, max_value=10**12))
    email = draw(emails)
    properties = {key("order_id"): ref, key("email"): draw(st.sampled_from(["", " ", "\t"])) + email + " "}
    name = "Customer"  # DEFAULT_NAME, when the message names nobody
    naming = draw(st.sampled_from(["name", "name and surname", "first and last", "nobody"]))
    if naming != "nobody":
        first, last = draw(words), draw(words)
        if naming == "first and last":
            properties |= {key("first_name"): first, key("last_name"): last}
            name = f"{first} {last}"
        else:
            properties[key("name")] = first
            name = first
            if naming == "name and surname":
                properties[key("surname")] = last
                name = f"{first} {last}"
    products = draw(st.lists(st.fixed_dictionaries({}, optional={"sku": ids, "product_id": ids}), max_size=4))
    properties[key("products")] = [{key(field): value for field, value in product.items()} for product in products]
    skus = tuple(dict.fromkeys(product.get("sku") or product.get("product_id") for product in products
                               if product))
    message = {key("type"): draw(st.sampled_from(["track", "Track", "TRACK", " track "])),
               key("event"): draw(st.sampled_from(["Order Completed", "order completed", "order_completed",
                                                   "ORDER COMPLETED"])),
               key("message_id"): draw(ids), key("properties"): properties}
    locale = draw(st.none() | st.sampled_from(["de-DE", "en_GB", "fr", "pt-BR"]))
    if locale:
        message[key("context")] = {key("locale"): locale}
    return message, (email, name, str(ref), skus, locale)


@st.composite
def spoilt_orders(draw: st.DrawFn) -> tuple[dict, None]:
    """A valid order with one property dropped or replaced by any JSON value: it may map, or be rejected."""
    message, _ = draw(order_completed())
    properties = next(value for name, value in message.items() if name.lower() == "properties")
    spoilt = draw(st.sampled_from(sorted(properties)))
    if draw(st.booleans()):
        del properties[spoilt]
    else:
        properties[spoilt] = draw(json_values)
    return message, None


def mapping_outcome(message: dict, expected: tuple | None) -> str:
    """What the mapping made of ``message`` after checking it; ``expected`` is the invitation a valid order makes."""
    try:
        parsed = parse_message(message)
    except MessageProblem as problem:
        assert expected is None and str(problem)
        return "message problem"
    if not parsed.is_order_completed:
        assert expected is None
        return "not an order"
    try:
        invitation = invitation_from(parsed, Rules(tags=("a b",)))
    except Rejected as reason:
        assert expected is None, f"a valid order was rejected: {reason}"
        assert str(reason).startswith(("Missing", "Invalid"))
        return "rejected"
    assert isinstance(invitation, Invitation) and invitation.email and invitation.name and invitation.ref
    assert all(" " not in tag for tag in invitation.tags)
    if expected is not None:
        assert (invitation.email, invitation.name, invitation.ref, invitation.skus, invitation.locale) == expected
    return "invitation"


def test_the_mapping_code_either_maps_or_names_the_problem():
    outcomes: Counter[str] = Counter()

    @settings(max_examples=300, deadline=None)
    @given(case=order_completed() | spoilt_orders() | messages.map(lambda message: (message, None)))
    def maps_or_names_the_problem(case):
        outcome = mapping_outcome(*case)
        event(outcome)
        outcomes[outcome] += 1

    maps_or_names_the_problem()
    # the property is about invitations: it proves nothing unless many examples get that far
    assert outcomes["invitation"] >= 30, outcomes
    assert outcomes["rejected"] > 0, outcomes
