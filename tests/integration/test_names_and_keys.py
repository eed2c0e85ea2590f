"""Names and keys as shops send them (issue 13 §7), over real HTTP: ORDER_EVENTS, keys compared without case or
separators and with aliases, placeholders that count as absent, first + last name over ``name``, names without a
letter, and BCP 47 locales. Each accepted order is followed to its link, decoded."""

import copy

import pytest
import requests

from receiver import bgl
from receiver.store import WAITING
from support.data import AUTH_KEY, ENCRYPT_KEY, basic_auth
from support.workers import worker_for

KEYS = bgl.Keys.from_base64(ENCRYPT_KEY, AUTH_KEY)
BASE = {"type": "track", "event": "Order Completed", "userId": "u-keys", "messageId": "m-keys",
        "properties": {"order_id": "K-1", "email": "kim@example.com", "products": [{"sku": "S-1"}]}}


class Capture:
    def __init__(self):
        self.links = []

    def send(self, ready):
        self.links.append(ready.link)

    def close(self):
        pass


@pytest.fixture
def database_url(sqlite_url):
    return sqlite_url


@pytest.fixture
def deliver(store, settings, clock):
    """POST one message to /segment, run the worker, and give the answer and the decoded link (None if none)."""

    def send(base, message):
        answer = requests.post(f"{base}/segment", json=message, headers=basic_auth(), timeout=10)
        sender = Capture()
        worker_for(store, settings, sender, clock=clock).drain()
        links = [(bgl.decode(link, KEYS), link.split("/")[2]) for link in sender.links]
        return answer, (links[0] if links else None)

    return send


def order(number=1, event="Order Completed", **changes):
    message = copy.deepcopy(BASE)
    message["messageId"], message["event"] = f"m-{number}", event
    message["properties"]["order_id"] = f"K-{number}"
    for path, value in changes.items():  # properties__email="x": message["properties"]["email"] = "x"; None drops it
        *outer, last = path.split("__")
        holder = message
        for key in outer:
            holder = holder.setdefault(key, {})
        if value is None:
            holder.pop(last, None)
        else:
            holder[last] = value
    return message


# -- event names -------------------------------------------------------------------------------------

@pytest.mark.parametrize("event", ["Order Completed", "Completed Order", "order_completed", "OrderCompleted",
                                   "completed-order", "ORDER.COMPLETED", " order  completed "])
def test_both_spellings_of_the_order_event_in_any_casing(live_app, deliver, event):
    answer, link = deliver(live_app, order(event=event))
    assert answer.json()["status"] == "accepted" and link[0]["ref"] == "K-1"


def test_other_events_are_not_orders(live_app, deliver):
    answer, link = deliver(live_app, order(event="Order Refunded"))
    assert answer.json()["message"] == "Ignored: only Order Completed events make invitations (ORDER_EVENTS)"
    assert link is None


@pytest.mark.env(ORDER_EVENTS="order.placed, Purchase")
def test_order_events_names_the_events_that_are_orders(live_app, deliver, store):
    assert deliver(live_app, order(1, event="Order Placed"))[0].json()["status"] == "accepted"
    assert deliver(live_app, order(2, event="purchase"))[0].json()["status"] == "accepted"
    assert deliver(live_app, order(3, event="Order Completed"))[0].json()["status"] == "ignored"


# -- keys and aliases ----------------------------------------------------------------------------------

@pytest.mark.parametrize("key", ["email", "EMAIL", "Email", "e_mail", "E-Mail", "eMail", "email_address",
                                 "emailAddress", "EmailAddress", "Email Address", "e.mail"])
def test_every_spelling_of_email(live_app, deliver, key):
    message = order(properties__email=None)
    message["properties"][key] = "kim@example.com"
    answer, link = deliver(live_app, message)
    assert answer.json()["status"] == "accepted" and link[0]["email"] == "kim@example.com"


def test_an_email_alias_in_context_traits_and_in_an_identify(live_app, deliver, store):
    answer, link = deliver(live_app, order(1, properties__email=None, context__traits__emailAddress="ctx@example.com"))
    assert link[0]["email"] == "ctx@example.com"
    requests.post(f"{live_app}/segment", headers=basic_auth(), timeout=5, json={
        "type": "identify", "userId": "u-alias", "messageId": "id-alias", "traits": {"eMail": "id@example.com"}})
    assert store.traits.known(["user:u-alias"]) == {"user:u-alias": {"email": "id@example.com"}}
    answer, link = deliver(live_app, order(2, userId="u-alias", properties__email=None))
    assert link[0]["email"] == "id@example.com"


@pytest.mark.parametrize("placeholder", ["undefined", "null", "None", "N/A", "n/a", "", "   ", "NULL"])
def test_a_placeholder_email_is_absent_so_the_next_source_is_tried(live_app, deliver, placeholder):
    message = order(properties__email=placeholder, context__traits__email="real@example.com")
    answer, link = deliver(live_app, message)
    assert answer.json()["status"] == "accepted" and link[0]["email"] == "real@example.com"


def test_placeholders_only_is_a_missing_email(live_app, deliver, store):
    answer, _ = deliver(live_app, order(properties__email="undefined", context__traits__email="n/a"))
    assert answer.json()["status"] == "waiting" and store.reports.find(message_id="m-1").state == WAITING


@pytest.mark.parametrize("value", ["not-an-email", "kim@", 42, True])
def test_a_present_invalid_email_still_rejects(live_app, deliver, value):
    answer, link = deliver(live_app, order(properties__email=value, context__traits__email="real@example.com"))
    assert answer.status_code == 400 and answer.json()["message"] == "Invalid email address" and link is None


@pytest.mark.parametrize("value", ["undefined", "null", ""])
def test_a_placeholder_order_id_is_a_missing_order_id(live_app, deliver, value):
    answer, _ = deliver(live_app, order(properties__order_id=value))
    assert answer.status_code == 400 and answer.json()["message"] == "Missing order_id"


@pytest.mark.parametrize("products, skus", [
    ([{"sku": "S-1", "product_id": "P-1", "id": "I-1"}], ["S-1"]),
    ([{"product_id": "P-1", "id": "I-1"}], ["P-1"]),
    ([{"id": "I-1"}, {"ID": 245}], ["I-1", "245"]),  # spec v1, WooCommerce, Solidus
    ([{"sku": "undefined", "productId": "P-2"}], ["P-2"]),
    ([{"SKU": "", "id": "I-3"}], ["I-3"]),
    ([{"Sku": "S-4"}, {"sku": "S-4"}], ["S-4"]),
])
def test_sku_from_sku_then_product_id_then_id(live_app, deliver, products, skus):
    answer, link = deliver(live_app, order(properties__products=products))
    assert link[0].get("skus") == skus


@pytest.mark.env(SKU_MAP="")
def test_sku_map_maps_the_first_key_it_knows(live_app, store, settings, clock, tmp_path):
    from receiver.config import load_settings
    from receiver.web import create_app
    from support.data import base_env

    csv = tmp_path / "map.csv"
    csv.write_text("segment_sku,trustpilot_sku\nI-9,CATALOGUE-9\n")
    mapped = load_settings(base_env(DATABASE_URL=settings.database.url, SKU_MAP=str(csv)), intake=True)
    client = create_app(mapped, store=store, clock=clock).test_client()
    client.post("/segment", json=order(properties__products=[{"sku": "S-9", "id": "I-9"}]), headers=basic_auth())
    assert store.reports.find(message_id="m-1").skus == ("CATALOGUE-9",)


# -- names ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("traits, name", [
    ({"name": "praman", "first_name": "Priya", "last_name": "Raman"}, "Priya Raman"),  # the WooCommerce login loses
    ({"name": "Dr. Anna Maria Schmidt", "firstName": "Anna", "lastName": "Schmidt"}, "Anna Schmidt"),
    ({"name": "Oliver", "surname": "Hughes"}, "Oliver Hughes"),
    ({"name": "#1002", "first_name": "Lena"}, "Lena"),
    ({"name": "#1002"}, "Customer"),
    ({"name": "12345", "first_name": "99", "last_name": "100"}, "Customer"),
    ({"name": "undefined", "first_name": "Nia", "last_name": "n/a"}, "Nia"),
    ({"first_name": "Jürgen", "last_name": "Müller"}, "Jürgen Müller"),
])
def test_which_name(live_app, deliver, traits, name):
    answer, link = deliver(live_app, order(context__traits=traits))
    assert link[0]["name"] == name


def test_a_name_without_letters_in_the_order_falls_to_the_next_source(live_app, deliver):
    answer, link = deliver(live_app, order(properties__name="#1002", context__traits={"firstName": "Lena",
                                                                                       "lastName": "Vogel"}))
    assert link[0]["name"] == "Lena Vogel"


# -- locales -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("locale, stored, host", [
    ("de-DE-u-co-phonebk", "de-DE", "de.trustpilot.com"),
    ("de_AT.UTF-8", "de-AT", "at.trustpilot.com"),
    ("en-gb", "en-GB", "uk.trustpilot.com"),
    ("fr-BE-x-shop", "fr-BE", "fr-be.trustpilot.com"),
    ("zh-Hant-TW", "zh-Hant-TW", "www.trustpilot.com"),
    ("not a locale", None, "www.trustpilot.com"),
])
def test_locales_are_read_as_bcp_47(live_app, deliver, store, locale, stored, host):
    answer, link = deliver(live_app, order(context__locale=locale))
    assert store.reports.find(message_id="m-1").locale == stored and link[1] == host
