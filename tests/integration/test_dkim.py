"""DKIM: what a real SMTP server (aiosmtpd in the test process) receives from the smtp sender verifies with dkimpy's
own verifier, against the DNS record made from the test's key and against the one ``receiver dkim-record`` prints;
any change to what was signed fails it."""

import re

import dkim
import pytest
from click.testing import CliRunner

from receiver.cli import main
from receiver.invitation import Invitation
from receiver.senders import ReadyInvitation
from receiver.senders.smtp import SmtpSender, settings_from_environ
from support.dkim import pem, published_value, rsa_key, txt_lookup
from support.servers import smtp_server

RECORD = "mail2026._domainkey.example.com"
UNSUBSCRIBE = "<https://reviews.example.com/unsubscribe/t0ken>"
LINK = "https://www.trustpilot.com/evaluate-bgl/example.com?p=cGF5bG9hZA&c=c2lnbmF0dXJl"


def ready(name="Jane Doe", email="jane.doe@example.com", locale=None):
    invitation = Invitation(message_id="msg-7", email=email, name=name, ref="A-1001", skus=(), tags=(), locale=locale)
    return ReadyInvitation(id=7, invitation=invitation, link=LINK)


def smtp_env(port, **extra):
    return {"SMTP_URL": f"smtp://127.0.0.1:{port}", "MAIL_FROM": "Bücherwelt <reviews@example.com>",
            "SMTP_TIMEOUT": "5s", **extra}


def dkim_env(port):
    return smtp_env(port, DKIM_PRIVATE_KEY=pem(rsa_key()), DKIM_SELECTOR="mail2026")


def received_through(env, invitation=None, sender_class=SmtpSender, **server_options):
    """The bytes the SMTP server got for one invitation sent with ``env(port)``."""
    with smtp_server(**server_options) as (mailbox, port):
        sender = sender_class(settings_from_environ(env(port)))
        sender.send(invitation or ready())
        sender.close()
    [received] = mailbox.received
    return received.content


def verified(content, records=None):
    return dkim.verify(content, dnsfunc=txt_lookup({RECORD: published_value(rsa_key())} if records is None else records))


def signature_tags(content):
    header = content.split(b"\r\n\r\n", 1)[0].decode("utf-8")
    unfolded = re.sub(r"\r\n[ \t]+", " ", header)
    [value] = [line.split(":", 1)[1] for line in unfolded.split("\r\n") if line.lower().startswith("dkim-signature:")]
    return {tag.strip(): value.strip() for tag, _, value in (part.partition("=") for part in value.split(";"))}


def tampered(content, old, new):
    assert content.count(old) >= 1
    return content.replace(old, new, 1)


def test_a_received_message_verifies_with_dkimpy_against_the_record_of_the_tests_key():
    content = received_through(dkim_env)
    assert content.startswith(b"DKIM-Signature: ")
    lookup = txt_lookup({RECORD: published_value(rsa_key())})
    assert dkim.verify(content, dnsfunc=lookup)
    assert lookup.asked == [RECORD]
    tags = signature_tags(content)
    assert (tags["v"], tags["a"], tags["c"], tags["d"], tags["s"]) == ("1", "rsa-sha256", "relaxed/relaxed",
                                                                       "example.com", "mail2026")
    assert tags["h"].replace(" ", "").split(":") == ["from", "to", "subject", "date", "message-id"]


def test_a_changed_body_or_signed_header_fails_verification_and_another_key_does_not_verify():
    content = received_through(dkim_env)
    body_start = content.index(b"\r\n\r\n")
    link_at = content.index(b"https://", body_start)
    assert not verified(content[:link_at] + b"http://" + content[link_at + len(b"https://"):])
    assert not verified(tampered(content, b"Subject: How was your order", b"Subject: How was yours order"))
    assert not verified(tampered(content, b"jane.doe@example.com", b"jane.dor@example.com"))
    assert not verified(content, {RECORD: published_value(rsa_key(1024))})
    assert not verified(content, {})  # no record published: no signature to trust


def test_unsigned_headers_may_change_and_no_signature_without_the_settings():
    content = received_through(dkim_env)
    assert verified(tampered(content, b"Auto-Submitted: auto-generated", b"Auto-Submitted: no"))  # not signed
    plain = received_through(smtp_env)
    assert b"DKIM-Signature" not in plain and not verified(plain)


class WithListUnsubscribe(SmtpSender):
    """The two headers of RFC 8058, as the unsubscribe work adds them to every email."""

    def build_message(self, invitation):
        message = super().build_message(invitation)
        message["List-Unsubscribe"] = UNSUBSCRIBE
        message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
        return message


def test_list_unsubscribe_headers_are_signed_when_present():
    content = received_through(dkim_env, sender_class=WithListUnsubscribe)
    assert verified(content)
    assert signature_tags(content)["h"].replace(" ", "").split(":")[-2:] == ["list-unsubscribe",
                                                                            "list-unsubscribe-post"]
    assert not verified(tampered(content, UNSUBSCRIBE.encode(), b"<https://elsewhere.example/u>"))
    assert not verified(tampered(content, b"List-Unsubscribe=One-Click", b"List-Unsubscribe=Two-Click"))


class WithAwkwardLines(SmtpSender):
    """A text part whose lines SMTP and canonicalization touch: leading dots (dot-stuffed on the wire), ``From ``,
    trailing white space, runs of blanks, bare line feeds and empty lines at the end."""

    def build_message(self, invitation):
        message = super().build_message(invitation)
        message.get_body(("plain",)).set_content(".one dot\n..two dots\nFrom here  \n\ttabbed   text \t\n\n\n")
        return message


def test_the_bytes_signed_are_the_bytes_received_whatever_smtp_does_to_dots_and_line_ends():
    content = received_through(dkim_env, sender_class=WithAwkwardLines)
    assert b"\r\n.one dot\r\n..two dots\r\n" in content and b"\n" not in content.replace(b"\r\n", b"")
    assert verified(content)
    assert not verified(tampered(content, b"\r\n..two dots", b"\r\n.two dots"))


@pytest.mark.parametrize("name,email,locale", [
    ("Jürgen Müller-Lüdenscheidt", "jane.doe@example.com", "de-DE"),  # encoded words in To and Subject
    ("Jane Doe", "jürgen@example.com", None),  # SMTPUTF8: raw UTF-8 in the To header
])
def test_non_ascii_names_and_mailboxes_verify_too(name, email, locale):
    content = received_through(dkim_env, ready(name=name, email=email, locale=locale), enable_SMTPUTF8=True)
    assert verified(content)


def test_the_key_in_a_file_and_the_record_dkim_record_prints_verify_a_message(tmp_path):
    key_file = tmp_path / "dkim.pem"
    key_file.write_text(pem(rsa_key()))
    settings = {"DKIM_PRIVATE_KEY": str(key_file), "DKIM_SELECTOR": "Sel-1", "DKIM_DOMAIN": "Mail.Bücher.example"}
    result = CliRunner().invoke(main, ["dkim-record"], env={**settings, "MAIL_FROM": "r@example.com"})
    assert result.exit_code == 0, result.output
    lines = dict(line.split(": ", 1) for line in result.output.splitlines())
    assert lines["name"].strip() == "sel-1._domainkey.mail.xn--bcher-kva.example"
    content = received_through(lambda port: smtp_env(port, **settings))
    assert signature_tags(content)["d"] == "mail.xn--bcher-kva.example"
    assert verified(content, {lines["name"].strip(): lines["value"].strip()})
