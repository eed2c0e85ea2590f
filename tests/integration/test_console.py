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
from receiver.store import DEAD, PENDING, RETRYING, SENT, NewInvitation, Store
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


def make_dead(store: Store, clock: FakeClock, ref: str, error: str = "550 mailbox unavailable") -> int:
    [invitation_id] = stored(store, clock, ref, due=clock() - timedelta(days=1))  # claimed before any other
    [job] = store.outbox.claim(now=clock(), limit=1, lease_seconds=60)
    store.outbox.mark_dead(job, now=clock(), error=error)
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
    assert client.post("/console/invitations/retry-dead", data={"csrf_token": after}).status_code == 302
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
    assert "<th>email</th><td>anna@example.de</td><td><code>stored traits.email</code>" in page
    assert "<th>name</th><td>Anna</td><td><code>stored traits.first_name</code>" in page
    assert "<th>locale</th><td>de-DE</td><td><code>context.locale</code>" in page
    assert "The email (de)" in page
    assert "https://de.trustpilot.com/evaluate-bgl/" in page
    assert store.reports.find(message_id="o-1") is None


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
    assert [ref for ref in re.findall(r"<code>(R-\d)</code>", page)] == ["R-3", "R-2", "R-1"]
    assert "j***@example.com" in page and "z***@example.org" in page
    assert "jane.doe@" not in page and "zoe@" not in page
    assert "550 mailbox unavailable" in page
    only_dead = client.get("/console/invitations?state=dead").get_data(as_text=True)
    assert re.findall(r"<code>(R-\d)</code>", only_dead) == ["R-3"]
    assert f'/console/invitations/{dead}/retry' in only_dead and token


def test_invitations_paginate_fifty_a_page(client, store, clock):
    for start in range(0, 60, 20):
        stored(store, clock, *(f"P-{n:02d}" for n in range(start, start + 20)))
        clock.advance(seconds=1)
    sign_in(client)
    first = client.get("/console/invitations").get_data(as_text=True)
    second = client.get("/console/invitations?page=2").get_data(as_text=True)
    assert len(re.findall(r"<code>P-", first)) == 50 and "Page 1 of 2" in first
    assert len(re.findall(r"<code>P-", second)) == 10 and "Page 2 of 2" in second


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
    assert "j***@example.com" in page and "J***" in page
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


def test_retry_all_dead_retries_only_the_dead(client, store, clock):
    dead = [make_dead(store, clock, f"Y-{n}") for n in range(3)]
    [pending] = stored(store, clock, "Y-P")
    token = sign_in(client)
    answer = client.post("/console/invitations/retry-dead", data={"csrf_token": token}, follow_redirects=True)
    assert "3 invitation(s) queued again." in answer.get_data(as_text=True)
    assert [store.reports.get(i).state for i in dead] == [RETRYING] * 3
    assert store.reports.get(pending).state == PENDING


# -- overview ---------------------------------------------------------------------------------------

def test_overview_counts_oldest_due_deliveries_chart_and_masked_configuration(client, store, clock):
    stored(store, clock, "O-1")
    make_dead(store, clock, "O-2")
    clock.advance(minutes=90)
    token = sign_in(client)
    page = client.get("/console").get_data(as_text=True)
    assert 'id="count-pending">1<' in page and 'id="count-dead">1<' in page
    assert 'id="oldest-due">1h 30m<' in page  # as `receiver status` says it: one report, one formatter
    assert 'data-count="0"' in page and page.count("<rect") == 24
    assert "TRUSTPILOT_ENCRYPT_KEY</th><td><code>*** (set)" in page
    assert "CONSOLE_PASSWORD</th><td><code>*** (set)" in page
    assert PASSWORD not in page and SECRET not in page and "p5+FYz" not in page
    assert token


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
