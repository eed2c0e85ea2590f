"""The senders as an operator uses them: ``receiver replay`` + ``receiver worker --once``, and ``receiver send-test``."""

import base64
import logging
import re

import pytest
from click.testing import CliRunner
from standardwebhooks.webhooks import Webhook

from receiver import bgl
from receiver.cli import main
from receiver.unsubscribe import UnsubscribeTokens
from support.data import AUTH_KEY, DATA_KEY_BYTES, ENCRYPT_KEY, FIXTURES, base_env
from support.net import free_port
from support.servers import callback_server, html_links_and_text, smtp_server

KEYS = bgl.Keys.from_base64(ENCRYPT_KEY, AUTH_KEY)
SECRET = "whsec_" + base64.b64encode(b"cli tests secret, 32 bytes long!").decode()
ORDERS = [str(FIXTURES / "order-completed-seed.json"), str(FIXTURES / "order-completed-non-ascii-name.json")]
SEED = {"email": "test@example.com", "name": "John Johnson", "ref": "50314b8e9bcf000000000000",
        "skus": ["45790-32", "46493-32"]}
GERMAN = {"email": "jurgen@example.de", "name": "Jürgen Müller", "ref": "DE-1001", "skus": ["BIER-KRUG-1"]}
SENT_TEST = re.compile(r"^sent a test invitation to o\*\*\*s@example\.com with the (\w+) sender "
                       r"\(id (\d+), ref (TEST-\d+)\)$")


def run(args, env):
    return CliRunner().invoke(main, args, env=env, catch_exceptions=False)


def smtp_env(sqlite_url, port, **extra):
    return base_env(DATABASE_URL=sqlite_url, SENDER="smtp", SMTP_URL=f"smtp://127.0.0.1:{port}",
                    MAIL_FROM="Bücherwelt <reviews@example.com>", **extra)


def http_env(sqlite_url, url, **extra):
    return base_env(DATABASE_URL=sqlite_url, SENDER="http", CALLBACK_URL=url, CALLBACK_SECRET=SECRET, **extra)


def assert_private(*texts):
    joined = "\n".join(texts)
    for secret in ("test@example.com", "jurgen@example.de", "ops@example.com", "Jürgen", "Johnson", "Mustermann"):
        assert secret not in joined


def test_worker_once_delivers_stored_orders_by_smtp(sqlite_url, caplog):
    with smtp_server() as (mailbox, port), caplog.at_level(logging.INFO, logger="receiver"):
        env = smtp_env(sqlite_url, port)
        replayed = run(["replay", *ORDERS], env)
        assert replayed.exit_code == 0 and replayed.output.endswith("summary: 2 accepted\n")
        worker = run(["worker", "--once"], env)
    assert worker.exit_code == 0, worker.output
    assert worker.stdout == "sent 2, retrying 0, dead 0, expired 0\n"
    by_recipient = {r.rcpt_tos[0]: r.message for r in mailbox.received}
    assert sorted(by_recipient) == ["jurgen@example.de", "test@example.com"]
    german = by_recipient["jurgen@example.de"]
    assert german["Subject"] == "Wie zufrieden sind Sie mit Ihrer Bestellung bei Bücherwelt?"
    assert by_recipient["test@example.com"]["Subject"] == "How was your order from Bücherwelt?"  # en-US
    hrefs, _ = html_links_and_text(german.get_body(("html",)).get_content())
    assert bgl.decode(hrefs[0], KEYS) == GERMAN
    assert mailbox.connections == 1
    assert_private(worker.output, caplog.text)


def test_worker_once_delivers_stored_orders_by_http_callback(sqlite_url, caplog):
    with callback_server() as callback, caplog.at_level(logging.INFO, logger="receiver"):
        env = http_env(sqlite_url, callback.url, PUBLIC_URL="https://reviews.example.com")
        assert run(["replay", *ORDERS], env).exit_code == 0
        worker = run(["worker", "--once"], env)
    assert worker.exit_code == 0 and worker.stdout == "sent 2, retrying 0, dead 0, expired 0\n"
    bodies = {r.headers["webhook-id"]: Webhook(SECRET).verify(r.body, r.headers) for r in callback.requests}
    assert sorted(bodies) == ["1", "2"]
    assert [bgl.decode(bodies[key]["data"].pop("link"), KEYS) for key in ("1", "2")] == [SEED, GERMAN]
    for key in ("1", "2"):  # the worker's own unsubscribe link of each invitation
        base, _, token = bodies[key]["data"].pop("unsubscribe_url").rpartition("/")
        assert base == "https://reviews.example.com/unsubscribe"
        assert UnsubscribeTokens(DATA_KEY_BYTES).read(token).invitation_id == int(key)
    assert bodies["2"]["data"] == {"id": "2", "email": "jurgen@example.de", "name": "Jürgen Müller", "ref": "DE-1001",
                                   "skus": ["BIER-KRUG-1"], "tags": [], "locale": "de-DE",
                                   "message_id": "ajs-next-2a9d3e4f5b6c7d8e9f0a1b2c3d4e5f62"}
    assert_private(worker.output, caplog.text)


def test_worker_once_records_failures_and_says_so(sqlite_url):
    with callback_server() as callback:
        callback.replies += [(503, {"Retry-After": "60"}), (410, {})]
        env = http_env(sqlite_url, callback.url)
        run(["replay", *ORDERS], env)
        worker = run(["worker", "--once"], env)
    assert worker.exit_code == 0 and worker.stdout == "sent 0, retrying 1, dead 1, expired 0\n"


def test_send_test_by_smtp_sends_a_sample_in_the_asked_language(sqlite_url):
    with smtp_server() as (mailbox, port):
        result = run(["send-test", "--to", "ops@example.com", "--locale", "de-DE"], smtp_env(sqlite_url, port))
    assert result.exit_code == 0, result.output
    first, second = result.output.splitlines()
    sender, stamp, ref = SENT_TEST.match(first).groups()
    assert sender == "smtp" and ref == f"TEST-{stamp}"
    link = second.removeprefix("link: ")
    assert bgl.decode(link, KEYS) == {"email": "ops@example.com", "name": "Erika Mustermann", "ref": ref,
                                      "skus": ["SAMPLE-SKU-1"]}
    [received] = mailbox.received
    assert received.rcpt_tos == ["ops@example.com"]
    assert received.message["Subject"] == "Wie zufrieden sind Sie mit Ihrer Bestellung bei Bücherwelt?"
    assert f"Ihre Bestellung {ref} bei Bücherwelt" in received.message.get_body(("plain",)).get_content()
    assert_private(result.output)


def test_send_test_by_http_posts_a_signed_sample(sqlite_url):
    with callback_server() as callback:
        result = run(["send-test", "--to", "ops@example.com", "--name", "Ops Team"], http_env(sqlite_url, callback.url))
    assert result.exit_code == 0, result.output
    sender, stamp, ref = SENT_TEST.match(result.output.splitlines()[0]).groups()
    [request] = callback.requests
    data = Webhook(SECRET).verify(request.body, request.headers)["data"]
    assert request.headers["webhook-id"] == data["id"] == stamp and sender == "http"
    assert (data["email"], data["name"], data["ref"], data["locale"]) == ("ops@example.com", "Ops Team", ref, None)
    assert data["message_id"].startswith("send-test-")
    assert bgl.decode(data["link"], KEYS)["email"] == "ops@example.com"


@pytest.mark.parametrize(("kind", "expected"), [("smtp", "permanent"), ("http", "transient: worth retrying")])
def test_send_test_failures_are_explained_masked_and_exit_1(sqlite_url, kind, expected):
    if kind == "smtp":
        with smtp_server() as (mailbox, port):
            mailbox.rcpt_replies.append("550 5.1.1 <ops@example.com>: no such user")
            result = CliRunner().invoke(main, ["send-test", "--to", "ops@example.com"], env=smtp_env(sqlite_url, port))
        reason = "the SMTP server refused the recipient: 550 5.1.1 (permanent negative completion: addressing status)"
    else:
        with callback_server() as callback:
            callback.replies.append((503, {}))
            result = CliRunner().invoke(main, ["send-test", "--to", "ops@example.com"],
                                        env=http_env(sqlite_url, callback.url))
        reason = f"the callback {callback.url} answered 503 Service Unavailable"
    assert result.exit_code == 1
    assert result.output == f"send-test failed with the {kind} sender for o***s@example.com ({expected}): {reason}\n"


def test_send_test_with_the_log_sender_and_a_bad_address(sqlite_url):
    ok = run(["send-test", "--to", "ops@example.com"], base_env(DATABASE_URL=sqlite_url))
    assert ok.exit_code == 0 and "o***s@example.com" in ok.output and "with the log sender" in ok.output
    bad = CliRunner().invoke(main, ["send-test", "--to", "not-an-address"], env=base_env(DATABASE_URL=sqlite_url))
    assert bad.exit_code == 2 and bad.output == "error: --to: Invalid email address\n"


@pytest.mark.parametrize("command", [["worker", "--once"], ["send-test", "--to", "ops@example.com"]])
def test_each_sender_setting_problem_is_its_own_configuration_error_line(sqlite_url, command):
    env = base_env(DATABASE_URL=sqlite_url, SENDER="smtp", SMTP_URL="smtp://user:hunter2@mail.example.com?tls=1")
    result = CliRunner().invoke(main, command, env=env)
    assert result.exit_code == 2
    assert result.output.splitlines() == [
        "configuration error: SMTP_URL: unknown option 'tls' (known: starttls, verify)",
        "configuration error: MAIL_FROM is not set (the sender, e.g. Shop <reviews@example.com>)",
    ]
    env = base_env(DATABASE_URL=sqlite_url, SENDER="http", CALLBACK_URL=f"http://127.0.0.1:{free_port()}/h",
                   CALLBACK_SECRET="whsec_" + base64.b64encode(b"too short").decode())
    result = CliRunner().invoke(main, command, env=env)
    assert result.exit_code == 2
    assert result.output == "configuration error: CALLBACK_SECRET must decode to at least 24 bytes, not 9\n"
    assert "hunter2" not in result.output
