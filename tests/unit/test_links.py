"""The link builder: locale -> Trustpilot host (the shipped table, LOCALE_HOSTS, a forced TRUSTPILOT_HOST) -> the BGL,
and the links the worker, the console and the CLI build with it."""

import copy
import json

import pytest
import requests
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from receiver import bgl
from receiver.bgl import decode
from receiver.cli import main
from receiver.config import ConfigError, load_settings
from receiver.invitation import Invitation
from receiver.links import COUNTRY_SITES, LinkBuilder
from support.data import AUTH_KEY, ENCRYPT_KEY, base_env, basic_auth, fixture
from support.workers import worker_for

KEYS = bgl.Keys.from_base64(ENCRYPT_KEY, AUTH_KEY)
DEFAULT = LinkBuilder.from_settings(load_settings(base_env()).trustpilot)
JANE = Invitation(message_id="m-1", email="jane@example.com", name="Jane Roe", ref="A-1", skus=("S1",),
                  tags=("vip",), locale="de-DE")


def builder(**env: str) -> LinkBuilder:
    return LinkBuilder.from_settings(load_settings(base_env(**env)).trustpilot)


def host_of(link: str) -> str:
    return link.split("/")[2]


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
    assert DEFAULT.host_for(locale) == host


@pytest.mark.parametrize("locale, host", sorted(COUNTRY_SITES.items()))
def test_every_country_site_row_is_reached(locale, host):
    assert DEFAULT.host_for(locale) == host
    assert DEFAULT.host_for(locale.upper().replace("-", "_")) == host  # as a Segment source may spell it
    if "-" not in locale:  # a bare language also covers the regions without a site of their own
        assert DEFAULT.host_for(f"{locale}-ZZ") == host


def test_locale_hosts_override_the_table_most_specific_first():
    settings = load_settings(base_env(LOCALE_HOSTS="de=de.example-mirror.com, de_ch=ch.example-mirror.com,"
                                                   " EN=uk.trustpilot.com")).trustpilot
    assert settings.locale_hosts == (("de", "de.example-mirror.com"), ("de-CH", "ch.example-mirror.com"),
                                     ("en", "uk.trustpilot.com"))
    links = LinkBuilder.from_settings(settings)
    assert links.host_for("de-DE") == "de.example-mirror.com"
    assert links.host_for("de-CH") == "ch.example-mirror.com"
    assert links.host_for("de-AT") == "at.trustpilot.com"  # the table's de-AT is more specific than "de"
    assert links.host_for("en-US") == "www.trustpilot.com"  # likewise
    assert links.host_for("en-ZA") == "uk.trustpilot.com"


def test_a_locale_hosts_entry_beats_the_same_entry_of_the_table():
    links = LinkBuilder(KEYS, "example.com", locale_hosts={"de-AT": "de.trustpilot.com", "fr": "fr.example.net"})
    assert (links.host_for("de-AT"), links.host_for("fr-FR"), links.host_for("fr-BE")) == (
        "de.trustpilot.com", "fr.example.net", "fr-be.trustpilot.com")


def test_an_explicit_trustpilot_host_forces_every_link():
    settings = load_settings(base_env()).trustpilot
    assert not settings.force_host and settings.trustpilot_host == "www.trustpilot.com"
    assert DEFAULT.forced_host is None
    forced = builder(TRUSTPILOT_HOST="www.trustpilot.com", LOCALE_HOSTS="de=x.trustpilot.com")
    assert forced.forced_host == "www.trustpilot.com"
    assert {forced.host_for(locale) for locale in ("de-DE", "en-GB", None)} == {"www.trustpilot.com"}
    assert host_of(builder(TRUSTPILOT_HOST="uk.trustpilot.com").link(JANE)) == "uk.trustpilot.com"


def test_the_default_host_is_used_when_no_entry_matches():
    links = LinkBuilder(KEYS, "example.com", default_host="www.example-mirror.com")
    assert [links.host_for(locale) for locale in (None, "", "  ", "xx-YY", "de-DE")] == [
        "www.example-mirror.com"] * 4 + ["de.trustpilot.com"]


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
    assert DEFAULT.host_for(locale) in {*COUNTRY_SITES.values(), DEFAULT.default_host}


# -- the link ----------------------------------------------------------------------------------------

def test_a_link_decodes_to_the_invitations_payload_on_its_locales_host():
    link = DEFAULT.link(JANE)
    assert link.startswith("https://de.trustpilot.com/evaluate-bgl/example.com?p=")
    assert decode(link, KEYS) == JANE.payload() == {"email": "jane@example.com", "name": "Jane Roe", "ref": "A-1",
                                                   "skus": ["S1"], "tags": ["vip"]}


def test_the_link_is_bgl_on_the_host_with_the_given_iv():
    iv = bytes(range(16))
    assert DEFAULT.link(JANE, iv_source=lambda: iv) == bgl.build_link(
        JANE.payload(), KEYS, "example.com", host="de.trustpilot.com", iv_source=lambda: iv)


@given(st.builds(Invitation, message_id=st.just("m"), email=st.emails(), name=st.text(max_size=30),
                 ref=st.text(min_size=1, max_size=20), skus=st.lists(st.text(max_size=8), max_size=3).map(tuple),
                 tags=st.lists(st.text(max_size=8), max_size=3).map(tuple),
                 locale=st.none() | st.sampled_from(sorted(COUNTRY_SITES))))
def test_any_invitation_round_trips(invitation):
    link = DEFAULT.link(invitation)
    assert decode(link, KEYS) == invitation.payload()
    assert host_of(link) == DEFAULT.host_for(invitation.locale)


def test_the_keys_stay_out_of_its_repr():
    assert "keys" not in repr(DEFAULT) and ENCRYPT_KEY not in repr(DEFAULT)


# -- the CLI --------------------------------------------------------------------------------------------

def cli(args, **env):
    return CliRunner().invoke(main, args, env=base_env(**env), catch_exceptions=False)


def test_receiver_link_follows_the_locale(sqlite_url):
    made = cli(["link", "--email", "jane@example.com", "--name", "Jane Roe", "--ref", "A-1", "--locale", "de-DE"],
               DATABASE_URL=sqlite_url)
    assert made.exit_code == 0, made.output
    assert host_of(made.output.strip()) == "de.trustpilot.com"
    assert decode(made.output.strip(), KEYS) == {"email": "jane@example.com", "name": "Jane Roe", "ref": "A-1"}
    plain = cli(["link", "--email", "jane@example.com", "--name", "Jane Roe", "--ref", "A-1"], DATABASE_URL=sqlite_url)
    assert host_of(plain.output.strip()) == "www.trustpilot.com"


def test_receiver_link_refuses_what_an_order_could_not_carry(sqlite_url):
    result = CliRunner().invoke(main, ["link", "--email", "not-an-address", "--name", "A", "--ref", "1"],
                                env=base_env(DATABASE_URL=sqlite_url))
    assert result.exit_code == 2 and result.output == "error: --email: Invalid email address\n"


def test_send_test_prints_the_link_of_its_locales_host(sqlite_url):
    """As a new user tries it: the sample's link is on the host the worker would use for a de-DE order."""
    result = cli(["send-test", "--to", "you@example.com", "--locale", "de-DE"], DATABASE_URL=sqlite_url)
    assert result.exit_code == 0, result.output
    link = result.output.splitlines()[-1].removeprefix("link: ")
    assert link.startswith("https://de.trustpilot.com/evaluate-bgl/example.com?p=")
    assert decode(link, KEYS)["email"] == "you@example.com"
    forced = cli(["send-test", "--to", "you@example.com", "--locale", "de-DE"], DATABASE_URL=sqlite_url,
                 TRUSTPILOT_HOST="uk.trustpilot.com")
    assert host_of(forced.output.splitlines()[-1].removeprefix("link: ")) == "uk.trustpilot.com"


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


def test_an_overlong_or_odd_locale_costs_no_order_on_either_database(live_app, store):
    long_one, odd_one = fixture("order-completed-seed.json"), fixture("order-completed-no-products.json")
    long_one["context"]["locale"] = "de-DE-" + "x" * 80
    odd_one["context"]["locale"] = ["de-DE"]
    response = requests.post(f"{live_app}/segment", data=json.dumps([long_one, odd_one]), headers=basic_auth(),
                             timeout=5)
    assert response.json()["accepted"] == 2
    assert store.reports.find(message_id=long_one["messageId"]).locale is None  # not a plausible tag: dropped
    assert store.reports.find(message_id=odd_one["messageId"]).locale is None

