"""The smtp sender against real SMTP servers (aiosmtpd in the test process): plain, STARTTLS, TLS, login."""

import logging
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

import pytest

from receiver import bgl
from receiver.config import load_settings
from receiver.invitation import Invitation
from receiver.senders import ReadyInvitation, SendFailure, load_sender
from receiver.senders.smtp import SmtpSender, message_id, settings_from_environ
from receiver.store import NewInvitation, Store
from support.clock import FakeClock
from support.data import AUTH_KEY, DATA_KEY_BYTES, ENCRYPT_KEY, base_env
from support.net import free_port
from support.servers import Authenticator, html_links_and_text, make_pki, smtp_server
from support.workers import worker_for

KEYS = bgl.Keys.from_base64(ENCRYPT_KEY, AUTH_KEY)
USER, PASSWORD = "shop@example.com", "p@ss:w/rd%&?#"  # every character that needs URL-encoding


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    return make_pki(tmp_path_factory.mktemp("pki"))


def ready(id=7, email="jane.doe@example.com", name="Jane Doe", locale=None, message_id="msg-7", **extra):
    payload = {"email": email, "name": name, "ref": extra.get("ref", "A-1001"), "skus": ["SKU-1", "SKU-2"]}
    invitation = Invitation(message_id=message_id, email=email, name=name, ref=payload["ref"],
                            skus=("SKU-1", "SKU-2"), tags=(), locale=locale)
    return ReadyInvitation(id=id, invitation=invitation, link=bgl.build_link(payload, KEYS, "example.com"))


def smtp_env(port, scheme="smtp", userinfo="", query="", **extra):
    env = {"SMTP_URL": f"{scheme}://{userinfo}127.0.0.1:{port}{query}", "MAIL_FROM": "Bücherwelt <reviews@example.com>",
           "SMTP_TIMEOUT": "5s"}
    env.update(extra)
    return env


def sender_for(env, **kw):
    return SmtpSender(settings_from_environ(env), **kw)


def parts_of(message):
    """(text, html) of a received multipart/alternative message, decoded."""
    assert message.get_content_type() == "multipart/alternative"
    kinds = [part.get_content_type() for part in message.iter_parts()]
    assert kinds == ["text/plain", "text/html"]
    text, html = (message.get_body((kind,)).get_content().replace("\r\n", "\n") for kind in ("plain", "html"))
    return text, html


def test_a_plain_server_receives_a_complete_email_whose_links_decode_to_the_invitation():
    clock = FakeClock()
    invitation = ready()
    with smtp_server() as (mailbox, port):
        sender = sender_for(smtp_env(port, MAIL_REPLY_TO="Help <help@example.com>", MAIL_BCC="archive@example.com"),
                            clock=clock)
        sender.send(invitation)
        sender.close()
    [received] = mailbox.received
    assert received.mail_from == "reviews@example.com"
    assert received.rcpt_tos == ["jane.doe@example.com", "archive@example.com"]
    assert not received.tls and received.login is None
    message = received.message
    assert message["To"].addresses[0].display_name == "Jane Doe"
    assert message["To"].addresses[0].addr_spec == "jane.doe@example.com"
    assert str(message["From"]) == "Bücherwelt <reviews@example.com>"
    assert str(message["Reply-To"]) == "Help <help@example.com>"
    assert "Bcc" not in message and b"archive@example.com" not in received.content  # only in the envelope
    assert message["Subject"] == "How was your order from Bücherwelt?"
    assert message["Date"] == "Fri, 20 Nov 2026 12:00:00 +0000"
    assert message["Date"].datetime == clock.now
    assert message["Message-ID"] == message_id(invitation, "example.com")
    assert message["Message-ID"].startswith("<invitation.7.") and message["Message-ID"].endswith("@example.com>")
    assert message["Content-Language"] == "en" and message["Auto-Submitted"] == "auto-generated"
    text, html = parts_of(message)
    expected = {"email": "jane.doe@example.com", "name": "Jane Doe", "ref": "A-1001", "skus": ["SKU-1", "SKU-2"]}
    [text_link] = [line for line in text.splitlines() if line.startswith("https://")]
    assert bgl.decode(text_link, KEYS) == expected
    hrefs, visible = html_links_and_text(html)
    assert hrefs and all(href == invitation.link for href in hrefs)
    assert bgl.decode(hrefs[0], KEYS) == expected
    assert "Write a review" in visible and "Hi Jane Doe," in visible and "Hi Jane Doe," in text


def test_a_non_ascii_name_and_a_german_locale_make_a_correctly_encoded_german_email():
    invitation = ready(name="Jürgen Müller-Lüdenscheidt", locale="de-DE")
    with smtp_server() as (mailbox, port):
        sender = sender_for(smtp_env(port))
        sender.send(invitation)
        sender.close()
    [received] = mailbox.received
    headers = received.content.split(b"\r\n\r\n", 1)[0]
    assert headers.isascii()  # RFC 2047 encoded words, nothing raw
    assert b"=?utf-8?" in headers
    message = received.message
    assert message["To"].addresses[0].display_name == "Jürgen Müller-Lüdenscheidt"
    assert message["Subject"] == "Wie zufrieden sind Sie mit Ihrer Bestellung bei Bücherwelt?"
    assert message["Content-Language"] == "de"
    text, html = parts_of(message)
    assert text.startswith("Hallo Jürgen Müller-Lüdenscheidt,\n\nvielen Dank für Ihre Bestellung A-1001 bei Bücherwelt.")
    assert '<html lang="de">' in html and "Jetzt bewerten" in html
    assert bgl.decode(html_links_and_text(html)[0][0], KEYS)["name"] == "Jürgen Müller-Lüdenscheidt"


def test_the_message_id_is_the_same_on_every_attempt_and_differs_between_invitations():
    first, later = FakeClock(), FakeClock(datetime(2026, 11, 21, 9, 30, tzinfo=UTC))
    with smtp_server() as (mailbox, port):
        env = smtp_env(port)
        for clock in (first, later):
            sender = sender_for(env, clock=clock)
            sender.send(ready())
            sender.close()
        sender = sender_for(env)
        sender.send(ready(id=8, message_id="msg-8"))
        sender.close()
    ids = [r.message["Message-ID"] for r in mailbox.received]
    dates = [r.message["Date"] for r in mailbox.received]
    assert ids[0] == ids[1] != ids[2]
    assert dates[0] != dates[1]


def test_starttls_with_a_certificate_from_smtp_ca_file(pki):
    with smtp_server(tls_context=pki.server_context(), require_starttls=True) as (mailbox, port):
        sender = sender_for(smtp_env(port, query="?starttls=require", SMTP_CA_FILE=str(pki.ca_file)))
        sender.send(ready())
        sender.close()
    [received] = mailbox.received
    assert received.tls
    assert received.rcpt_tos == ["jane.doe@example.com"]


def test_an_untrusted_certificate_is_a_transient_failure_that_says_what_to_set(pki):
    with smtp_server(tls_context=pki.server_context(), require_starttls=True) as (mailbox, port):
        sender = sender_for(smtp_env(port))
        with pytest.raises(SendFailure) as failure:
            sender.send(ready())
        sender.close()
    assert failure.value.transient
    assert "cannot be verified" in str(failure.value) and "SMTP_CA_FILE" in str(failure.value)
    assert mailbox.received == []


def test_verify_false_accepts_the_certificate_as_it_is(pki):
    with smtp_server(tls_context=pki.server_context(), require_starttls=True) as (mailbox, port):
        sender = sender_for(smtp_env(port, query="?starttls=require&verify=false"))
        sender.send(ready())
        sender.close()
    assert [r.tls for r in mailbox.received] == [True]


def test_starttls_require_refuses_a_server_that_does_not_offer_it():
    with smtp_server() as (mailbox, port):
        sender = sender_for(smtp_env(port, query="?starttls=require"))
        with pytest.raises(SendFailure) as failure:
            sender.send(ready())
        sender.close()
    assert failure.value.transient and "does not offer STARTTLS" in str(failure.value)
    assert mailbox.received == []


def test_smtps_is_tls_from_the_first_byte(pki):
    with smtp_server(implicit_tls=pki.server_context()) as (mailbox, port):
        sender = sender_for(smtp_env(port, scheme="smtps", SMTP_CA_FILE=str(pki.ca_file)))
        sender.send(ready())
        sender.close()
    assert [r.tls for r in mailbox.received] == [True]


def test_login_over_starttls_with_url_encoded_credentials(pki):
    userinfo = f"{quote(USER, safe='')}:{quote(PASSWORD, safe='')}@"
    with smtp_server(tls_context=pki.server_context(), authenticator=Authenticator(USER, PASSWORD),
                     auth_required=True) as (mailbox, port):
        sender = sender_for(smtp_env(port, userinfo=userinfo, SMTP_CA_FILE=str(pki.ca_file)))
        sender.send(ready())
        sender.close()
    [received] = mailbox.received
    assert received.tls and received.login == USER


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_login_without_tls_works_where_the_server_allows_it_and_warns(caplog):
    userinfo = f"{quote(USER, safe='')}:{quote(PASSWORD, safe='')}@"
    with smtp_server(authenticator=Authenticator(USER, PASSWORD), auth_required=True,
                     auth_require_tls=False) as (mailbox, port):
        sender = sender_for(smtp_env(port, userinfo=userinfo))
        with caplog.at_level(logging.WARNING, logger="receiver"):
            sender.send(ready())
        sender.close()
    assert [(r.tls, r.login) for r in mailbox.received] == [(False, USER)]
    assert "without TLS" in caplog.text and PASSWORD not in caplog.text


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_a_refused_login_is_transient_and_shows_no_secret():
    userinfo = f"{quote(USER, safe='')}:wrong-password@"
    with smtp_server(authenticator=Authenticator(USER, PASSWORD), auth_required=True,
                     auth_require_tls=False) as (mailbox, port):
        sender = sender_for(smtp_env(port, userinfo=userinfo))
        with pytest.raises(SendFailure) as failure:
            sender.send(ready())
        sender.close()
    assert failure.value.transient
    assert "refused the login" in str(failure.value) and "535" in str(failure.value)
    assert "wrong-password" not in str(failure.value) and USER not in str(failure.value)


def test_one_connection_carries_several_invitations_and_a_dropped_one_is_replaced():
    with smtp_server() as (mailbox, port):
        sender = sender_for(smtp_env(port))
        for number in range(3):
            sender.send(ready(id=number, message_id=f"m-{number}"))
        assert mailbox.connections == 1
        mailbox.hang_up_after = 4  # the server closes the connection after the 4th message
        sender.send(ready(id=3, message_id="m-3"))
        sender.send(ready(id=4, message_id="m-4"))  # finds the connection gone, opens another
        sender.close()
    assert len(mailbox.received) == 5
    assert mailbox.connections == 2


def test_a_refused_connection_is_transient():
    sender = sender_for(smtp_env(free_port()))
    with pytest.raises(SendFailure) as failure:
        sender.send(ready())
    assert failure.value.transient and "cannot talk to the SMTP server 127.0.0.1" in str(failure.value)


@pytest.mark.parametrize(("reply", "transient"), [
    ("451 4.3.0 <jane.doe@example.com>: temporarily deferred", True),
    ("550 5.1.1 <jane.doe@example.com>: Recipient address rejected: User unknown (Jane Doe)", False),
])
def test_replies_about_the_recipient_4xx_transient_5xx_permanent_and_masked(reply, transient):
    with smtp_server() as (mailbox, port):
        mailbox.rcpt_replies.append(reply)
        sender = sender_for(smtp_env(port))
        with pytest.raises(SendFailure) as failure:
            sender.send(ready())
        sender.send(ready())  # the same connection is still good for the next one
        sender.close()
    message = str(failure.value)
    assert failure.value.transient is transient
    assert message.startswith(f"the SMTP server refused the recipient: {reply[:9]} (")  # the codes, a fixed text
    assert "example.com" not in message and "jane.doe" not in message and "Jane Doe" not in message
    assert failure.value.code == f"smtp {reply[:9]}"
    assert len(mailbox.received) == 1 and mailbox.connections == 1


def test_a_refused_message_after_data_is_classified_by_its_code():
    with smtp_server() as (mailbox, port):
        mailbox.data_replies.append("554 5.7.1 Message rejected as spam")
        sender = sender_for(smtp_env(port))
        with pytest.raises(SendFailure) as failure:
            sender.send(ready())
        sender.close()
    assert not failure.value.transient
    assert str(failure.value) == ("the SMTP server refused the message: 554 5.7.1 (permanent negative completion: "
                                  "security or policy status)")


def test_an_international_domain_goes_as_idna_and_a_non_ascii_mailbox_needs_smtputf8():
    with smtp_server(enable_SMTPUTF8=False) as (mailbox, port):
        sender = sender_for(smtp_env(port))
        sender.send(ready(email="kunde@bücher.example"))
        with pytest.raises(SendFailure) as failure:
            sender.send(ready(email="jürgen@example.com"))
        sender.close()
    assert mailbox.received[0].rcpt_tos == ["kunde@xn--bcher-kva.example"]
    assert not failure.value.transient and "SMTPUTF8" in str(failure.value)
    with smtp_server(enable_SMTPUTF8=True) as (mailbox, port):
        sender = sender_for(smtp_env(port))
        sender.send(ready(email="jürgen@example.com"))
        sender.close()
    [received] = mailbox.received
    assert received.rcpt_tos == ["jürgen@example.com"] and "SMTPUTF8" in received.mail_options
    assert "To: Jane Doe <jürgen@example.com>\r\n" in received.content.decode("utf-8")  # raw UTF-8, as SMTPUTF8 allows


# -- through the real worker ----------------------------------------------------------------------

def _worker_with_one_invitation(database_url, port, clock):
    settings = load_settings(base_env(DATABASE_URL=database_url, SENDER="smtp", **smtp_env(port)))
    store = Store(database_url, data_key=DATA_KEY_BYTES)
    store.upgrade()
    invitation = Invitation(message_id="seg-1", email="jurgen@example.de", name="Jürgen Müller", ref="DE-1001",
                            skus=("BIER-KRUG-1",), locale="de-DE")
    store.outbox.add([NewInvitation(invitation)], domain="example.com", now=clock())
    worker = worker_for(store, settings, load_sender("smtp", settings.environ), clock=clock, rand=lambda: 0.0)
    return worker, store, store.reports.find(message_id="seg-1").id


def test_451_then_250_through_the_worker_ends_sent_after_a_retry(database_url):
    clock = FakeClock()
    with smtp_server() as (mailbox, port):
        mailbox.rcpt_replies.append("451 4.7.1 Greylisted <jurgen@example.de>, try again later")
        worker, store, row_id = _worker_with_one_invitation(database_url, port, clock)
        try:
            first = worker.run_batch()
            row = store.reports.get(row_id)
            assert (first.retrying, row.state, row.attempts) == (1, "retrying", 1)
            assert row.last_error == ("the SMTP server refused the recipient: 451 4.7.1 (transient negative "
                                      "completion: security or policy status)")
            assert row.next_attempt_at == (clock.now + timedelta(seconds=15))
            assert worker.run_batch().handled == 0  # not due yet
            clock.advance(seconds=15)
            second = worker.run_batch()
            row = store.reports.get(row_id)
            assert (second.sent, row.state, row.attempts, row.last_error) == (1, "sent", 2, None)
        finally:
            worker.sender.close()
            store.close()
    [received] = mailbox.received
    assert received.rcpt_tos == ["jurgen@example.de"]
    assert received.message["Subject"] == "Wie zufrieden sind Sie mit Ihrer Bestellung bei Bücherwelt?"


def test_550_through_the_worker_is_dead_at_once(database_url, caplog):
    clock = FakeClock()
    with smtp_server() as (mailbox, port):
        mailbox.rcpt_replies.append("550 5.1.1 <jurgen@example.de>: Recipient address rejected: User unknown")
        worker, store, row_id = _worker_with_one_invitation(database_url, port, clock)
        try:
            with caplog.at_level(logging.INFO, logger="receiver"):
                tally = worker.run_batch()
            row = store.reports.get(row_id)
            listed = store.suppressions.reason_for([store.address_key("Jurgen@Example.DE")])
        finally:
            worker.sender.close()
            store.close()
    assert (tally.dead, row.state, row.attempts) == (1, "dead", 1)
    assert list(listed.values()) == ["bounced"]  # an unknown recipient is never mailed again
    assert row.last_error == ("the SMTP server refused the recipient: 550 5.1.1 (permanent negative completion: "
                              "addressing status) (permanent failure)")
    assert "jurgen@example.de" not in caplog.text and "Jürgen" not in caplog.text
    assert mailbox.received == []
