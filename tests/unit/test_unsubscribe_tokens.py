"""One-click unsubscribe's pure parts: the signed token (round trip, tampering), its URL, PUBLIC_URL, the email's
headers and footer, and the worker's one warning without PUBLIC_URL."""

from __future__ import annotations

import base64
import hashlib
import logging

import pytest
from hypothesis import given
from hypothesis import strategies as st
from itsdangerous import URLSafeSerializer

from receiver.config import ConfigError, load_settings
from receiver.emails import templates
from receiver.invitation import Invitation
from receiver.senders import ReadyInvitation
from receiver.senders.smtp import SmtpSender, settings_from_environ
from receiver.unsubscribe import SALT, UnsubscribeLinks, UnsubscribeTokens, message_check, token_key
from receiver.worker_process import NO_PUBLIC_URL, unsubscribe_links
from support.data import DATA_KEY_BYTES, base_env

TOKENS = UnsubscribeTokens(DATA_KEY_BYTES)


@given(st.integers(min_value=1, max_value=2**63 - 1), st.text(min_size=1, max_size=80))
def test_a_token_reads_back_as_its_invitation_and_names_only_its_message(invitation_id, message_id):
    ticket = TOKENS.read(TOKENS.token(invitation_id, message_id))
    assert ticket is not None and ticket.invitation_id == invitation_id
    assert ticket.names(message_id) and not ticket.names(message_id + "x")


def test_every_altered_character_makes_a_token_worthless():
    token = TOKENS.token(42, "m-42")
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_."
    for index, char in enumerate(token):
        for other in {alphabet[(alphabet.index(char) + 1) % len(alphabet)], "A" if char != "A" else "B"}:
            altered = token[:index] + other + token[index + 1:]
            assert TOKENS.read(altered) is None, altered
    assert TOKENS.read(token[:-1]) is None and TOKENS.read(token + "A") is None
    assert TOKENS.read("") is None and TOKENS.read("x" * 500) is None and TOKENS.read("not.a.token") is None


def test_a_token_of_another_key_or_purpose_is_refused():
    other = UnsubscribeTokens(bytes(32))
    assert TOKENS.read(other.token(42, "m-42")) is None
    # signed with DATA_KEY itself, not the key derived for this purpose: refused
    raw = URLSafeSerializer(DATA_KEY_BYTES, salt=SALT).dumps([42, message_check("m-42")])
    assert TOKENS.read(raw) is None
    assert token_key(DATA_KEY_BYTES) != DATA_KEY_BYTES and len(token_key(DATA_KEY_BYTES)) == 32


@pytest.mark.parametrize("payload", ["42", [42], ["42", "x"], [True, "x"], [42, 7], {"id": 42}, [42, "x", 1]])
def test_a_genuinely_signed_payload_of_the_wrong_shape_is_refused(payload):
    serializer = URLSafeSerializer(token_key(DATA_KEY_BYTES), salt=SALT, signer_kwargs={"digest_method": hashlib.sha256})
    assert TOKENS.read(serializer.dumps(payload)) is None


def test_the_token_carries_the_invitation_not_the_address():
    token = TOKENS.token(42, "m-42")
    body = token.split(".")[0]
    decoded = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
    assert decoded.startswith(b"[42,") and b"@" not in decoded and b"m-42" not in decoded
    assert len(token) < 100


def test_the_url_is_public_url_slash_unsubscribe_slash_token():
    links = UnsubscribeLinks.from_settings("https://reviews.example.com/", DATA_KEY_BYTES)
    url = links.url(42, "m-42")
    assert url.startswith("https://reviews.example.com/unsubscribe/")
    assert TOKENS.read(url.rpartition("/")[2]).invitation_id == 42
    assert UnsubscribeLinks.from_settings(None, DATA_KEY_BYTES) is None


@pytest.mark.parametrize("given_url, kept", [("https://reviews.example.com", "https://reviews.example.com"),
                                             ("https://reviews.example.com/", "https://reviews.example.com"),
                                             ("http://127.0.0.1:8000/shop/", "http://127.0.0.1:8000/shop")])
def test_public_url_is_kept_without_its_trailing_slash(given_url, kept):
    assert load_settings(base_env(PUBLIC_URL=given_url)).worker.public_url == kept


def test_public_url_with_a_query_is_one_line_naming_it():
    with pytest.raises(ConfigError) as raised:
        load_settings(base_env(PUBLIC_URL="https://reviews.example.com/?utm=mail"))
    assert raised.value.problems == ["PUBLIC_URL must have no query (?...) or fragment (#...)"]


def test_without_public_url_the_worker_warns_once_and_makes_no_links(caplog):
    with caplog.at_level(logging.WARNING, logger="receiver"):
        assert unsubscribe_links(load_settings(base_env())) is None
        assert unsubscribe_links(load_settings(base_env(PUBLIC_URL="https://reviews.example.com"))) is not None
    assert [record.getMessage() for record in caplog.records] == [NO_PUBLIC_URL]


def _ready(url: str | None, locale: str | None = None) -> ReadyInvitation:
    invitation = Invitation(message_id="m-1", email="jane@example.com", name="Jane", ref="A-1", locale=locale)
    return ReadyInvitation(id=1, invitation=invitation, link="https://www.trustpilot.com/evaluate-bgl/x",
                           unsubscribe_url=url)


def test_the_email_has_the_headers_and_footer_only_with_a_url():
    sender = SmtpSender(settings_from_environ({"SMTP_URL": "smtp://127.0.0.1:2525", "MAIL_FROM": "s@example.com"}))
    url = "https://reviews.example.com/unsubscribe/tok"
    message = sender.build_message(_ready(url))
    assert message["List-Unsubscribe"] == f"<{url}>"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    without = sender.build_message(_ready(None))
    assert "List-Unsubscribe" not in without and "List-Unsubscribe-Post" not in without
    assert "unsubscribe" not in without.as_string().lower()


def test_a_plug_in_sender_may_still_build_a_ready_invitation_without_the_url():
    ready = ReadyInvitation(id=1, invitation=_ready(None).invitation, link="https://x")
    assert ready.unsubscribe_url is None


def test_a_callers_own_fields_without_the_url_still_render():
    class Fields:
        name, ref, link, locale = "Jane", "A-1", "https://x", "de"

    email = templates().render(Fields(), "Shop")
    assert "Abmelden" not in email.text and "Abmelden" not in email.html
