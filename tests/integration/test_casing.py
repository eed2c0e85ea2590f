"""Any casing, decided once: keys are folded to snake_case in properties, products, context traits and stored traits."""

import json

import pytest
import requests
from hypothesis import given
from hypothesis import strategies as st

from receiver.segment import normalise_keys, snake_key
from support.data import FIXTURES, basic_auth

SPELLINGS = {
    "order_id": ["order_id", "orderId", "OrderId", "OrderID", "ORDER_ID", "order-id"],
    "email": ["email", "Email", "EMAIL"],
    "product_id": ["product_id", "productId", "ProductID", "PRODUCT_ID", "Product_Id"],
    "sku": ["sku", "SKU", "Sku"],
    "first_name": ["first_name", "firstName", "FirstName", "FIRST_NAME"],
    "last_name": ["last_name", "lastName", "LastName", "LAST_NAME"],
    "surname": ["surname", "Surname", "SURNAME"],
}


def post(base, body):
    return requests.post(f"{base}/segment", data=json.dumps(body), timeout=5,
                         headers={**basic_auth(), "Content-Type": "application/json"})


def test_the_odd_casing_fixture(live_app, store):
    body = json.loads((FIXTURES / "dialects" / "order-completed-odd-casing.json").read_text())
    assert post(live_app, body).status_code == 200
    row = store.reports.find(message_id="casing-9a8b7c6d-0001")
    assert (row.ref, row.email, row.name, row.skus) == (
        "CASE-8001", "casey.jones@example.com", "Casey Jones", ("CAP-RED", "p-501", "CAP-BLUE"))


def test_every_spelling_in_properties_and_products(live_app, store):
    """One message per combination of spellings, in one batch: each one becomes the same invitation."""
    batch = []
    for index in range(max(len(names) for names in SPELLINGS.values())):
        def spelled(field, i=index):
            names = SPELLINGS[field]
            return names[i % len(names)]
        surname_field = "surname" if index % 2 else "last_name"
        batch.append({"type": "track", "event": "Order Completed", "messageId": f"spelling-{index}", "properties": {
            spelled("order_id"): f"S-{index}",
            spelled("email"): f"casing{index}@example.com",
            spelled("first_name"): "Ada",
            spelled(surname_field): "Lovelace",
            "Products": [{spelled("product_id"): "P-1", spelled("sku"): "SKU-1"}, {spelled("product_id"): "P-2"}],
        }})
    response = post(live_app, batch)
    assert response.status_code == 200 and response.json()["accepted"] == len(batch), response.json()
    for index in range(len(batch)):
        row = store.reports.find(message_id=f"spelling-{index}")
        assert (row.ref, row.email, row.name, row.skus) == (
            f"S-{index}", f"casing{index}@example.com", "Ada Lovelace", ("SKU-1", "P-2"))


@pytest.mark.parametrize("first, last", [("firstName", "lastName"), ("FIRST_NAME", "Surname"), ("First_Name", "LAST_NAME")])
def test_every_spelling_in_context_traits_and_stored_traits(live_app, store, first, last):
    context_only = {"type": "track", "event": "Order Completed", "messageId": "ctx",
                    "context": {"Traits": {"EMAIL": "ctx@example.com", first: "Grace", last: "Hopper"}},
                    "properties": {"OrderID": "C-1"}}
    identify = {"type": "identify", "userId": "u-casing", "messageId": "id-1",
                "Traits": {"Email": "stored@example.com", first: "Alan", last: "Turing"}}
    stored_only = {"type": "track", "event": "order_completed", "messageId": "stored", "UserId": "u-casing",
                   "properties": {"ORDER_ID": "C-2"}}
    response = post(live_app, [context_only, identify, stored_only])
    assert response.json()["accepted"] == 2, response.json()
    assert (store.reports.find(message_id="ctx").email, store.reports.find(message_id="ctx").name) == (
        "ctx@example.com", "Grace Hopper")
    assert (store.reports.find(message_id="stored").email, store.reports.find(message_id="stored").name) == (
        "stored@example.com", "Alan Turing")


# -- the rule itself ----------------------------------------------------------------------------------

# words of two letters or more: "AA" could be one word or two, in any rule
words = st.lists(st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=2, max_size=8), min_size=1, max_size=4)


@given(words)
def test_every_common_casing_of_a_name_folds_to_the_same_key(parts):
    expected = "_".join(parts)
    spellings = [
        "_".join(parts),  # snake_case
        parts[0] + "".join(part.capitalize() for part in parts[1:]),  # camelCase
        "".join(part.capitalize() for part in parts),  # PascalCase
        "_".join(parts).upper(),  # SCREAMING_SNAKE
        "-".join(parts),  # kebab-case
        " ".join(part.capitalize() for part in parts),  # Title Case
    ]
    for spelling in spellings:
        assert snake_key(spelling) == expected, spelling


@given(st.text(alphabet="abcXYZ019_- ", max_size=20))
def test_folding_is_idempotent(key):
    assert snake_key(snake_key(key)) == snake_key(key)


@given(st.recursive(st.none() | st.booleans() | st.text(max_size=5),
                    lambda children: st.lists(children, max_size=3)
                    | st.dictionaries(st.text(alphabet="aAbB_", max_size=6), children, max_size=3),
                    max_leaves=12))
def test_normalising_twice_changes_nothing(value):
    assert normalise_keys(normalise_keys(value)) == normalise_keys(value)
