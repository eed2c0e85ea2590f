"""Issue 17, point 4, end to end: for a table of hostile addresses, each one intake accepts is mailed (SMTP
``RCPT TO``, captured by aiosmtpd) to exactly the address stored, and each one it refuses is refused at intake."""

import json

import pytest

from receiver.config import load_settings
from receiver.senders import load_sender
from receiver.web import create_app
from support.clock import FakeClock
from support.data import base_env, basic_auth
from support.servers import smtp_server
from support.workers import worker_for

# (what the order says, the address mailed, or None: refused at intake with 400 Invalid email address)
ADDRESSES = [
    ("jane@example.com", "jane@example.com"),
    ("Jane.Doe+shop@Example.COM", "Jane.Doe+shop@example.com"),
    ("jane@BÜCHER.de", "jane@xn--bcher-kva.de"),
    ("jürgen@bücher.de", "jürgen@xn--bcher-kva.de"),
    ("o'brien@example.ie", "o'brien@example.ie"),
    ("x@ＥＸＡＭＰＬＥ.com", "x@example.com"),
    ("root,jane@example.com", None),  # smtplib sent RCPT TO:<root>
    ("foo<bar@evil.example", None),  # ... and <bar@evil.example>
    ("jane@example.com>,<evil@evil.example", None),
    ("Jane <jane@example.com>", None),
    ('a"b@x.com', None),
    ('"root jane"@example.com', None),
    ("(c)a@x.com", None),
    ("a;b@x.com", None),
    ("a:b@x.com", None),
    ("a@[127.0.0.1]", None),
    ("a@exa\u2028mple.com", None),
    ("a@-x.com", None),
    ("a@xn--.com", None),
    ("a\r\nRCPT TO:<evil@evil.example>@x.com", None),
]


@pytest.mark.parametrize("given, mailed", ADDRESSES)
def test_the_address_stored_is_the_address_mailed(database_url, store, given, mailed):
    clock = FakeClock()
    with smtp_server() as (mailbox, port):
        env = base_env(DATABASE_URL=database_url, SENDER="smtp", SMTP_URL=f"smtp://127.0.0.1:{port}",
                       MAIL_FROM="reviews@example.com", SMTP_TIMEOUT="5s")
        settings = load_settings(env, intake=True)
        client = create_app(settings, store=store, clock=clock).test_client()
        order = {"type": "track", "event": "Order Completed", "messageId": "m-1",
                 "properties": {"order_id": "R-1", "email": given, "name": "Jane"}}
        response = client.post("/segment", data=json.dumps(order),
                               headers={**basic_auth(), "Content-Type": "application/json"})
        if mailed is None:
            assert (response.status_code, response.get_json()["message"]) == (400, "Invalid email address")
            assert store.reports.find(message_id="m-1") is None
            return
        assert response.status_code == 200
        stored = store.reports.find(message_id="m-1").email
        assert stored == mailed
        sender = load_sender("smtp", load_settings(env).environ)
        worker = worker_for(store, load_settings(env), sender, clock=clock, rand=lambda: 0.0)
        try:
            assert worker.run_batch().sent == 1
        finally:
            sender.close()
    [received] = mailbox.received
    assert received.rcpt_tos == [stored]
