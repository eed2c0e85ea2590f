"""Issue 17, point 9 (part), through the app: the note on dropped SKUs in the verdict, and refs deduped as one."""

import json
import unicodedata

import pytest

from support.data import basic_auth


def post(client, body):
    return client.post("/segment", data=json.dumps(body), headers={**basic_auth(), "Content-Type": "application/json"})


def order(message_id, ref, skus=1):
    return {"type": "track", "event": "Order Completed", "messageId": message_id,
            "properties": {"order_id": ref, "email": "jane@example.com", "name": "Jane",
                           "products": [{"sku": f"S-{n}"} for n in range(skus)]}}


@pytest.mark.env(MAX_SKUS="3")
def test_the_verdict_notes_the_skus_dropped(client, store):
    response = post(client, order("m-1", "R-1", skus=5))
    assert response.status_code == 200
    assert response.get_json()["message"] == "Invitation stored (2 SKUs over MAX_SKUS=3 dropped)"
    assert store.reports.find(message_id="m-1").skus == ("S-0", "S-1", "S-2")


def test_sixty_thousand_skus_make_a_link_of_a_hundred(client, store):
    assert post(client, order("m-big", "R-big", skus=60_000)).status_code == 200
    assert len(store.reports.find(message_id="m-big").skus) == 100


@pytest.mark.parametrize("first, second", [("A1", "A\u200b1"), ("Café-1", unicodedata.normalize("NFD", "Café-1")),
                                           ("\ufeffB2", "B2")])
def test_refs_that_differ_only_invisibly_are_one_order(client, store, first, second):
    assert post(client, order("m-a", first)).get_json()["status"] == "accepted"
    again = post(client, order("m-b", second)).get_json()
    assert again["status"] == "duplicate"
    assert store.reports.find(message_id="m-b") is None
