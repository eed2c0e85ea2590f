"""The links the worker builds, on each order's locale host, from orders posted to a live receiver."""

import copy
import json

import pytest
import requests

from receiver.bgl import decode
from support.data import basic_auth, fixture
from support.workers import worker_for


def host_of(link: str) -> str:
    return link.split("/")[2]


class Collect:
    def __init__(self):
        self.sent = []

    def send(self, invitation):
        self.sent.append(invitation)

    def close(self):
        pass


def deliver_orders(live_app, store, settings, locales):
    batch = []
    for number, (where, locale) in enumerate(locales):
        message = copy.deepcopy(fixture("order-completed-seed.json"))
        message["messageId"], message["properties"]["order_id"] = f"m-{number}", f"R-{number}"
        message["context"].pop("locale")
        if locale is not None:
            (message["context"] if where == "context" else message["properties"])["locale"] = locale
        batch.append(message)
    response = requests.post(f"{live_app}/segment", data=json.dumps(batch), headers=basic_auth(), timeout=5)
    assert response.json()["accepted"] == len(locales)
    sender = Collect()
    worker_for(store, settings, sender).drain()
    return {item.ref: item for item in sender.sent}


def test_the_worker_builds_each_link_on_its_locale_host(live_app, store, settings):
    sent = deliver_orders(live_app, store, settings, [("context", "de-DE"), ("properties", "fr-FR"),
                                                      ("context", "en-GB"), ("context", "tlh-QO"), ("context", None)])
    hosts = {ref: host_of(item.link) for ref, item in sent.items()}
    assert hosts == {"R-0": "de.trustpilot.com", "R-1": "fr.trustpilot.com", "R-2": "uk.trustpilot.com",
                     "R-3": "www.trustpilot.com", "R-4": "www.trustpilot.com"}
    assert sent["R-1"].locale == "fr-FR"
    assert decode(sent["R-0"].link, settings.trustpilot.keys)["ref"] == "R-0"


@pytest.mark.env(TRUSTPILOT_HOST="uk.trustpilot.com")
def test_a_forced_host_wins_in_the_worker_too(live_app, store, settings):
    sent = deliver_orders(live_app, store, settings, [("context", "de-DE"), ("context", None)])
    assert {host_of(item.link) for item in sent.values()} == {"uk.trustpilot.com"}


@pytest.mark.env(LOCALE_HOSTS="de-AT=de.trustpilot.com")
def test_locale_hosts_reach_the_worker(live_app, store, settings):
    sent = deliver_orders(live_app, store, settings, [("context", "de-AT")])
    assert sent["R-0"].link.startswith("https://de.trustpilot.com/evaluate-bgl/example.com?p=")


@pytest.mark.both_databases
def test_an_overlong_or_odd_locale_costs_no_order_on_either_database(live_app, store):
    long_one, odd_one = fixture("order-completed-seed.json"), fixture("order-completed-no-products.json")
    long_one["context"]["locale"] = "de-DE-" + "x" * 80
    odd_one["context"]["locale"] = ["de-DE"]
    response = requests.post(f"{live_app}/segment", data=json.dumps([long_one, odd_one]), headers=basic_auth(),
                             timeout=5)
    assert response.json()["accepted"] == 2
    assert store.reports.find(message_id=long_one["messageId"]).locale is None  # not a plausible tag: dropped
    assert store.reports.find(message_id=odd_one["messageId"]).locale is None
