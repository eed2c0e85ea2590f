"""One-click unsubscribe over the real parts: the email a real SMTP server (aiosmtpd) receives in each language, the
callback a real local server receives, and /unsubscribe/<token> through the app's test client on a real database."""

from __future__ import annotations

import logging

import pytest
from prometheus_client import REGISTRY

from receiver.config import load_settings
from receiver.privacy import address_key
from receiver.senders import load_sender
from receiver.store import SUPPRESSED, UNSUBSCRIBED, Store
from receiver.unsubscribe import UnsubscribeTokens
from receiver.web import create_app
from receiver.web.unsubscribe import REQUESTS
from support.data import DATA_KEY_BYTES, base_env
from support.net import free_port
from support.servers import callback_server, html_links_and_text, smtp_server
from support.workers import ScriptedSender, add_invitation, worker_for

PUBLIC_URL = "https://reviews.example.com"
TOKENS = UnsubscribeTokens(DATA_KEY_BYTES)
ANN = address_key(DATA_KEY_BYTES, "ann@example.com")
# the footer's words in each shipped language, and the page's button
FOOTERS = {"en": "Unsubscribe", "da": "Afmeld", "de": "Abmelden", "es": "Darse de baja", "fr": "Se désabonner",
           "nl": "Afmelden"}
ONE_CLICK = {"Content-Type": "application/x-www-form-urlencoded"}


def stored(store, ref="R-1"):
    return store.reports.find(message_id=f"m-{ref}")


def path_of(row) -> str:
    return f"/unsubscribe/{TOKENS.token(row.id, row.message_id)}"


def test_each_language_s_email_carries_both_headers_and_the_footer_link(store, clock, database_url):
    for number, language in enumerate(FOOTERS):
        add_invitation(store, clock, ref=f"R-{number}", locale=f"{language}-XX" if language != "en" else None)
    with smtp_server() as (mailbox, port):
        settings = load_settings(base_env(DATABASE_URL=database_url, SENDER="smtp", PUBLIC_URL=PUBLIC_URL + "/",
                                          SMTP_URL=f"smtp://127.0.0.1:{port}", MAIL_FROM="Shop <shop@example.com>"))
        sender = load_sender("smtp", settings.environ)
        tally = worker_for(store, settings, sender, clock=clock).drain()
        sender.close()
    assert tally.sent == len(FOOTERS)
    for received in mailbox.received:
        message = received.message
        url = message["List-Unsubscribe"].removeprefix("<").removesuffix(">")
        assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        assert url.startswith(f"{PUBLIC_URL}/unsubscribe/")
        ticket = TOKENS.read(url.rpartition("/")[2])
        row = store.reports.get(ticket.invitation_id)
        assert ticket.names(row.message_id) and row.email == "ann@example.com"
        language = message["Content-Language"]
        assert language == (row.locale or "en")[:2]
        text = message.get_body(("plain",)).get_content()
        html = message.get_body(("html",)).get_content()
        assert f"{FOOTERS[language]}" in text and url in text, language
        hrefs, shown = html_links_and_text(html)
        assert url in hrefs and FOOTERS[language] in shown, language
    assert {received.message["Content-Language"] for received in mailbox.received} == set(FOOTERS)


def test_without_public_url_the_email_has_neither_header_nor_footer(store, clock, database_url):
    add_invitation(store, clock, locale="de-DE")
    with smtp_server() as (mailbox, port):
        settings = load_settings(base_env(DATABASE_URL=database_url, SENDER="smtp",
                                          SMTP_URL=f"smtp://127.0.0.1:{port}", MAIL_FROM="shop@example.com"))
        sender = load_sender("smtp", settings.environ)
        worker_for(store, settings, sender, clock=clock).drain()
        sender.close()
    [received] = mailbox.received
    assert "List-Unsubscribe" not in received.message and b"/unsubscribe/" not in received.content
    assert "Abmelden" not in received.message.get_body(("plain",)).get_content()


def test_the_callback_s_data_carries_the_unsubscribe_url(store, clock, database_url):
    add_invitation(store, clock)
    with callback_server() as callback:
        settings = load_settings(base_env(DATABASE_URL=database_url, SENDER="http", PUBLIC_URL=PUBLIC_URL,
                                          CALLBACK_URL=callback.url, CALLBACK_SECRET="whsec_" + "A" * 40))
        sender = load_sender("http", settings.environ)
        worker_for(store, settings, sender, clock=clock).drain()
        sender.close()
    [request] = callback.requests
    data = request.json()["data"]
    assert data["unsubscribe_url"] == PUBLIC_URL + path_of(stored(store))


# -- the page -------------------------------------------------------------------------------------


def test_get_shows_one_button_in_the_customer_s_language_and_changes_nothing(client, store, clock):
    add_invitation(store, clock, locale="de-AT")
    answer = client.get(path_of(stored(store)))
    page = answer.get_data(as_text=True)
    assert answer.status_code == 200 and answer.mimetype == "text/html"
    assert '<html lang="de">' in page and 'id="unsubscribe">Abmelden</button>' in page
    assert page.count("<form") == 1 and "<script" not in page
    assert answer.headers["Cache-Control"] == "no-store" and answer.headers["Referrer-Policy"] == "no-referrer"
    assert "frame-ancestors 'none'" in answer.headers["Content-Security-Policy"]
    assert store.suppressions.reasons([ANN]) == {}  # a mail scanner's GET unsubscribes nobody


def test_the_button_s_post_lists_the_address_key_and_confirms_again_and_again(client, store, clock):
    add_invitation(store, clock, locale="fr-FR")
    before = unsubscribed()
    for _ in range(2):
        answer = client.post(path_of(stored(store)), data={"List-Unsubscribe": "One-Click"})
        page = answer.get_data(as_text=True)
        assert answer.status_code == 200 and "Votre désabonnement est confirmé" in page and "<form" not in page
    assert store.suppressions.reasons([ANN]) == {ANN: [UNSUBSCRIBED]}
    assert unsubscribed() - before == 2  # receiver_unsubscribe_requests_total{result="unsubscribed"}


def unsubscribed() -> float:
    return REGISTRY.get_sample_value("receiver_unsubscribe_requests_total", {"result": "unsubscribed"}) or 0.0


@pytest.mark.env(CONSOLE_PASSWORD="a-console-password", SECRET_KEY="s" * 32)
def test_a_mail_client_s_one_click_post_works_without_cookie_or_form_token_even_with_the_console_on(client, store,
                                                                                                   clock):
    add_invitation(store, clock)
    answer = client.post(path_of(stored(store)), data=b"List-Unsubscribe=One-Click", headers=ONE_CLICK)
    assert answer.status_code == 200 and "You are unsubscribed" in answer.get_data(as_text=True)
    assert "Set-Cookie" not in answer.headers
    assert store.suppressions.reasons([ANN]) == {ANN: [UNSUBSCRIBED]}


def test_a_post_for_an_erased_invitation_still_says_done(client, store, clock):
    add_invitation(store, clock)
    row = stored(store)
    store.erasure.forget([store.address_key("ann@example.com")], now=clock())
    answer = client.post(path_of(row), data=b"List-Unsubscribe=One-Click", headers=ONE_CLICK)
    assert answer.status_code == 200 and "You are unsubscribed" in answer.get_data(as_text=True)


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_a_tampered_or_unknown_token_gets_a_plain_404_page_and_changes_nothing(client, store, clock, method):
    add_invitation(store, clock)
    row = stored(store)
    token = TOKENS.token(row.id, row.message_id)
    for bad in (token[:-2] + ("AA" if token[-2:] != "AA" else "BB"), token[:20], "x" * 300,
                TOKENS.token(row.id + 1, row.message_id),  # no such invitation
                TOKENS.token(row.id, "m-another"),  # an invitation of the same id in another database
                UnsubscribeTokens(bytes(32)).token(row.id, row.message_id)):  # another DATA_KEY's
        answer = client.open(f"/unsubscribe/{bad}", method=method, data=b"List-Unsubscribe=One-Click",
                             headers={**ONE_CLICK, "Accept-Language": "nl-NL,nl;q=0.9"})
        page = answer.get_data(as_text=True)
        assert answer.status_code == 404 and "Deze link is niet geldig" in page, bad
        assert "Traceback" not in page and "<form" not in page
    assert store.suppressions.reasons([ANN]) == {}


def test_requests_are_limited_per_client_then_429_until_the_window_has_passed(client, store, clock):
    add_invitation(store, clock)
    path = path_of(stored(store))
    one = {"X-Forwarded-For": "198.51.100.7"}  # TRUSTED_PROXIES=* (the default): the router's last entry is the client
    for _ in range(REQUESTS):
        assert client.get(path, headers=one).status_code == 200
    refused = client.post(path, headers={**one, **ONE_CLICK}, data=b"List-Unsubscribe=One-Click")
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) == 60
    assert "Too many requests" in refused.get_data(as_text=True)
    assert store.suppressions.reasons([ANN]) == {}
    assert client.get(path, headers={"X-Forwarded-For": "203.0.113.9"}).status_code == 200  # another client
    clock.advance(seconds=61)
    assert client.post(path, headers={**one, **ONE_CLICK}, data=b"List-Unsubscribe=One-Click").status_code == 200
    assert store.suppressions.reasons([ANN]) == {ANN: [UNSUBSCRIBED]}


def test_after_a_one_click_unsubscribe_the_customer_s_next_order_is_never_sent(client, store, clock, settings):
    add_invitation(store, clock, ref="R-1")
    client.post(path_of(stored(store, "R-1")), data=b"List-Unsubscribe=One-Click", headers=ONE_CLICK)
    add_invitation(store, clock, ref="R-2")
    sender = ScriptedSender()
    tally = worker_for(store, settings, sender, clock=clock).drain()
    assert sender.delivered == [] and tally.sent == 0
    row = stored(store, "R-2")
    assert row.state == SUPPRESSED and UNSUBSCRIBED in (row.last_error or "")


def test_an_unreachable_database_gets_a_plain_503_page(settings, clock):
    url = f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/x"
    client = create_app(settings, store=Store(url, timeout_seconds=1, data_key=DATA_KEY_BYTES), clock=clock).test_client()
    for method in ("GET", "POST"):
        answer = client.open(f"/unsubscribe/{TOKENS.token(1, 'm-R-1')}", method=method)
        page = answer.get_data(as_text=True)
        assert answer.status_code == 503 and "Please try again" in page and "Traceback" not in page


def test_the_access_log_never_holds_the_token(client, store, clock, caplog):
    add_invitation(store, clock)
    path = path_of(stored(store))
    with caplog.at_level(logging.INFO, logger="receiver.web.access"):
        client.get(path)
    assert "GET /unsubscribe/<token> 200" in caplog.text and path.rpartition("/")[2] not in caplog.text
