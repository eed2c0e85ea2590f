"""One-click unsubscribe end to end over real sockets: the worker emails the invitation to a real SMTP server
(aiosmtpd), a real browser (Debian's chromium, driven by Playwright) opens the footer's link of the email received,
sees the page, presses its button and sees the confirmation; and a mail client's one-click POST (RFC 8058) to the
URL of the email's List-Unsubscribe header, with nothing but that form body, does the same."""

from __future__ import annotations

import pytest
import requests

from receiver.config import load_settings
from receiver.privacy import address_key
from receiver.senders import load_sender
from receiver.store import UNSUBSCRIBED
from support.data import DATA_KEY_BYTES, base_env
from support.servers import html_links_and_text, smtp_server
from support.workers import add_invitation, worker_for

KEY = address_key(DATA_KEY_BYTES, "ann@example.com")
MAIL_FROM = "Tienda <shop@example.com>"


def mailed(store, clock, database_url, public_url, locale):
    """The email the worker sent for one stored invitation, as the SMTP server received it."""
    add_invitation(store, clock, locale=locale)
    with smtp_server() as (mailbox, port):
        settings = load_settings(base_env(DATABASE_URL=database_url, SENDER="smtp", PUBLIC_URL=public_url,
                                          SMTP_URL=f"smtp://127.0.0.1:{port}", MAIL_FROM=MAIL_FROM))
        sender = load_sender("smtp", settings.environ)
        assert worker_for(store, settings, sender, clock=clock).drain().sent == 1
        sender.close()
    [received] = mailbox.received
    return received.message


@pytest.mark.env(MAIL_FROM=MAIL_FROM)  # the web process shares the worker's settings: the page names the shop too
def test_a_customer_unsubscribes_in_a_real_browser_from_the_link_of_the_email(browser, live_app, store, clock,
                                                                              database_url):
    message = mailed(store, clock, database_url, live_app, "es-ES")
    hrefs, _ = html_links_and_text(message.get_body(("html",)).get_content())
    [url] = [href for href in hrefs if href.startswith(f"{live_app}/unsubscribe/")]
    page = browser.new_page()
    page.set_default_timeout(15000)
    page.goto(url)
    assert page.text_content("#heading") == "Darse de baja de las invitaciones a opinar"
    assert "Tienda" in page.text_content("#message")
    assert store.suppressions.reasons([KEY]) == {}  # opening the page changed nothing
    page.click("#unsubscribe")
    page.wait_for_selector("text=Se ha dado de baja")
    assert page.url == url and page.locator("#unsubscribe").count() == 0
    assert store.suppressions.reasons([KEY]) == {KEY: [UNSUBSCRIBED]}
    page.close()


def test_a_mail_client_s_one_click_post_to_the_header_s_url_unsubscribes(live_app, store, clock, database_url):
    message = mailed(store, clock, database_url, live_app, None)
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    url = message["List-Unsubscribe"].removeprefix("<").removesuffix(">")
    answer = requests.post(url, data=b"List-Unsubscribe=One-Click", allow_redirects=False, timeout=10,
                           headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert answer.status_code == 200 and "You are unsubscribed" in answer.text
    assert store.suppressions.reasons([KEY]) == {KEY: [UNSUBSCRIBED]}
