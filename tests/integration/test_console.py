"""The web console (issue 8): login, CSRF, masking, preview, invitations, retry, overview; off without a password."""

from __future__ import annotations

import html
import json
import re
from datetime import datetime, timedelta

import pytest

from receiver import bgl
from receiver.config import load_settings
from receiver.console import LOGIN_FAILURES, LOGIN_WINDOW
from receiver.invitation import Invitation
from receiver.store import DEAD, DELIVERED, PENDING, PERMANENT, RETRYING, SENT, Attempt, NewInvitation, Store
from receiver.web import create_app
from support.clock import FakeClock
from support.data import API_KEY, DATA_KEY_BYTES, base_env, basic_auth, fixture

PASSWORD = "correct horse battery staple"
SECRET = "s" * 32
pytestmark = pytest.mark.env(CONSOLE_PASSWORD=PASSWORD, SECRET_KEY=SECRET)
SEED = fixture("order-completed-seed.json")


def token_in(page: bytes) -> str:
    found = re.search(rb'name="csrf_token" value="([^"]+)"', page)
    assert found, "the page has no CSRF token"
    return found.group(1).decode()


def sign_in(client, password: str = PASSWORD) -> str:
    token = token_in(client.get("/console/login").data)
    answer = client.post("/console/login", data={"password": password, "csrf_token": token})
    assert answer.status_code == 302, answer.data
    return token_in(client.get("/console").data)


def stored(store: Store, clock: FakeClock, *refs: str, email: str = "jane.doe@example.com",
           due: datetime | None = None) -> list[int]:
    items = [NewInvitation(Invitation(message_id=f"m-{ref}", email=email, name="Jane Doe", ref=ref), due_at=due)
             for ref in refs]
    store.outbox.add(items, domain="example.com", now=clock())
    return [store.reports.find(message_id=f"m-{ref}").id for ref in refs]


def attempt(clock: FakeClock, error: str | None = None) -> Attempt:
    """The worker's record of one attempt with the HTTP sender: delivered, or failed for good with ``error``."""
    if error is None:
        return Attempt(sender="http", outcome=DELIVERED, attempted_at=clock(), duration_seconds=0.25)
    return Attempt(sender="http", outcome=PERMANENT, attempted_at=clock(), duration_seconds=1.5, code="550",
                   error=error)


def make_dead(store: Store, clock: FakeClock, ref: str, error: str = "550 mailbox unavailable") -> int:
    [invitation_id] = stored(store, clock, ref, due=clock() - timedelta(days=365))  # claimed before any other
    [job] = store.outbox.claim(now=clock(), limit=1, lease_seconds=60)
    store.outbox.mark_dead(job, now=clock(), error=error, attempt=attempt(clock, error))
    return invitation_id


# -- on, off, configuration -------------------------------------------------------------------------

@pytest.mark.parametrize("path", ["/console", "/console/login", "/console/preview", "/console/invitations"])
def test_without_console_password_every_console_path_is_a_json_404(sqlite_url, clock, path):
    settings = load_settings(base_env(DATABASE_URL=sqlite_url), intake=True)
    store = Store(sqlite_url, data_key=DATA_KEY_BYTES)
    store.upgrade()
    client = create_app(settings, store=store, clock=clock).test_client()
    answer = client.get(path)
    assert answer.status_code == 404
    assert answer.is_json
    assert client.post("/segment", json=SEED, headers=basic_auth()).status_code == 200
    assert "Set-Cookie" not in client.post("/segment", json=SEED, headers=basic_auth()).headers


def test_every_page_asks_for_the_login_first(client):
    for path in ("/console", "/console/preview", "/console/invitations", "/console/invitations/1"):
        answer = client.get(path)
        assert answer.status_code == 302
        assert answer.headers["Location"].startswith("/console/login?next=")


# -- login ------------------------------------------------------------------------------------------

def test_login_sets_a_session_cookie_httponly_samesite_lax_and_returns_to_the_page_asked_for(client):
    token = token_in(client.get("/console/login?next=/console/invitations").data)
    answer = client.post("/console/login", data={"password": PASSWORD, "csrf_token": token,
                                                 "next": "/console/invitations"})
    assert answer.status_code == 302
    assert answer.headers["Location"] == "/console/invitations"
    cookie = answer.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/console" in cookie
    assert "Secure" not in cookie  # plain HTTP here
    assert client.get("/console").status_code == 200


def test_the_cookie_is_secure_over_https(client):
    token = token_in(client.get("/console/login", base_url="https://localhost").data)
    answer = client.post("/console/login", data={"password": PASSWORD, "csrf_token": token},
                         base_url="https://localhost")
    assert "; Secure" in answer.headers["Set-Cookie"]


def test_the_cookie_is_secure_behind_an_https_proxy_and_expires(client):
    token = token_in(client.get("/console/login").data)
    answer = client.post("/console/login", data={"password": PASSWORD, "csrf_token": token},
                         headers={"X-Forwarded-Proto": "https"})
    assert "; Secure" in answer.headers["Set-Cookie"]
    assert "Expires=" in answer.headers["Set-Cookie"]


def test_login_never_leads_off_the_console(client):
    token = token_in(client.get("/console/login").data)
    answer = client.post("/console/login", data={"password": PASSWORD, "csrf_token": token,
                                                 "next": "https://evil.example.net/"})
    assert answer.headers["Location"] == "/console"


def test_a_wrong_password_is_401_and_grants_nothing(client):
    token = token_in(client.get("/console/login").data)
    answer = client.post("/console/login", data={"password": "guess", "csrf_token": token})
    assert answer.status_code == 401
    assert b"Wrong password." in answer.data
    assert client.get("/console").status_code == 302


def test_login_without_the_csrf_token_is_refused_even_with_the_right_password(client):
    client.get("/console/login")
    answer = client.post("/console/login", data={"password": PASSWORD})
    assert answer.status_code == 400
    assert b"CSRF token missing or wrong" in answer.data
    assert client.get("/console").status_code == 302


def test_failed_logins_are_limited_per_address_and_the_window_passes(app, client, clock):
    token = token_in(client.get("/console/login").data)
    for _ in range(LOGIN_FAILURES):
        assert client.post("/console/login", data={"password": "no", "csrf_token": token}).status_code == 401
    blocked = client.post("/console/login", data={"password": PASSWORD, "csrf_token": token})
    assert blocked.status_code == 429
    assert blocked.headers["Retry-After"] == str(int(LOGIN_WINDOW.total_seconds()))
    other = app.test_client()  # another address is not blocked
    other_token = token_in(other.get("/console/login", environ_base={"REMOTE_ADDR": "10.0.0.9"}).data)
    assert other.post("/console/login", data={"password": PASSWORD, "csrf_token": other_token},
                      environ_base={"REMOTE_ADDR": "10.0.0.9"}).status_code == 302
    clock.advance(seconds=LOGIN_WINDOW.total_seconds() - 1)
    assert client.post("/console/login", data={"password": PASSWORD, "csrf_token": token}).status_code == 429
    clock.advance(seconds=1)
    assert client.post("/console/login", data={"password": PASSWORD, "csrf_token": token}).status_code == 302


@pytest.mark.parametrize(("forwarded", "secure"), [({"X-Forwarded-Proto": "https"}, True),
                                                   ({"X-Forwarded-Proto": "http"}, False), ({}, False)])
def test_behind_one_proxy_the_cookie_is_secure_exactly_when_the_proxy_says_https(client, forwarded, secure):
    token = token_in(client.get("/console/login", headers=forwarded).data)
    answer = client.post("/console/login", data={"password": PASSWORD, "csrf_token": token}, headers=forwarded)
    assert answer.status_code == 302
    assert ("; Secure" in answer.headers["Set-Cookie"]) is secure


def test_behind_one_proxy_failed_logins_count_per_client_the_proxy_names(app, client):
    """Heroku's router appends the address it saw to X-Forwarded-For: that one counts, not the router's own
    address, and not what the client wrote in front of it."""
    router = {"REMOTE_ADDR": "10.1.2.3"}
    token = token_in(client.get("/console/login", environ_base=router).data)

    def attempt(forwarded_for: str, password: str = "no") -> int:
        return client.post("/console/login", data={"password": password, "csrf_token": token}, environ_base=router,
                           headers={"X-Forwarded-For": forwarded_for}).status_code

    for forged in range(LOGIN_FAILURES):
        assert attempt(f"198.51.100.{forged}, 203.0.113.7") == 401
    assert attempt("203.0.113.7") == 429  # a forged first entry did not make a new client
    assert attempt("203.0.113.8", PASSWORD) == 302  # another client behind the same router


def test_a_cross_site_post_without_the_token_is_refused_and_changes_nothing(client, store, clock):
    dead = make_dead(store, clock, "C-1")
    sign_in(client)  # the browser holds the signed-in cookie; the other site does not know the token
    other_site = {"Origin": "https://evil.example.net", "Referer": "https://evil.example.net/page"}
    for path in ("/console/invitations/retry-dead", f"/console/invitations/{dead}/retry", "/console/logout"):
        answer = client.post(path, headers=other_site)
        assert answer.status_code == 400
        assert b"CSRF token missing or wrong" in answer.data and b"<!doctype html>" in answer.data
    assert store.reports.get(dead).state == DEAD
    assert client.get("/console").status_code == 200  # still signed in: the logout was refused too


def test_a_token_of_another_session_is_refused(app, client, store, clock):
    dead = make_dead(store, clock, "C-2")
    sign_in(client)
    attackers_own = sign_in(app.test_client())  # a valid token, but for the attacker's session
    answer = client.post(f"/console/invitations/{dead}/retry", data={"csrf_token": attackers_own})
    assert answer.status_code == 400 and b"CSRF token missing or wrong" in answer.data
    assert store.reports.get(dead).state == DEAD


def test_signing_in_gives_a_fresh_token(client, store, clock):
    dead = make_dead(store, clock, "C-3")
    before = token_in(client.get("/console/login").data)
    client.post("/console/login", data={"password": PASSWORD, "csrf_token": before})
    assert client.post("/console/invitations/retry-dead", data={"csrf_token": before}).status_code == 400
    after = token_in(client.get("/console").data)
    assert after != before
    assert client.post("/console/invitations/retry-dead", data={"csrf_token": after, "confirm": "yes"}
                       ).status_code == 302
    assert store.reports.get(dead).state == RETRYING


def test_the_segment_endpoint_takes_no_csrf_token_with_the_console_on(client):
    assert client.post("/segment", json=SEED, headers=basic_auth(API_KEY)).json["status"] == "accepted"
    assert client.post("/v1/track", json=SEED, headers=basic_auth(API_KEY)).status_code == 200


def test_logout_ends_the_session_and_needs_the_token(client):
    token = sign_in(client)
    assert client.post("/console/logout").status_code == 400
    assert client.get("/console").status_code == 200
    assert client.post("/console/logout", data={"csrf_token": token}).status_code == 302
    assert client.get("/console").status_code == 302


# -- preview ----------------------------------------------------------------------------------------

def test_preview_of_the_seed_shows_verdict_sources_link_decoded_payload_and_email(client, store, settings):
    token = sign_in(client)
    answer = client.post("/console/preview", data={"csrf_token": token, "message": json.dumps(SEED)})
    assert answer.status_code == 200
    page = html.unescape(answer.get_data(as_text=True))
    assert 'id="verdict">accepted<' in page
    assert "<th>email</th><td>test@example.com</td><td><code>properties.email</code>" in page
    assert "<th>name</th><td>John Johnson</td><td><code>properties.name + properties.surname</code>" in page
    assert "<th>ref</th><td>50314b8e9bcf000000000000</td><td><code>properties.order_id</code>" in page
    link = re.search(r'<pre id="link">([^<]+)</pre>', page).group(1)
    assert link.startswith("https://www.trustpilot.com/evaluate-bgl/example.com?p=")
    assert bgl.decode(link, settings.trustpilot.keys) == {"email": "test@example.com", "name": "John Johnson",
                                               "ref": "50314b8e9bcf000000000000", "skus": ["45790-32", "46493-32"]}
    decoded = json.loads(re.search(r'<pre id="decoded">(.+?)</pre>', page, re.S).group(1))
    assert decoded["email"] == "test@example.com"
    assert 'sandbox=""' in answer.get_data(as_text=True)
    assert "srcdoc=\"&lt;!" in answer.get_data(as_text=True) or "srcdoc=\"&lt;" in answer.get_data(as_text=True)
    assert link in re.search(r'<pre id="email-text">(.+?)</pre>', page, re.S).group(1)
    assert store.reports.counts()[PENDING] == 0 and store.reports.find(message_id=SEED["messageId"]) is None


def test_preview_takes_the_email_from_stored_traits_and_says_so_and_renders_in_the_customers_language(
        client, store):
    identify = {"type": "identify", "messageId": "id-1", "userId": "u-9", "traits": {"email": "anna@example.de",
                                                                                      "firstName": "Anna"}}
    client.post("/segment", json=identify, headers=basic_auth(API_KEY))
    order = {"type": "track", "event": "Order Completed", "messageId": "o-1", "userId": "u-9",
             "context": {"locale": "de-DE"}, "properties": {"order_id": "A-1"}}
    token = sign_in(client)
    page = html.unescape(client.post("/console/preview", data={"csrf_token": token, "message": json.dumps(order)})
                         .get_data(as_text=True))
    assert "<th>email</th><td>a***a@example.de</td><td><code>stored traits of user:u-9 (email), masked</code>" in page
    assert "<th>name</th><td>A***</td><td><code>stored traits of user:u-9 (first_name), masked</code>" in page
    assert "<th>locale</th><td>de-DE</td><td><code>context.locale</code>" in page
    assert "The email (de)" in page
    assert "https://de.trustpilot.com/evaluate-bgl/" in page
    assert store.reports.find(message_id="o-1") is None


def test_preview_of_an_order_with_only_a_user_id_reveals_neither_the_stored_email_nor_the_name(client, store,
                                                                                               settings):
    identify = {"type": "identify", "messageId": "id-2", "userId": "u-42", "anonymousId": "a-42",
                "traits": {"email": "Anna.Beispiel@Example.de", "firstName": "Annabel", "lastName": "Beispielhaft"}}
    assert client.post("/segment", json=identify, headers=basic_auth(API_KEY)).status_code == 200
    token = sign_in(client)
    order = {"type": "track", "event": "Order Completed", "messageId": "o-42", "userId": "u-42",
             "properties": {"order_id": "A-42"}}
    answer = client.post("/console/preview", data={"csrf_token": token, "message": json.dumps(order)})
    raw = answer.get_data(as_text=True)
    page = html.unescape(raw)
    assert answer.status_code == 200 and 'id="verdict">accepted<' in page
    for personal in ("anna.beispiel", "Annabel", "Beispielhaft"):  # nowhere: fields, payload, email, its HTML
        assert personal.lower() not in page.lower() and personal.lower() not in html.unescape(page).lower()
    assert "<th>email</th><td>A***l@example.de</td><td><code>stored traits of user:u-42 (email), masked</code>" in page
    assert ("<th>name</th><td>A***</td><td><code>stored traits of user:u-42 (first_name + last_name), masked</code>"
            in page)
    assert 'id="masked"' in raw
    link = re.search(r'<pre id="link">([^<]+)</pre>', page).group(1)
    assert bgl.decode(link, settings.trustpilot.keys)["email"] == "A***l@example.de"  # nor inside the link
    assert "Hi A***," in re.search(r'<pre id="email-text">(.+?)</pre>', page, re.S).group(1)

    guest = {"type": "identify", "messageId": "id-3", "anonymousId": "a-77", "traits": {"firstName": "Kasimir"}}
    assert client.post("/segment", json=guest, headers=basic_auth(API_KEY)).status_code == 200
    own_email = {"type": "track", "event": "Order Completed", "messageId": "o-43", "anonymousId": "a-77",
                 "properties": {"order_id": "A-43", "email": "given@example.com"}}
    page = html.unescape(client.post("/console/preview", data={"csrf_token": token, "message": json.dumps(own_email)})
                         .get_data(as_text=True))
    assert "<th>email</th><td>given@example.com</td><td><code>properties.email</code>" in page  # pasted: shown
    assert "<th>name</th><td>K***</td><td><code>stored traits of anon:a-77 (first_name), masked</code>" in page
    assert "Kasimir" not in page
    assert store.reports.find(message_id="o-42") is None and store.reports.find(message_id="o-43") is None


def test_preview_of_a_stored_message_or_order_says_duplicate_as_the_endpoint_would_and_still_shows_it(client, store):
    assert client.post("/segment", json=SEED, headers=basic_auth(API_KEY)).json["status"] == "accepted"
    held = store.reports.find(message_id=SEED["messageId"]).id
    token = sign_in(client)
    same_order = dict(SEED, messageId="a-new-message-id")  # Segment's retry of another send of the same order
    for message in (SEED, same_order):
        answer = client.post("/console/preview", data={"csrf_token": token, "message": json.dumps(message)})
        page = html.unescape(answer.get_data(as_text=True))
        assert answer.status_code == 200
        assert 'id="verdict">duplicate<' in page
        assert f"Duplicate: invitation #{held} already holds this message or order" in page
        assert "<th>ref</th><td>50314b8e9bcf000000000000</td>" in page  # what it would make, all the same
    assert client.post("/segment", json=same_order, headers=basic_auth(API_KEY)).json["duplicate"] is True
    another_order = dict(SEED, messageId="m-2", properties=dict(SEED["properties"], order_id="B-2"))
    page = client.post("/console/preview", data={"csrf_token": token, "message": json.dumps(another_order)})
    assert 'id="verdict">accepted<' in page.get_data(as_text=True)
    assert store.reports.counts()[PENDING] == 1


@pytest.mark.parametrize(("name", "outcome", "reason"), [
    ("order-completed-missing-email.json", "waiting", "Waiting up to 15m for the customer's email"),
    ("order-completed-missing-order-id.json", "rejected", "Missing order_id"),
    ("track-product-viewed.json", "ignored", "only Order Completed events make invitations"),
    ("page.json", "ignored", "Ignored: page calls make no invitation"),
])
def test_preview_of_a_fixture_gives_its_verdict_and_reason(client, name, outcome, reason):
    token = sign_in(client)
    page = client.post("/console/preview", data={"csrf_token": token, "fixture": name}).get_data(as_text=True)
    assert f'id="verdict">{outcome}<' in page
    assert reason in html.unescape(page)
    assert 'id="fields"' not in page


@pytest.mark.parametrize(("form", "status", "message"), [
    ({"message": "{not json"}, 400, "The message is not valid JSON (line 1, column 2)."),
    ({"message": "  "}, 400, "Paste a Segment message, or pick a fixture."),
    ({"fixture": "../pyproject.toml"}, 400, "Unknown fixture."),
    ({"message": "[" * 5000 + "]" * 5000}, 400, "The JSON is nested too deeply."),
    ({"message": '{"type": "track", "type": "identify"}'}, 400,
     "The message names a key twice in one object; POST /segment refuses it (400)."),
])
def test_bad_preview_input_is_a_4xx_with_a_clear_message(client, form, status, message):
    token = sign_in(client)
    answer = client.post("/console/preview", data={"csrf_token": token, **form})
    assert answer.status_code == status
    assert message in html.unescape(answer.get_data(as_text=True))


def test_preview_without_the_csrf_token_is_refused(client):
    sign_in(client)
    answer = client.post("/console/preview", data={"message": json.dumps(SEED), "csrf_token": "forged"})
    assert answer.status_code == 400
    assert b"verdict" not in answer.data


# -- invitations ------------------------------------------------------------------------------------

def test_invitations_are_listed_newest_first_masked_and_filterable(client, store, clock):
    stored(store, clock, "R-1")
    clock.advance(minutes=1)
    stored(store, clock, "R-2", email="zoe@example.org")
    dead = make_dead(store, clock, "R-3")
    token = sign_in(client)
    page = client.get("/console/invitations").get_data(as_text=True)
    assert [ref for ref in re.findall(r'<code class="ref">(R-\d)</code>', page)] == ["R-3", "R-2", "R-1"]
    assert "j***e@example.com" in page and "z***e@example.org" in page
    assert "jane.doe@" not in page and "zoe@" not in page
    assert "550 mailbox unavailable" in page
    only_dead = client.get("/console/invitations?state=dead").get_data(as_text=True)
    assert re.findall(r'<code class="ref">(R-\d)</code>', only_dead) == ["R-3"]
    assert f'/console/invitations/{dead}/retry' in only_dead and token


def test_invitations_paginate_fifty_a_page(client, store, clock):
    for start in range(0, 60, 20):
        stored(store, clock, *(f"P-{n:02d}" for n in range(start, start + 20)))
        clock.advance(seconds=1)
    sign_in(client)
    first = client.get("/console/invitations").get_data(as_text=True)
    second = client.get("/console/invitations?page=2").get_data(as_text=True)
    assert len(re.findall(r'<code class="ref">P-', first)) == 50 and "Page 1 of 2" in first
    assert len(re.findall(r'<code class="ref">P-', second)) == 10 and "Page 2 of 2" in second


@pytest.mark.parametrize(("query", "message"), [
    ("state=lost", "Unknown state: one of waiting, pending"), ("page=0", "page must be a whole number from 1."),
    ("page=x", "page must be a whole number from 1."),
])
def test_bad_filters_are_400_with_a_clear_message(client, query, message):
    sign_in(client)
    answer = client.get(f"/console/invitations?{query}")
    assert answer.status_code == 400
    assert message in html.unescape(answer.get_data(as_text=True))


def test_the_detail_view_masks_email_and_name_and_an_unknown_id_is_404(client, store, clock):
    [invitation_id] = stored(store, clock, "D-1")
    sign_in(client)
    page = client.get(f"/console/invitations/{invitation_id}").get_data(as_text=True)
    assert "j***e@example.com" in page and "J***" in page
    assert "jane.doe" not in page and "Jane Doe" not in page
    assert client.get("/console/invitations/999").status_code == 404


def test_retry_puts_a_dead_invitation_back_in_the_queue(client, store, clock):
    dead = make_dead(store, clock, "X-1")
    token = sign_in(client)
    assert client.post(f"/console/invitations/{dead}/retry").status_code == 400  # no token
    assert store.reports.get(dead).state == DEAD
    answer = client.post(f"/console/invitations/{dead}/retry", data={"csrf_token": token}, follow_redirects=True)
    assert "Queued again: it is due now." in answer.get_data(as_text=True)
    row = store.reports.get(dead)
    assert (row.state, row.attempts) == (RETRYING, 0)
    assert row.next_attempt_at == clock()


def test_retry_all_dead_retries_the_dead_only_and_only_once_confirmed(client, store, clock):
    dead = [make_dead(store, clock, f"Y-{n}") for n in range(3)]
    [pending] = stored(store, clock, "Y-P")
    retrying = make_dead(store, clock, "Y-R")
    store.outbox.retry(now=clock(), invitation_id=retrying)
    clock.advance(minutes=5)  # the retrying one is not due yet, and must stay so
    token = sign_in(client)
    listed = client.get("/console/invitations").get_data(as_text=True)
    assert 'id="retry-all-dead" href="/console/invitations/retry-dead">Retry all dead (3)</a>' in listed
    unconfirmed = client.post("/console/invitations/retry-dead", data={"csrf_token": token})
    assert unconfirmed.status_code == 303 and unconfirmed.headers["Location"] == "/console/invitations/retry-dead"
    assert [store.reports.get(i).state for i in dead] == [DEAD] * 3  # nothing happened without the confirm field
    asked = client.get("/console/invitations/retry-dead").get_data(as_text=True)
    assert "Retry 3 invitation(s)?" in asked and "3 dead invitation(s) will be queued" in asked
    assert 'name="confirm" value="yes"' in asked and token_in(asked.encode())
    before = store.reports.get(retrying)
    answer = client.post("/console/invitations/retry-dead", data={"csrf_token": token, "confirm": "yes"},
                         follow_redirects=True)
    assert "3 invitation(s) queued again." in answer.get_data(as_text=True)  # not 4: the retrying one is left
    assert [store.reports.get(i).state for i in dead] == [RETRYING] * 3
    assert store.reports.get(pending).state == PENDING
    assert store.reports.get(retrying) == before
    assert "There is nothing dead to retry." in client.get("/console/invitations/retry-dead").get_data(as_text=True)


def test_retry_these_requeues_the_dead_and_retrying_of_the_filtered_list_only_once_confirmed(client, store, clock):
    mine = [make_dead(store, clock, f"Z-{n}") for n in range(2)]
    others = make_dead(store, clock, "OTHER")
    stored(store, clock, "Z-P", email="zed@example.com")
    store.outbox.add([NewInvitation(Invitation(message_id="m-Z-9", email="zed@example.com", name="Z", ref="Z-9"),
                                    due_at=clock() - timedelta(days=1))], domain="example.com", now=clock())
    [job] = store.outbox.claim(now=clock(), limit=1, lease_seconds=60)
    store.outbox.mark_dead(job, now=clock(), error="550")
    token = sign_in(client)
    # everything of jane's: two dead (mine) and OTHER, also jane's; so filter by address and state
    listed = client.get("/console/invitations?q=zed@example.com").get_data(as_text=True)
    assert "Retry these (1 dead or retrying)" in listed
    assert 'href="/console/invitations/retry?q=zed@example.com"' in listed
    page = client.get("/console/invitations?q=JANE.DOE@example.com&state=dead").get_data(as_text=True)
    assert "Retry these (3 dead)" in page
    asked = client.get("/console/invitations/retry?q=JANE.DOE@example.com&state=dead").get_data(as_text=True)
    assert "3 dead invitation(s) of the filtered list (every page of it) will be queued again" in asked
    assert 'name="q" value="JANE.DOE@example.com"' in asked and 'name="state" value="dead"' in asked
    form = {"csrf_token": token, "q": "jane.doe@example.com", "state": "dead"}
    assert client.post("/console/invitations/retry", data=form).status_code == 303  # no confirm: nothing done
    assert store.reports.get(mine[0]).state == DEAD
    answer = client.post("/console/invitations/retry", data={**form, "confirm": "yes"}, follow_redirects=True)
    assert "3 invitation(s) queued again." in answer.get_data(as_text=True)
    assert [store.reports.get(i).state for i in (*mine, others)] == [RETRYING] * 3
    assert store.reports.get(job.id).state == DEAD  # zed's: not in the filtered list
    refused = client.get("/console/invitations/retry")
    assert refused.status_code == 400 and "Filter the list first" in refused.get_data(as_text=True)
    assert client.post("/console/invitations/retry", data={"q": "Z-0", "confirm": "yes"}).status_code == 400  # CSRF


def test_retry_these_of_a_ref_search_and_a_date_range(client, store, clock):
    old = make_dead(store, clock, "OLD")
    clock.advance(days=2)
    new = make_dead(store, clock, "NEW")
    token = sign_in(client)
    day = clock().date().isoformat()
    page = client.get(f"/console/invitations?since={day}&until={day}").get_data(as_text=True)
    assert re.findall(r'<code class="ref">(OLD|NEW)</code>', page) == ["NEW"]
    client.post("/console/invitations/retry", data={"csrf_token": token, "since": day, "confirm": "yes"})
    assert (store.reports.get(old).state, store.reports.get(new).state) == (DEAD, RETRYING)
    client.post("/console/invitations/retry", data={"csrf_token": token, "q": "m-OLD", "confirm": "yes"})
    assert store.reports.get(old).state == RETRYING


# -- search and filters -----------------------------------------------------------------------------

def refs_on(page: str) -> list[str]:
    return re.findall(r"<code class=\"ref\">([^<]+)</code>", page)


def test_search_by_order_ref_or_message_id_exactly(client, store, clock):
    stored(store, clock, "A-1001", "A-1002", "B-1001")
    sign_in(client)
    assert refs_on(client.get("/console/invitations?q=A-1001").get_data(as_text=True)) == ["A-1001"]
    assert refs_on(client.get("/console/invitations?q=m-B-1001").get_data(as_text=True)) == ["B-1001"]
    assert refs_on(client.get("/console/invitations?q=A-10").get_data(as_text=True)) == []  # exact, not a prefix
    missing = client.get("/console/invitations?q=nothing-like-it").get_data(as_text=True)
    assert "0 invitation(s) match" in missing and "No invitations match." in missing


@pytest.mark.parametrize("typed", ["Jane.Doe@Example.COM", "jane.doe@example.com", " JANE.DOE@EXAMPLE.COM "])
def test_search_by_address_in_any_casing_shows_it_masked(client, store, clock, typed):
    stored(store, clock, "J-1", "J-2")
    stored(store, clock, "Z-1", email="zoe@example.com")
    sign_in(client)
    page = client.get("/console/invitations", query_string={"q": typed}).get_data(as_text=True)
    assert sorted(refs_on(page)) == ["J-1", "J-2"]
    assert "j***e@example.com" in page and "jane.doe" not in page.replace(f'value="{typed.strip()}"', "").lower()


def test_search_by_address_with_a_unicode_domain_finds_the_punycode_one_and_back(client, store, clock):
    for ref, email in (("U-1", "Anna@Bücher.de"), ("U-2", "anna@example.de"),
                       ("U-3", "Jörg.Müller@example.de")):  # through the endpoint
        message = {**SEED, "messageId": f"m-{ref}", "properties": {**SEED["properties"], "order_id": ref,
                                                                    "email": email}}
        assert client.post("/segment", json=message, headers=basic_auth(API_KEY)).json["status"] == "accepted"
    sign_in(client)
    for typed in ("anna@BÜCHER.de", "Anna@xn--bcher-kva.de"):
        page = client.get("/console/invitations", query_string={"q": typed}).get_data(as_text=True)
        assert refs_on(page) == ["U-1"]
        assert "A***a@xn--bcher-kva.de" in page
    page = client.get("/console/invitations", query_string={"q": "JÖRG.MÜLLER@EXAMPLE.DE"}).get_data(as_text=True)
    assert refs_on(page) == ["U-3"] and "J***r@example.de" in page and "Müller" not in page.split("<main>")[1]


def test_a_search_with_an_at_that_is_no_address_is_400(client):
    sign_in(client)
    answer = client.get("/console/invitations?q=jane@")
    assert answer.status_code == 400
    assert "not an email address" in answer.get_data(as_text=True)


def test_filters_by_state_and_creation_dates_combine_with_the_search(client, store, clock):
    stored(store, clock, "D-1")
    clock.advance(days=1)
    stored(store, clock, "D-2")
    make_dead(store, clock, "D-3")
    clock.advance(days=1)
    stored(store, clock, "D-4")
    sign_in(client)
    first, second, third = ((clock() - timedelta(days=days)).date().isoformat() for days in (2, 1, 0))
    assert refs_on(client.get(f"/console/invitations?since={second}").get_data(as_text=True)) == ["D-4", "D-3", "D-2"]
    assert refs_on(client.get(f"/console/invitations?until={second}").get_data(as_text=True)) == ["D-3", "D-2", "D-1"]
    assert refs_on(client.get(f"/console/invitations?since={second}&until={second}&state=pending")
                   .get_data(as_text=True)) == ["D-2"]
    assert refs_on(client.get(f"/console/invitations?since={first}&until={third}&q=D-3")
                   .get_data(as_text=True)) == ["D-3"]
    page = client.get(f"/console/invitations?since={second}&state=pending").get_data(as_text=True)
    assert f'value="{second}"' in page and '<option value="pending" selected>' in page  # the form shows the filter


def test_pages_of_a_filtered_list_keep_the_filter(client, store, clock):
    stored(store, clock, *(f"F-{n:02d}" for n in range(55)))
    sign_in(client)
    page = client.get("/console/invitations?state=pending").get_data(as_text=True)
    assert 'href="/console/invitations?state=pending&amp;page=2"' in page


def test_the_detail_view_lists_skus_and_tags_shows_no_next_attempt_when_dead_and_the_attempts(client, store, clock):
    item = Invitation(message_id="m-K", email="kim@example.com", name="Kim", ref="K-1", skus=("SKU-1", "SKU-2"),
                      tags=("web", "promo"))
    store.outbox.add([NewInvitation(item, due_at=clock() - timedelta(days=1))], domain="example.com", now=clock())
    [job] = store.outbox.claim(now=clock(), limit=1, lease_seconds=60)
    store.outbox.mark_retry(job, now=clock(), at=clock() + timedelta(minutes=1), error="421 try later",
                            attempt=Attempt(sender="smtp", outcome="transient", attempted_at=clock(),
                                            duration_seconds=0.5, code="421", error="421 try later"))
    clock.advance(minutes=3)
    [job] = store.outbox.claim(now=clock(), limit=1, lease_seconds=60)
    store.outbox.mark_dead(job, now=clock(), error="550 mailbox unavailable",
                           attempt=attempt(clock, "550 mailbox unavailable"))
    sign_in(client)
    page = client.get(f"/console/invitations/{job.id}").get_data(as_text=True)
    assert '<ul class="chips" id="skus"><li><code>SKU-1</code></li><li><code>SKU-2</code></li></ul>' in page
    assert '<ul class="chips" id="tags"><li><code>web</code></li><li><code>promo</code></li></ul>' in page
    assert "(&#39;" not in page and "[&#39;" not in page  # no Python repr
    next_attempt = re.search(r'id="next-attempt">([^<]+)<', page).group(1)
    assert next_attempt.startswith("none: dead")
    moment = clock().strftime("%Y-%m-%d %H:%M:%S")
    assert f"<time>{moment} UTC</time><br>550 mailbox unavailable" in page  # the error has its time
    attempts = page[page.index('id="attempts"'):]
    rows = re.findall(r'data-label="when \(UTC\)">([^<]+)<.*?data-label="sender">(\w+)<.*?>(transient|permanent)<',
                      attempts, re.S)
    assert rows == [((clock() - timedelta(minutes=3)).strftime("%Y-%m-%d %H:%M:%S"), "smtp", "transient"),
                    (moment, "http", "permanent")]
    assert "<code>421</code> 421 try later" in attempts and "<code>550</code> 550 mailbox unavailable" in attempts
    assert "0.50 s" in attempts and "1.50 s" in attempts


# -- overview ---------------------------------------------------------------------------------------

def test_overview_counts_oldest_due_deliveries_chart_and_masked_configuration(client, store, clock):
    stored(store, clock, "O-1")
    make_dead(store, clock, "O-2")
    clock.advance(minutes=90)
    token = sign_in(client)
    page = client.get("/console").get_data(as_text=True)
    assert 'id="count-pending">1<' in page and 'id="count-dead">1<' in page
    assert 'id="oldest-due">1h 30m<' in page  # as `receiver status` says it: one report, one formatter
    assert 'data-count="0"' in page and page.count('class="sent"') == 24 and page.count('class="failed"') == 24
    assert 'id="oldest-undelivered">1h 30m<' in page  # stored 90 minutes ago
    assert 'id="outage"' in page  # older than the threshold: the banner
    assert "TRUSTPILOT_ENCRYPT_KEY</th><td><code>*** (set)" in page
    assert "CONSOLE_PASSWORD</th><td><code>*** (set)" in page
    assert PASSWORD not in page and SECRET not in page and "p5+FYz" not in page
    assert token


def sent_one(store: Store, clock: FakeClock, ref: str) -> None:
    stored(store, clock, ref, due=clock() - timedelta(days=400))
    [job] = store.outbox.claim(now=clock(), limit=1, lease_seconds=60)
    store.outbox.mark_sent(job, now=clock(), attempt=attempt(clock))


def test_a_healthy_overview_has_no_banner_and_shows_the_last_successful_delivery(client, store, clock):
    sent_one(store, clock, "H-1")
    clock.advance(minutes=7)
    stored(store, clock, "H-2")
    sign_in(client)
    page = client.get("/console").get_data(as_text=True)
    assert 'id="outage"' not in page and 'class="card bad"' not in page
    assert 'id="last-success">7m 0s ago<' in page
    assert 'id="oldest-undelivered">0s<' in page and 'id="failure-ratio">0%<' in page
    assert "1 sent</span>, <span class=\"failed-text\">0 failed" in page


def test_during_an_outage_the_banner_says_why_and_the_cards_do_not_look_healthy(client, store, clock):
    sent_one(store, clock, "G-1")
    clock.advance(minutes=40)
    for n in range(5):  # every attempt of the last 15 minutes failed
        make_dead(store, clock, f"E-{n}", error=f"connection refused ({n})")
    stored(store, clock, "Q-1")  # waiting behind them
    sign_in(client)
    page = client.get("/console").get_data(as_text=True)
    banner = page[page.index('id="outage"'):page.index('id="health"')]
    assert "Delivery looks broken." in banner
    assert "5 of the 5 attempts of the last 15 minutes failed (100%)." in banner
    assert "Last successful delivery: 40m 0s ago." in banner
    assert 'id="failures-hour">5<' in page and 'id="failure-ratio">100%<' in page
    health = page[page.index('id="health"'):page.index('class="cards states"')]
    assert health.count('class="card bad"') == 4  # not "0 s" and "0 dead" in healthy grey
    assert re.search(r'class="card bad" href="/console/invitations\?state=dead">\s*<b id="count-dead">5<', page)
    errors = page[page.index('id="errors"'):]
    assert clock().strftime("%m-%d %H:%M") in errors and "connection refused (4)" in errors  # the error's time
    assert 'data-failed="5"' in page and 'data-count="1"' in page


def test_undelivered_work_with_no_delivery_raises_the_banner_at_the_alert_thresholds(client, store, clock):
    stored(store, clock, "S-1")
    sign_in(client)
    clock.advance(minutes=5)
    assert 'id="outage"' not in client.get("/console").get_data(as_text=True)
    clock.advance(seconds=1)
    page = client.get("/console").get_data(as_text=True)
    assert "Nothing has been delivered for 5m 1s while 1 invitation(s) wait." in page
    assert "The oldest undelivered" not in page and "Last successful delivery: never." in page
    clock.advance(minutes=25)
    page = client.get("/console").get_data(as_text=True)
    assert "The oldest undelivered invitation has waited 30m 1s (more than 30 minutes)." in page


# -- the store's reads, on both databases -----------------------------------------------------------

@pytest.mark.both_databases
def test_store_page_and_deliveries_per_hour(store, clock):
    stored(store, clock, *(f"S-{n}" for n in range(5)), due=clock() - timedelta(days=2))
    for hours_ago, count in ((0, 2), (3, 1), (30, 1)):
        moment = clock() - timedelta(hours=hours_ago)
        for job in store.outbox.claim(now=moment, limit=count, lease_seconds=60):
            store.outbox.mark_sent(job, now=moment)
    rows, total = store.reports.page(limit=2, offset=1)
    assert total == 5 and [row.ref for row in rows] == ["S-3", "S-2"]
    sent, sent_total = store.reports.page(state=SENT)
    assert sent_total == 4 and len(sent) == 4
    hours = store.reports.deliveries_per_hour(now=clock())
    assert len(hours) == 24
    assert hours[-1] == (clock().replace(minute=0), 2)
    assert hours[-4][1] == 1 and sum(count for _, count in hours) == 3  # 30 h ago is outside
    first = store.reports.find(message_id="m-S-0").id
    assert store.outbox.holder(message_id="m-S-0", domain="other.example", order_key="X") == first  # same message
    assert store.outbox.holder(message_id="m-new", domain="example.com", order_key="S-0") == first  # same order
    assert store.outbox.holder(message_id="m-new", domain="other.example", order_key="S-0") is None  # another domain


@pytest.mark.both_databases
def test_store_search_requeue_and_health_reads(store, clock):
    from receiver.store import InvitationFilter

    start = clock()
    stored(store, clock, "T-1", email="Tom@Example.com", due=start - timedelta(days=9))
    stored(store, clock, "T-2", email="ann@example.com", due=start - timedelta(days=8))
    clock.advance(hours=2)
    stored(store, clock, "T-3", email="tom@example.com", due=start - timedelta(days=7))
    [first] = store.outbox.claim(now=clock(), limit=1, lease_seconds=60)
    store.outbox.mark_sent(first, now=clock(), attempt=attempt(clock))
    [second] = store.outbox.claim(now=clock(), limit=1, lease_seconds=60)
    store.outbox.mark_dead(second, now=clock(), error="550", attempt=attempt(clock, "550"))
    tom = store.address_key("TOM@example.com")
    rows, total = store.reports.page(InvitationFilter(address_key=tom))
    assert total == 2 and [row.ref for row in rows] == ["T-3", "T-1"]
    assert store.reports.page(InvitationFilter(ref_or_message_id="m-T-2"))[1] == 1
    assert store.reports.page(InvitationFilter(since=start + timedelta(hours=1)))[1] == 1
    assert store.reports.page(InvitationFilter(until=start + timedelta(hours=1)))[1] == 2
    assert store.reports.count(InvitationFilter(), states=(DEAD,)) == 1
    hours = store.reports.attempts_per_hour(now=clock())
    assert len(hours) == 24 and hours[-1] == (clock().replace(minute=0), 1, 1)
    assert sum(sent + failed for _, sent, failed in hours[:-1]) == 0
    assert store.outbox.requeue(now=clock(), states=(DEAD,), matching=InvitationFilter(address_key=tom)) == 0
    assert store.outbox.requeue(now=clock(), states=(DEAD, SENT), matching=InvitationFilter()) == 1  # sent: never
    assert store.reports.get(second.id).state == RETRYING and store.reports.get(first.id).state == SENT


# -- suppression, and the pages' headers ------------------------------------------------------------

@pytest.mark.env(CONSOLE_PASSWORD=PASSWORD, SECRET_KEY=SECRET, SUPPRESS_AUDIENCES="review_opt_out")
def test_preview_of_a_suppressed_customer_says_so_and_stores_nothing(client, store):
    order = {**SEED, "context": {"traits": {"review_opt_out": True}}}
    token = sign_in(client)
    page = client.post("/console/preview", data={"csrf_token": token, "message": json.dumps(order)})
    assert 'id="verdict">suppressed<' in page.get_data(as_text=True)
    assert "Suppressed: the customer is in review_opt_out" in page.get_data(as_text=True)
    assert store.reports.counts() == {state: 0 for state in store.reports.counts()}


def test_console_pages_are_not_cached_not_framed_and_run_no_script(client):
    sign_in(client)
    headers = client.get("/console").headers
    assert headers["Cache-Control"] == "no-store"
    assert headers["X-Frame-Options"] == "DENY"
    assert "script-src" not in headers["Content-Security-Policy"]
    assert headers["Content-Security-Policy"].startswith("default-src 'none'")
