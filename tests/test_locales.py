"""Locale -> Trustpilot host: the shipped table, LOCALE_HOSTS, a forced TRUSTPILOT_HOST, and the links the worker builds."""

import copy
import json

import pytest
import requests
from hypothesis import given
from hypothesis import strategies as st

from receiver.bgl import decode
from receiver.config import ConfigError, load_settings, normal_locale
from receiver.locales import COUNTRY_SITES, host_for
from receiver.worker import Worker
from support.data import base_env, basic_auth, fixture

DEFAULT = load_settings(base_env())


@pytest.mark.parametrize("locale, host", [
    ("de-DE", "de.trustpilot.com"),
    ("en-GB", "uk.trustpilot.com"),
    ("fr-FR", "fr.trustpilot.com"),
    ("en-US", "www.trustpilot.com"),
    ("de-AT", "at.trustpilot.com"),
    ("de-CH", "ch.trustpilot.com"),
    ("fr-BE", "fr-be.trustpilot.com"),
    ("nl-BE", "nl-be.trustpilot.com"),
    ("nl-NL", "nl.trustpilot.com"),
    ("pt-BR", "br.trustpilot.com"),
    ("pt-PT", "pt.trustpilot.com"),
    ("sv-SE", "se.trustpilot.com"),
    ("da-DK", "dk.trustpilot.com"),
    ("nb-NO", "no.trustpilot.com"),
    ("ja-JP", "jp.trustpilot.com"),
    ("en-AU", "au.trustpilot.com"),
    ("es-MX", "es.trustpilot.com"),  # no Mexican site: the language's
    ("fr-CA", "fr.trustpilot.com"),
    ("de_de", "de.trustpilot.com"),  # any separator, any case
    ("EN-gb", "uk.trustpilot.com"),
    ("de", "de.trustpilot.com"),
    ("zh-Hant-TW", "www.trustpilot.com"),
    ("xx-YY", "www.trustpilot.com"),
    ("", "www.trustpilot.com"),
    (None, "www.trustpilot.com"),
    ("not a locale at all", "www.trustpilot.com"),
])
def test_the_shipped_table(locale, host):
    assert host_for(locale, DEFAULT) == host


def test_locale_hosts_override_the_table_most_specific_first():
    settings = load_settings(base_env(LOCALE_HOSTS="de=de.example-mirror.com, de_ch=ch.example-mirror.com,"
                                                   " EN=uk.trustpilot.com"))
    assert settings.locale_hosts == (("de", "de.example-mirror.com"), ("de-CH", "ch.example-mirror.com"),
                                     ("en", "uk.trustpilot.com"))
    assert host_for("de-DE", settings) == "de.example-mirror.com"
    assert host_for("de-CH", settings) == "ch.example-mirror.com"
    assert host_for("de-AT", settings) == "at.trustpilot.com"  # the table's de-AT is more specific than "de"
    assert host_for("en-US", settings) == "www.trustpilot.com"  # likewise
    assert host_for("en-ZA", settings) == "uk.trustpilot.com"


def test_an_explicit_trustpilot_host_forces_every_link():
    assert not DEFAULT.force_host and DEFAULT.trustpilot_host == "www.trustpilot.com"
    forced = load_settings(base_env(TRUSTPILOT_HOST="www.trustpilot.com", LOCALE_HOSTS="de=x.trustpilot.com"))
    assert forced.force_host
    assert {host_for(locale, forced) for locale in ("de-DE", "en-GB", None)} == {"www.trustpilot.com"}


@pytest.mark.parametrize("value, problem", [
    ("de", "LOCALE_HOSTS: item 1 is not locale=host (e.g. de-AT=at.trustpilot.com)"),
    ("de=de.trustpilot.com,12=x.trustpilot.com", "LOCALE_HOSTS: item 2 is not locale=host (e.g. de-AT=at.trustpilot.com)"),
    ("de=https://de.trustpilot.com/", "LOCALE_HOSTS: item 1: the host must be a host name such as at.trustpilot.com"),
])
def test_locale_hosts_problems(value, problem):
    with pytest.raises(ConfigError) as refused:
        load_settings(base_env(LOCALE_HOSTS=value))
    assert refused.value.problems == [problem]


@given(st.text(max_size=40))
def test_any_locale_gives_a_known_host(locale):
    assert host_for(locale, DEFAULT) in {*COUNTRY_SITES.values(), DEFAULT.trustpilot_host}


@given(st.text(alphabet="abcdefghDEFGH-_", max_size=12))
def test_normal_locale_is_idempotent(locale):
    assert normal_locale(normal_locale(locale)) == normal_locale(locale)


# -- the link the worker builds ------------------------------------------------------------------------

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
    Worker(store, settings, sender).drain()
    return {item.ref: item for item in sender.sent}


def test_the_worker_builds_each_link_on_its_locale_host(live_app, store, settings):
    sent = deliver_orders(live_app, store, settings, [("context", "de-DE"), ("properties", "fr-FR"),
                                                      ("context", "en-GB"), ("context", "tlh-QO"), ("context", None)])
    hosts = {ref: item.link.split("/")[2] for ref, item in sent.items()}
    assert hosts == {"R-0": "de.trustpilot.com", "R-1": "fr.trustpilot.com", "R-2": "uk.trustpilot.com",
                     "R-3": "www.trustpilot.com", "R-4": "www.trustpilot.com"}
    assert sent["R-1"].locale == "fr-FR"
    assert decode(sent["R-0"].link, settings.keys)["ref"] == "R-0"


@pytest.mark.env(TRUSTPILOT_HOST="uk.trustpilot.com")
def test_a_forced_host_wins_in_the_worker_too(live_app, store, settings):
    sent = deliver_orders(live_app, store, settings, [("context", "de-DE"), ("context", None)])
    assert {item.link.split("/")[2] for item in sent.values()} == {"uk.trustpilot.com"}


@pytest.mark.env(LOCALE_HOSTS="de-AT=de.trustpilot.com")
def test_locale_hosts_reach_the_worker(live_app, store, settings):
    sent = deliver_orders(live_app, store, settings, [("context", "de-AT")])
    assert sent["R-0"].link.startswith("https://de.trustpilot.com/evaluate-bgl/example.com?p=")


def test_an_overlong_or_odd_locale_costs_no_order_on_either_database(live_app, store):
    long_one, odd_one = fixture("order-completed-seed.json"), fixture("order-completed-no-products.json")
    long_one["context"]["locale"] = "de-DE-" + "x" * 80
    odd_one["context"]["locale"] = ["de-DE"]
    response = requests.post(f"{live_app}/segment", data=json.dumps([long_one, odd_one]), headers=basic_auth(),
                             timeout=5)
    assert response.json()["accepted"] == 2
    assert store.find(message_id=long_one["messageId"])["locale"] is None  # not a plausible tag: dropped
    assert store.find(message_id=odd_one["messageId"])["locale"] is None
