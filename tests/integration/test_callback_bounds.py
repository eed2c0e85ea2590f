"""The http sender against callbacks that misbehave on purpose, over real sockets (issue 17 §5 and §6): one deadline
for the whole attempt, at most 64 KiB of the answer read, nothing of the answer's words kept, and a send that never
outlives its lease, so that two workers deliver an invitation once."""

from __future__ import annotations

import base64
import logging
import socket
import threading
import time
import tracemalloc

import pytest

from receiver import bgl
from receiver.config import load_settings
from receiver.invitation import Invitation
from receiver.senders import ReadyInvitation, SendFailure, load_sender
from receiver.senders.http import HttpSender, redirect_origin, settings_from_environ
from receiver.store import SENT, NewInvitation, Store
from support.data import AUTH_KEY, DATA_KEY_BYTES, ENCRYPT_KEY, base_env
from support.hostile_http import after, gigabyte_body, hostile_server, personal, trickle_body, trickle_headers
from support.workers import worker_for

KEYS = bgl.Keys.from_base64(ENCRYPT_KEY, AUTH_KEY)
SECRET = "whsec_" + base64.b64encode(b"0123456789abcdef0123456789abcdef").decode()
NAME, EMAIL = "Jane Doe", "jane.doe@example.com"
PERSONAL = ("Jane", "Doe", "jane", "doe")


def ready(id: int = 7) -> ReadyInvitation:
    invitation = Invitation(message_id="m-7", email=EMAIL, name=NAME, ref="A-7")
    link = bgl.build_link({"email": EMAIL, "name": NAME, "ref": "A-7"}, KEYS, "example.com")
    return ReadyInvitation(id=id, invitation=invitation, link=link)


def sender_for(url: str, timeout: str = "2s") -> HttpSender:
    return HttpSender(settings_from_environ({"CALLBACK_URL": url, "CALLBACK_SECRET": SECRET,
                                             "CALLBACK_TIMEOUT": timeout}))


def timed_failure(sender: HttpSender) -> tuple[SendFailure, float]:
    started = time.monotonic()
    with pytest.raises(SendFailure) as failure:
        sender.send(ready())
    elapsed = time.monotonic() - started
    sender.close()
    return failure.value, elapsed


# -- one deadline ---------------------------------------------------------------------------------

@pytest.mark.parametrize("answer", [trickle_headers, trickle_body], ids=["headers", "body"])
def test_an_answer_trickled_a_byte_a_second_is_cut_at_the_deadline(answer):
    with hostile_server(answer) as server:
        failure, elapsed = timed_failure(sender_for(server.url, timeout="2s"))
    assert failure.transient and failure.code == "timeout waiting for the answer"
    assert str(failure) == f"the callback {server.url} timed out waiting for the answer"
    assert 1.9 < elapsed < 3.0, f"the send took {elapsed:.1f} s with CALLBACK_TIMEOUT=2s"  # requests: for ever


def test_a_tls_handshake_that_never_comes_is_cut_at_the_deadline():
    with socket.create_server(("127.0.0.1", 0)) as silent:  # accepts (the backlog does), never says a word
        port = silent.getsockname()[1]
        failure, elapsed = timed_failure(sender_for(f"https://127.0.0.1:{port}/hook", timeout="1s"))
    assert failure.transient and str(failure) == f"the callback https://127.0.0.1:{port}/hook timed out connecting"
    assert 0.9 < elapsed < 2.0


def test_a_gigabyte_answer_is_read_no_further_than_64_kib():
    with hostile_server(gigabyte_body) as server:
        sender = sender_for(server.url, timeout="10s")
        tracemalloc.start()
        started = time.monotonic()
        sender.send(ready())  # a 200 is a 200, whatever follows it
        elapsed = time.monotonic() - started
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        sender.close()
        time.sleep(0.2)  # the server finds the connection closed
        written = server.sent
    assert elapsed < 2.0
    assert peak < 1024 * 1024, f"{peak / 1024:.0f} KiB allocated during the send"
    assert written < 64 * 1024 ** 2, f"the server got {written / 1024 ** 2:.0f} MiB out before the client hung up"


def test_after_an_answer_cut_short_the_next_send_opens_a_fresh_connection():
    answers = iter([gigabyte_body, after(0)])
    with hostile_server(lambda conn, state: next(answers)(conn, state)) as server:
        sender = sender_for(server.url, timeout="5s")
        sender.send(ready(1))
        sender.send(ready(2))
        sender.close()
    assert len(server.requests) == 2


# -- nothing of the answer's words kept -------------------------------------------------------------

def test_the_reason_phrase_and_body_are_never_kept():
    answer = personal(503, f"Mailbox of {NAME} {EMAIL} is full", body=f'{{"error": "{NAME} <{EMAIL}> is full"}}')
    with hostile_server(answer) as server:
        failure, _ = timed_failure(sender_for(server.url))
    assert str(failure) == f"the callback {server.url} answered 503 Service Unavailable"
    assert failure.transient and failure.code == "http 503"
    assert not any(word in str(failure) for word in PERSONAL)


@pytest.mark.parametrize(("location", "shown"), [
    (f"https://{EMAIL.replace('@', '%40')}:x@mail.example.net:8443/bounce/Jane%20Doe?to={EMAIL}",
     " to https://mail.example.net:8443;"),
    (f"http://Mailbox of {NAME} is full/x", ";"),  # no host name to show: only that it was a redirect
    (f"/bounce?to={EMAIL}", ";"),
])
def test_a_redirect_keeps_only_the_scheme_and_host_of_its_location(location, shown):
    with hostile_server(personal(302, f"Found {NAME}", location=location)) as server:
        failure, _ = timed_failure(sender_for(server.url))
    assert f"answered 302 Found, a redirect{shown}" in str(failure)
    assert not failure.transient and failure.code == "http 302"
    assert not any(word in str(failure) for word in PERSONAL)
    assert len(server.requests) == 1  # never followed


def test_redirect_origin():
    assert redirect_origin("https://Mail.Example.NET/x?y=1#z") == "https://mail.example.net"
    assert redirect_origin("http://[::1]:8080/p") == "http://::1:8080"
    assert [redirect_origin(v) for v in (None, "", "ftp://h/", "https://jane doe/", "//h/x", "https://a_b.c/")] == (
        [None] * 6)


def test_the_worker_stores_a_fixed_text_and_logs_the_code_only(store, database_url, caplog):
    answer = personal(503, f"Mailbox of {NAME} {EMAIL} is full", body=f"{NAME} {EMAIL}")
    with hostile_server(answer) as server:
        worker = worker_for(store, _settings(database_url, server.url), _sender(database_url, server.url),
                            rand=lambda: 0.0)
        [row_id] = _stored(store, 1)
        with caplog.at_level(logging.DEBUG):
            worker.run_batch()
        worker.sender.close()
    row = store.reports.get(row_id)
    assert row.last_error == f"the callback {server.url} answered 503 Service Unavailable"
    assert "invitation 1: attempt 1 failed (http 503); retrying in" in caplog.text
    assert not any(word in caplog.text for word in PERSONAL)


# -- never outliving the lease ------------------------------------------------------------------------

def _settings(database_url, url, **env):
    return load_settings(base_env(DATABASE_URL=database_url, SENDER="http", CALLBACK_URL=url, CALLBACK_SECRET=SECRET,
                                  **env))


def _sender(database_url, url, **env):
    return load_sender("http", _settings(database_url, url, **env).environ)


def _stored(store, count):
    from receiver.clock import utcnow

    items = [NewInvitation(Invitation(message_id=f"m-{n}", email=EMAIL, name=NAME, ref=f"R-{n}"))
             for n in range(count)]
    store.outbox.add(items, domain="example.com", now=utcnow())
    return [store.reports.find(message_id=f"m-{n}").id for n in range(count)]


@pytest.mark.timeout(60)
def test_two_workers_with_a_short_lease_deliver_a_slow_callback_once(store, database_url):
    """LEASE=1s, and the callback answers after 3 s (within CALLBACK_TIMEOUT=10s): without the lease kept alive
    during the send, the second worker takes the invitation after 1 s and delivers it again."""
    env = {"LEASE": "1s", "CALLBACK_TIMEOUT": "10s"}
    [row_id] = _stored(store, 1)
    with hostile_server(after(3.0)) as server:
        stores = [Store(database_url, data_key=DATA_KEY_BYTES) for _ in range(2)]  # each worker its own engine
        workers = [worker_for(own, _settings(database_url, server.url, **env), _sender(database_url, server.url, **env))
                   for own in stores]
        finish = time.monotonic() + 4.0

        def work(worker):
            while time.monotonic() < finish:
                if worker.run_batch().handled == 0:
                    time.sleep(0.05)

        threads = [threading.Thread(target=work, args=(worker,)) for worker in workers]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        for worker, own in zip(workers, stores, strict=True):
            worker.close()
            worker.sender.close()
            own.close()
    assert len(server.requests) == 1, f"delivered {len(server.requests)} times"
    row = store.reports.get(row_id)
    assert (row.state, row.attempts) == (SENT, 1)
