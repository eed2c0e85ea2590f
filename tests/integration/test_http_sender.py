"""The http sender against a real local HTTP server, its signature checked with the standardwebhooks package."""

import base64
import logging
import socket
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from receiver import bgl
from receiver.config import load_settings
from receiver.invitation import Invitation
from receiver.senders import ReadyInvitation, SendFailure, load_sender
from receiver.senders.http import HttpSender, settings_from_environ
from receiver.store import NewInvitation
from support.clock import FakeClock
from support.data import AUTH_KEY, ENCRYPT_KEY, base_env
from support.net import free_port
from support.servers import callback_server
from support.workers import worker_for

KEYS = bgl.Keys.from_base64(ENCRYPT_KEY, AUTH_KEY)
SECRET = "whsec_" + base64.b64encode(b"0123456789abcdef0123456789abcdef").decode()


def now_clock() -> FakeClock:
    """A clock standing still at the real time: the verifier refuses timestamps more than 5 minutes off."""
    return FakeClock(datetime.now(UTC).replace(microsecond=0))


def ready(id=42, **extra):
    fields = {"message_id": "ajs-next-1f7b", "email": "jürgen@example.de", "name": "Jürgen Müller", "ref": "DE-1001",
              "skus": ("BIER-KRUG-1", "GLAS-2"), "tags": ("segment",), "locale": "de-DE"}
    fields.update(extra)
    payload = {"email": fields["email"], "name": fields["name"], "ref": fields["ref"], "skus": list(fields["skus"])}
    return ReadyInvitation(id=id, invitation=Invitation(**fields), link=bgl.build_link(payload, KEYS, "example.com"))


def sender_for(url, clock=None, **env):
    settings = settings_from_environ({"CALLBACK_URL": url, "CALLBACK_SECRET": SECRET, "CALLBACK_TIMEOUT": "5s", **env})
    return HttpSender(settings, clock=clock or now_clock())


def verified(request):
    """The body as the business's receiver gets it, after the reference verifier accepted the signature."""
    return Webhook(SECRET).verify(request.body, request.headers)


def test_the_body_is_exactly_the_documented_shape_and_the_signature_verifies():
    invitation = replace(ready(), unsubscribe_url="https://reviews.example.com/unsubscribe/WzQyLCJ4In0.sig")
    with callback_server() as callback:
        sender = sender_for(callback.url, CALLBACK_HEADERS='{"Authorization": "Bearer esp-token", "X-Shop": "1"}')
        sender.send(invitation)
        sender.close()
    [request] = callback.requests
    assert request.path == "/hooks/trustpilot"
    assert verified(request) == {
        "type": "invitation.ready",
        "timestamp": request.json()["timestamp"],
        "data": {"id": "42", "link": invitation.link, "email": "jürgen@example.de", "name": "Jürgen Müller",
                 "ref": "DE-1001", "skus": ["BIER-KRUG-1", "GLAS-2"], "tags": ["segment"], "locale": "de-DE",
                 "message_id": "ajs-next-1f7b",
                 "unsubscribe_url": "https://reviews.example.com/unsubscribe/WzQyLCJ4In0.sig"},
    }
    assert list(request.json()) == ["type", "timestamp", "data"]
    assert bgl.decode(request.json()["data"]["link"], KEYS)["email"] == "jürgen@example.de"
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["webhook-id"] == "42"
    assert request.headers["Authorization"] == "Bearer esp-token" and request.headers["X-Shop"] == "1"
    tampered = request.body.replace(b"DE-1001", b"DE-1002")
    with pytest.raises(WebhookVerificationError):
        Webhook(SECRET).verify(tampered, request.headers)
    other = "whsec_" + base64.b64encode(b"another secret of 32 bytes......").decode()
    with pytest.raises(WebhookVerificationError):
        Webhook(other).verify(request.body, request.headers)


def test_the_timestamps_come_from_the_injected_clock():
    clock = FakeClock()
    with callback_server() as callback:
        sender = sender_for(callback.url, clock=clock)
        sender.send(ready(locale=None, tags=()))
        sender.close()
    [request] = callback.requests
    assert request.headers["webhook-timestamp"] == str(int(clock.now.timestamp())) == "1795176000"
    body = request.json()
    assert body["timestamp"] == "2026-11-20T12:00:00Z"
    assert body["data"]["locale"] is None and body["data"]["tags"] == []
    with pytest.raises(WebhookVerificationError, match="too old|too new"):  # the reference verifier checks the time
        verified(request)


def test_one_kept_alive_connection_carries_several_callbacks():
    with callback_server() as callback:
        sender = sender_for(callback.url)
        for number in range(3):
            sender.send(ready(id=number))
        sender.close()
    assert [r.headers["webhook-id"] for r in callback.requests] == ["0", "1", "2"]
    assert callback.connections == 1


@pytest.mark.parametrize(("status", "transient"), [
    (400, False), (401, False), (404, False), (422, False), (408, True), (429, True), (500, True), (502, True),
    (503, True),
])
def test_status_codes_decide_transient_or_permanent(status, transient):
    with callback_server() as callback:
        callback.replies.append((status, {}))
        sender = sender_for(callback.url)
        with pytest.raises(SendFailure) as failure:
            sender.send(ready())
        sender.close()
    assert failure.value.transient is transient
    assert str(failure.value).startswith(f"the callback {callback.url} answered {status} ")
    assert "jürgen" not in str(failure.value)


def test_a_redirect_is_not_followed_and_is_permanent():
    with callback_server() as callback:
        target = callback.url.replace("/hooks/trustpilot", "/new-home?token=abc")
        callback.replies.append((308, {"Location": target}))
        sender = sender_for(callback.url)
        with pytest.raises(SendFailure) as failure:
            sender.send(ready())
        sender.close()
    assert len(callback.requests) == 1  # the signed body went nowhere else
    assert not failure.value.transient
    message = str(failure.value)
    port = callback.url.split(":")[2].split("/")[0]
    assert f"308 Permanent Redirect, a redirect to http://127.0.0.1:{port};" in message  # scheme and host only
    assert "set CALLBACK_URL to the final address" in message and "token" not in message and "new-home" not in message


def test_retry_after_as_an_http_date_is_read_against_the_clock():
    clock = now_clock()
    with callback_server() as callback:
        callback.replies.append((429, {"Retry-After": format_datetime(clock.now + timedelta(seconds=300), usegmt=True)}))
        sender = sender_for(callback.url, clock=clock)
        with pytest.raises(SendFailure) as failure:
            sender.send(ready())
        sender.close()
    assert failure.value.transient and failure.value.retry_after == 300.0


def test_a_read_timeout_is_transient():
    with socket.socket() as silent:  # accepts connections (the backlog does) but never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        port = silent.getsockname()[1]
        sender = sender_for(f"http://127.0.0.1:{port}/hook", CALLBACK_TIMEOUT="0.2s")
        with pytest.raises(SendFailure) as failure:
            sender.send(ready())
        sender.close()
    assert failure.value.transient
    assert str(failure.value) == f"the callback http://127.0.0.1:{port}/hook timed out waiting for the answer"


def test_a_refused_connection_is_transient():
    port = free_port()
    sender = sender_for(f"http://127.0.0.1:{port}/hook")
    with pytest.raises(SendFailure) as failure:
        sender.send(ready())
    assert failure.value.transient and str(failure.value) == (
        f"cannot reach the callback http://127.0.0.1:{port}/hook: ConnectionError")


# -- through the real worker ----------------------------------------------------------------------

def _worker(store, database_url, url, clock):
    settings = load_settings(base_env(DATABASE_URL=database_url, SENDER="http", CALLBACK_URL=url,
                                      CALLBACK_SECRET=SECRET))
    invitation = Invitation(message_id="seg-1", email="jane@example.com", name="Jane Roe", ref="A-1", skus=("S1",),
                            locale="en-GB")
    store.outbox.add([NewInvitation(invitation)], domain="example.com", now=clock())
    sender = load_sender("http", settings.environ)  # the sender's own clock is the real one, as in production
    return worker_for(store, settings, sender, clock=clock, rand=lambda: 0.0), store.reports.find(message_id="seg-1").id


def test_503_then_200_is_retried_with_the_same_webhook_id_and_delivered(store, database_url):
    clock = FakeClock()
    with callback_server() as callback:
        callback.replies.append((503, {}))
        worker, row_id = _worker(store, database_url, callback.url, clock)
        assert worker.run_batch().retrying == 1
        row = store.reports.get(row_id)
        assert row.state == "retrying" and row.last_error.endswith("answered 503 Service Unavailable")
        clock.advance(seconds=15)  # the backoff of a first attempt, with rand() = 0
        assert worker.run_batch().sent == 1
        worker.sender.close()
    assert store.reports.get(row_id).state == "sent"
    first, second = callback.requests
    assert first.headers["webhook-id"] == second.headers["webhook-id"] == str(row_id)
    first_data, second_data = verified(first)["data"], verified(second)["data"]
    assert first_data.pop("link") != second_data.pop("link")  # a fresh IV on each attempt...
    assert bgl.decode(first.json()["data"]["link"], KEYS) == bgl.decode(second.json()["data"]["link"], KEYS) == {
        "email": "jane@example.com", "name": "Jane Roe", "ref": "A-1", "skus": ["S1"]}  # ...for the same payload
    assert first_data == second_data == {"id": str(row_id), "email": "jane@example.com", "name": "Jane Roe",
                                         "ref": "A-1", "skus": ["S1"], "tags": [], "locale": "en-GB",
                                         "message_id": "seg-1", "unsubscribe_url": None}  # no PUBLIC_URL


def test_retry_after_is_honoured_by_the_worker(store, database_url):
    clock = FakeClock()
    with callback_server() as callback:
        callback.replies.append((503, {"Retry-After": "120"}))
        worker, row_id = _worker(store, database_url, callback.url, clock)
        worker.run_batch()
        assert store.reports.get(row_id).next_attempt_at == (clock.now + timedelta(seconds=120))
        clock.advance(seconds=119)
        assert worker.run_batch().handled == 0 and len(callback.requests) == 1
        clock.advance(seconds=1)
        assert worker.run_batch().sent == 1
        worker.sender.close()
    assert len(callback.requests) == 2


def test_400_is_dead_at_once_and_nothing_personal_is_logged(store, database_url, caplog):
    clock = FakeClock()
    with callback_server() as callback:
        callback.replies.append((400, {}))
        worker, row_id = _worker(store, database_url, callback.url, clock)
        with caplog.at_level(logging.INFO, logger="receiver"):
            assert worker.run_batch().dead == 1
        worker.sender.close()
    row = store.reports.get(row_id)
    assert row.state == "dead" and row.attempts == 1
    assert row.last_error == f"the callback {callback.url} answered 400 Bad Request (permanent failure)"
    assert "jane" not in caplog.text.lower() and "Roe" not in caplog.text
    assert len(callback.requests) == 1
