"""Production behaviour: metrics across gunicorn workers, nothing personal in any log, errors, configuration."""

import json
import os
import re
import signal
import subprocess
import sys

import requests
from click.testing import CliRunner
from prometheus_client.parser import text_string_to_metric_families

from receiver import bgl
from receiver.cli import main
from receiver.config import load_settings
from receiver.store import Store
from receiver.web import create_app
from support.data import AUTH_KEY, ENCRYPT_KEY, FIXTURES, base_env, basic_auth, fixture
from support.logs import Captured
from support.net import free_port
from support.wait import wait_for_server

# an invitation link as the log sender prints it; its p= is ciphertext in base64, random on every run
LINK = re.compile(r"https://[a-z-]+\.trustpilot\.com/evaluate-bgl/[^\s\"?]+\?p=[A-Za-z0-9%+/=_-]+")
KEYS = bgl.Keys.from_base64(ENCRYPT_KEY, AUTH_KEY)


def without_links(output):
    """``output`` with each invitation link, which must decode with the keys, replaced by one opaque word.

    Random base64 holds any three letters now and then ("Sam", "Kim", "Mug"): matched there, a name is noise,
    and a link that decodes carries nothing readable.
    """
    def opaque(match):
        bgl.decode(match.group(0), KEYS)  # a real link: anything else that looks like one stays in the text
        return "<link>"

    return LINK.sub(opaque, output)


def mentions(text, value):
    """Whether ``value`` stands in ``text`` as whole words (not inside a longer word)."""
    return re.search(rf"(?<!\w){re.escape(value)}(?!\w)", text) is not None


def totals(text):
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            key = (sample.name, tuple(sorted(sample.labels.items())))
            found[key] = found.get(key, 0) + sample.value
    return found


def test_metrics_add_up_across_two_gunicorn_workers(tmp_path):
    port = free_port()
    env = {**os.environ, **base_env(DATABASE_URL=f"sqlite:///{tmp_path / 'r.db'}", WEB_CONCURRENCY="2")}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    server = subprocess.Popen([sys.executable, "-m", "receiver", "serve", "--host", "127.0.0.1", "--port", str(port)],
                              env=env, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for_server(f"{base}/healthz", process=server)
        seed = fixture("order-completed-seed.json")
        for i in range(30):  # a fresh connection each time, so both workers take some
            body = dict(seed, messageId=f"m-{i}", properties=dict(seed["properties"], order_id=f"O-{i}"))
            assert requests.post(f"{base}/segment", json=body, headers={**basic_auth(), "Connection": "close"},
                                 timeout=5).status_code == 200
        for _ in range(7):
            requests.post(f"{base}/segment", json=fixture("order-completed-missing-email.json"),
                          headers={**basic_auth(), "Connection": "close"}, timeout=5)
        for _ in range(5):
            requests.post(f"{base}/segment", json=seed, headers={"Connection": "close"}, timeout=5)
        for _ in range(6):
            text = requests.get(f"{base}/metrics", headers={"Connection": "close"}, timeout=5).text
            found = totals(text)
            assert found[("receiver_messages_total", (("outcome", "accepted"), ("type", "track")))] == 30
            assert found[("receiver_messages_total", (("outcome", "rejected"), ("type", "track")))] == 7
            assert found[("receiver_rejections_total", (("reason", "Missing email address"),))] == 7
            assert found[("receiver_unauthorised_requests_total", ())] == 5
            assert found[("receiver_invitations", (("state", "pending"),))] == 30
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(30)


def test_nothing_personal_reaches_any_log_or_output(tmp_path):
    """The whole path, at DEBUG, JSON and text: no address, no name, no key anywhere."""
    personal = set()
    for path in FIXTURES.rglob("*.json"):
        text = path.read_text()
        for key in ("email", "name", "surname", "first_name", "last_name", "firstName", "lastName"):
            for match in re.finditer(rf'"{key}":\s*"([^"]+)"', text):
                if len(match.group(1)) > 2:
                    personal.add(match.group(1))
    assert "test@example.com" in personal and "Johnson" in personal
    outputs = []
    for fmt in ("json", "text"):
        env = base_env(DATABASE_URL=f"sqlite:///{tmp_path / f'{fmt}.db'}", LOG_LEVEL="DEBUG", LOG_FORMAT=fmt,
                       SENDER="smtp", SMTP_URL=f"smtp://127.0.0.1:{free_port()}", MAIL_FROM="Shop <shop@example.org>")
        replayed = CliRunner().invoke(main, ["replay", str(FIXTURES)], env=env)
        failing = CliRunner().invoke(main, ["worker", "--once"], env=env)  # nobody listens: every send fails
        assert "retrying 10" in failing.output, failing.output
        working = {**env, "SENDER": "log"}
        runs = [replayed, failing, *(CliRunner().invoke(main, command, env=working) for command in (
            ["status"], ["retry"], ["worker", "--once"], ["forget", "test@example.com"], ["purge"], ["config"]))]
        assert "sent 10," in runs[4].output
        assert ('"logger": "receiver.worker"' if fmt == "json" else "INFO receiver.worker") in runs[4].output
        outputs += [run.output for run in runs]
    everything = without_links("\n".join(outputs))
    assert everything.count("<link>") == 20  # each run of the log sender printed its 10 links
    assert sorted(value for value in personal if mentions(everything, value)) == []
    for secret in (ENCRYPT_KEY, AUTH_KEY, "test-api-key"):
        assert secret not in everything


def test_an_unexpected_error_is_a_json_500_logged_once_with_a_masked_traceback(sqlite_url):
    def broken_add(rows, **kw):
        raise RuntimeError(f"exploded while storing {rows[0].invitation.email}")

    settings = load_settings(base_env(DATABASE_URL=sqlite_url))
    store = Store(sqlite_url)
    store.upgrade()
    store.outbox.add = broken_add
    client = create_app(settings, store=store).test_client()
    with Captured() as captured:
        response = client.post("/segment", json=fixture("order-completed-seed.json"), headers=basic_auth())
    assert response.status_code == 500
    assert response.get_json() == {"message": "Internal error"}
    [line] = [line for line in captured.lines if line["level"] == "error"]
    assert "RuntimeError" in line["traceback"] and "t***@example.com" in line["traceback"]
    assert "test@example.com" not in json.dumps(line)


def test_no_flask_html_error_pages(client):
    for response in (client.get("/nowhere"), client.put("/segment"), client.get("/v1/batch")):
        assert response.content_type == "application/json" and response.get_json()["message"]


def test_receiver_config_masks_every_secret(tmp_path):
    env = base_env(DATABASE_URL="postgres://app:s3cret-pw@db.example.com:5432/receiver", SENDER="http",
                   CALLBACK_SECRET="whsec_c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0", SMTP_URL="smtp://u:p4ss@mail:587")
    result = CliRunner().invoke(main, ["config"], env=env)
    lines = dict(line.split("=", 1) for line in result.output.splitlines() if "=" in line and line[0].isupper())
    assert lines["DATABASE_URL"] == "postgres://app:***@db.example.com:5432/receiver"
    assert lines["TRUSTPILOT_ENCRYPT_KEY"] == "*** (set)" and lines["SEGMENT_API_KEYS"] == "*** (2 set)"
    assert lines["CALLBACK_SECRET"] == "*** (set)" and lines["SMTP_URL"] == "smtp://u:***@mail:587"
    assert lines["RETENTION"] == "30d (default)" and lines["TRUSTPILOT_DOMAIN"] == "example.com"
    for secret in ("s3cret-pw", "p4ss", ENCRYPT_KEY, AUTH_KEY, "test-api-key", "c2VjcmV0"):
        assert secret not in result.output
    assert result.exit_code == 0


def test_receiver_config_lists_problems_and_exits_2():
    result = CliRunner().invoke(main, ["config"], env={**base_env(), "RETENTION": "forever", "MAX_BODY": "lots"})
    assert result.exit_code == 2
    assert "configuration error: RETENTION: 'forever' is not a duration such as 30s, 15m, 12h or 3d" in result.output
    assert "configuration error: MAX_BODY: 'lots' is not a size such as 512KB or 16MB" in result.output
