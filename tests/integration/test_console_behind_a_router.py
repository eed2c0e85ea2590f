"""The console behind a platform's router (issue 17 §8): TRUSTED_PROXIES decides whose X-Forwarded-* is believed,
the limiter counts the real client and everyone together, signing out revokes the session in every process, and
`next=` and `notice=` carry no text of a link author's choosing and cause no 500."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlalchemy import text

from receiver.config import load_settings
from receiver.console.limiter import GLOBAL_FAILURES, LOGIN_FAILURES
from receiver.store import Store
from receiver.web import create_app
from support.data import DATA_KEY_BYTES, base_env

PASSWORD = "correct horse battery staple"
ROUTER = {"REMOTE_ADDR": "10.1.2.3"}


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'receiver.db'}"


def console_app(database_url, clock, **env):
    settings = load_settings(base_env(DATABASE_URL=database_url, CONSOLE_PASSWORD=PASSWORD, SECRET_KEY="s" * 32,
                                      **env), intake=True)
    store = Store(database_url, data_key=DATA_KEY_BYTES)
    store.upgrade()
    app = create_app(settings, store=store, clock=clock)
    app.testing = True
    return app


def token_in(page: bytes) -> str:
    return re.search(rb'name="csrf_token" value="([^"]+)"', page).group(1).decode()


def attempt(client, password: str, forwarded_for: str | None = None, environ=ROUTER, next_: str | None = None):
    token = token_in(client.get("/console/login", environ_base=environ).data)
    data = {"password": password, "csrf_token": token, **({"next": next_} if next_ is not None else {})}
    headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}
    return client.post("/console/login", data=data, environ_base=environ, headers=headers)


# -- whose headers are believed ------------------------------------------------------------------------

def test_by_default_the_router_is_believed_and_each_client_counts_for_itself(database_url, clock):
    client = console_app(database_url, clock).test_client()
    for _ in range(LOGIN_FAILURES):
        assert attempt(client, "wrong", "198.51.100.7").status_code == 401
    assert attempt(client, PASSWORD, "198.51.100.7").status_code == 429
    assert attempt(client, PASSWORD, "203.0.113.8").status_code == 302  # five wrong guesses lock out one client


def test_with_none_the_header_is_the_clients_own_words_and_changes_nothing(database_url, clock):
    client = console_app(database_url, clock, TRUSTED_PROXIES="none").test_client()
    direct = {"REMOTE_ADDR": "203.0.113.50"}
    for forged in range(LOGIN_FAILURES):
        assert attempt(client, "wrong", f"198.51.100.{forged}", environ=direct).status_code == 401
    assert attempt(client, PASSWORD, "198.51.100.99", environ=direct).status_code == 429  # no escape by forging


def test_a_listed_proxy_is_believed_and_anyone_else_is_not(database_url, clock):
    client = console_app(database_url, clock, TRUSTED_PROXIES="10.0.0.0/8").test_client()
    outsider = {"REMOTE_ADDR": "203.0.113.50"}
    for forged in range(LOGIN_FAILURES):
        assert attempt(client, "wrong", f"198.51.100.{forged}", environ=outsider).status_code == 401
    assert attempt(client, PASSWORD, "198.51.100.99", environ=outsider).status_code == 429
    assert attempt(client, PASSWORD, "198.51.100.99").status_code == 302  # through the router: its own count


def test_a_spread_of_addresses_cannot_guess_for_ever(database_url, clock):
    client = console_app(database_url, clock).test_client()
    for number in range(GLOBAL_FAILURES):
        assert attempt(client, "wrong", f"198.51.{number // 200}.{number % 200 + 1}").status_code == 401
    answer = attempt(client, PASSWORD, "203.0.113.250")  # a newcomer, and the right password: held back too
    assert answer.status_code == 429
    assert b"Too many failed attempts from many addresses" in answer.data
    clock.advance(minutes=15)
    assert attempt(client, PASSWORD, "203.0.113.250").status_code == 302


# -- signing out revokes the session --------------------------------------------------------------------

def signed_in_cookie(client) -> str:
    assert attempt(client, PASSWORD).status_code == 302
    return client.get_cookie("receiver_console", path="/console").value


def test_signing_out_revokes_a_copied_cookie_in_every_process(database_url, clock):
    one, other = console_app(database_url, clock), console_app(database_url, clock)  # two web processes
    browser = one.test_client()
    copied = signed_in_cookie(browser)
    thief = other.test_client()
    thief.set_cookie("receiver_console", copied, path="/console")
    assert thief.get("/console", environ_base=ROUTER).status_code == 200
    token = token_in(browser.get("/console", environ_base=ROUTER).data)
    assert browser.post("/console/logout", data={"csrf_token": token}, environ_base=ROUTER).status_code == 302
    answer = thief.get("/console", environ_base=ROUTER)
    assert answer.status_code == 302 and answer.headers["Location"].startswith("/console/login")
    assert b"Sign out" not in thief.get("/console/login", environ_base=ROUTER).data


def test_a_session_cookie_without_a_stored_session_is_signed_out(database_url, clock):
    app = console_app(database_url, clock)
    client = app.test_client()
    signed_in_cookie(client)
    assert client.get("/console", environ_base=ROUTER).status_code == 200
    with app.extensions["receiver"].store.engine.begin() as conn:  # the session ended elsewhere
        conn.execute(text("DELETE FROM console_sessions"))
    assert client.get("/console", environ_base=ROUTER).status_code == 302


# -- next= and notice= ------------------------------------------------------------------------------------

@pytest.mark.parametrize("target", [
    "/console\r\nSet-Cookie: x=1", "/console/invitations?state=\r\n", "/console/%0d%0aX: y",
    "https://evil.example.net/", "//evil.example.net/", "/console/../segment", "/console?notice=You+were+hacked",
    "/console/invitations?state=<script>", "/console/" + "a" * 300,
])
def test_next_is_a_plain_console_path_or_nothing_and_never_a_500(database_url, clock, target):
    client = console_app(database_url, clock).test_client()
    page = client.get("/console/login", query_string={"next": target}, environ_base=ROUTER)
    assert page.status_code == 200
    assert b'name="next" value=""' in page.data
    answer = attempt(client, PASSWORD, next_=target)
    assert answer.status_code == 302
    assert answer.headers["Location"] == "/console"


def test_a_plain_console_path_is_where_the_login_leads(database_url, clock):
    client = console_app(database_url, clock).test_client()
    page = client.get("/console/login", query_string={"next": "/console/invitations?state=dead&page=2"},
                      environ_base=ROUTER)
    assert b'name="next" value="/console/invitations?state=dead&amp;page=2"' in page.data
    answer = attempt(client, PASSWORD, next_="/console/invitations?state=dead&page=2")
    assert answer.headers["Location"] == "/console/invitations?state=dead&page=2"


def test_notice_in_a_link_shows_nothing(database_url, clock):
    client = console_app(database_url, clock).test_client()
    signed_in_cookie(client)
    for path in ("/console/invitations?notice=Your+account+is+locked.+Call+0800", "/console/invitations/1?notice=Hi"):
        body = client.get(path, environ_base=ROUTER).get_data(as_text=True)
        assert "Your account is locked" not in body and 'class="notice"' not in body


def test_the_notice_after_an_action_is_a_fixed_text_shown_once(database_url, clock):
    client = console_app(database_url, clock).test_client()
    signed_in_cookie(client)
    token = token_in(client.get("/console/invitations", environ_base=ROUTER).data)
    answer = client.post("/console/invitations/retry-dead", data={"csrf_token": token}, environ_base=ROUTER)
    assert answer.headers["Location"] == "/console/invitations"  # nothing in the URL
    assert "0 invitation(s) queued again." in client.get("/console/invitations", environ_base=ROUTER).get_data(True)
    assert 'class="notice"' not in client.get("/console/invitations", environ_base=ROUTER).get_data(True)
