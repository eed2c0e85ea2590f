"""Any casing, decided once: keys are folded to snake_case in properties, products, context traits and stored traits."""

import json

import pytest
import requests

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
