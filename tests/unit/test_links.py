"""The link builder: locale -> Trustpilot host (the shipped table, LOCALE_HOSTS, a forced TRUSTPILOT_HOST) -> the BGL,
and the links the CLI builds with it (the worker's: tests/integration/test_links_in_the_worker.py)."""

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from receiver import bgl
from receiver.bgl import decode
from receiver.cli import main
from receiver.config import ConfigError, load_settings
from receiver.invitation import Invitation
from receiver.links import COUNTRY_SITES, LinkBuilder
from support.data import AUTH_KEY, ENCRYPT_KEY, base_env

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
