"""The receiver command, as a user runs it: real processes, real HTTP, real SQLite."""

import json
import os
import re
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import requests
from click.testing import CliRunner

from receiver import bgl
from receiver.cli import main
from support.data import AUTH_KEY, DATA_KEY_BYTES, ENCRYPT_KEY, FIXTURES, base_env, basic_auth, fixture
from support.net import free_port
from support.wait import wait_for_server

KEYS = bgl.Keys.from_base64(ENCRYPT_KEY, AUTH_KEY)
LINK = re.compile(r"https://[a-z-]+\.trustpilot\.com/evaluate-bgl/\S+")  # the host follows the locale


def run(args, env, **kw):
    return CliRunner().invoke(main, args, env=env, catch_exceptions=False, **kw)


def test_link_then_decode_round_trip(sqlite_url):
    env = base_env(DATABASE_URL=sqlite_url)
    made = run(["link", "--email", "jane@example.com", "--name", "Jane Roe", "--ref", "A-1",
                "--sku", "S1", "--sku", "S2", "--tag", "vip customer"], env)
    assert made.exit_code == 0
    link = made.output.strip()
    assert LINK.fullmatch(link)
    decoded = run(["decode", link], env)
    assert decoded.exit_code == 0
    assert json.loads(decoded.output) == {"email": "jane@example.com", "name": "Jane Roe", "ref": "A-1",
                                          "skus": ["S1", "S2"], "tags": ["vip_customer"]}


def test_decode_refuses_a_tampered_link_without_a_traceback(sqlite_url):
    env = base_env()
    link = run(["link", "--email", "a@b.co", "--name", "A", "--ref", "1"], env).output.strip()
    tampered = link[:-6] + ("A" if link[-6] != "A" else "B") + link[-5:]
    result = CliRunner().invoke(main, ["decode", tampered], env=env)
    assert result.exit_code == 1
    assert "error:" in result.output and "Traceback" not in result.output


def test_configuration_errors_are_one_line_each_and_exit_2():
    env = {"TRUSTPILOT_DOMAIN": "https://example.com/", "TRUSTPILOT_ENCRYPT_KEY": "nope!",
           "TRUSTPILOT_AUTH_KEY": "", "SEGMENT_API_KEYS": "", "MAX_ATTEMPTS": "many", "DATABASE_URL": ""}
    result = CliRunner().invoke(main, ["serve"], env=env)
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert lines == [
        "configuration error: TRUSTPILOT_DOMAIN must be a bare domain such as example.com (no scheme, no path)",
        "configuration error: TRUSTPILOT_ENCRYPT_KEY is not valid base64",
        "configuration error: TRUSTPILOT_AUTH_KEY is not set",
        "configuration error: No way to authenticate Segment is set: SEGMENT_API_KEYS, SEGMENT_SHARED_SECRETS or "
        "SEGMENT_BEARER_TOKENS (or ALLOW_UNAUTHENTICATED=true to accept anyone)",
        "configuration error: DATA_KEY is not set (it keys the address keys of erasure and suppression; make one "
        "with: openssl rand -base64 32)",
        "configuration error: MAX_ATTEMPTS must be a whole number, not 'many'",
    ]


def test_an_unknown_sender_is_a_configuration_error(sqlite_url):
    result = CliRunner().invoke(main, ["worker", "--once"], env=base_env(DATABASE_URL=sqlite_url, SENDER="pigeon"))
    assert result.exit_code == 2
    assert "SENDER='pigeon' is not a known sender" in result.output


SUMMARY = "summary: 10 accepted, 7 ignored, 2 rejected, 2 waiting"


def test_replay_in_process_prints_a_line_per_event_and_a_summary(sqlite_url):
    result = run(["replay", str(FIXTURES)], base_env(DATABASE_URL=sqlite_url))
    assert result.exit_code == 0
    lines = result.output.strip().splitlines()
    corpus = FIXTURES / "real-world"
    files = [p for p in FIXTURES.rglob("*") if p.name.endswith((".json", ".json.gz")) and corpus not in p.parents]
    assert len(files) == 16 and len(lines) == len(files) + 1  # folders are walked, gzip bodies included
    assert not any("real-world" in line for line in lines)  # a corpus with its own MANIFEST.json: named, not walked
    assert any("order-completed-seed.json  200 accepted" in line for line in lines)
    assert any("order-completed-missing-email.json  200 waiting  Waiting up to 15m" in line for line in lines)
    assert any("order-completed-missing-order-id.json  400 rejected  Missing order_id" in line for line in lines)
    assert any("page.json  200 ignored  Ignored: page calls make no invitation" in line for line in lines)
    assert any("dialects/order-completed-gzip.json.gz  200 accepted" in line for line in lines)
    assert any("dialects/actions-batch.json  200 batch  2 accepted, 1 waiting, 1 ignored" in line for line in lines)
    assert any("dialects/v1-batch.json  200 batch  1 accepted, 2 ignored" in line for line in lines)
    assert lines[-1] == SUMMARY
    again = run(["replay", str(FIXTURES / "order-completed-seed.json")], base_env(DATABASE_URL=sqlite_url))
    assert "200 duplicate" in again.output


def test_replay_of_the_corpus_folder_named_replays_its_messages_but_not_its_manifest(sqlite_url):
    corpus = FIXTURES / "real-world"
    result = run(["replay", str(corpus)], base_env(DATABASE_URL=sqlite_url, SEGMENT_SHARED_SECRETS="s"))
    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    messages = sorted(path.name for path in corpus.glob("*.json") if path.name != "MANIFEST.json")
    assert len(messages) == 72 and [line.split("  ")[0].rsplit("/", 1)[-1] for line in lines[:-1]] == messages
    assert "MANIFEST.json" not in result.output and "README" not in result.output


def test_replay_demo_shows_the_whole_path(tmp_path):
    env = {"DATABASE_URL": "", "SEGMENT_API_KEYS": "", "TRUSTPILOT_DOMAIN": ""}
    result = CliRunner().invoke(main, ["replay", "--demo", str(FIXTURES)], env=env)
    assert result.exit_code == 0, result.output
    assert "DEMO MODE" in result.output
    links = LINK.findall(result.output)
    assert len(links) == 10
    from receiver.config import demo_keys
    decoded = [bgl.decode(link, demo_keys()) for link in links]
    assert {"email": "test@example.com", "name": "John Johnson", "ref": "50314b8e9bcf000000000000",
            "skus": ["45790-32", "46493-32"]} in decoded
    assert any(link.startswith("https://de.trustpilot.com/") for link in links)  # the de-DE order
    assert "test@example.com" not in result.output  # the log sender masks the recipient
    assert "t***@example.com" in result.output


@pytest.fixture
def served(tmp_path):
    """``receiver serve`` under gunicorn, as the Procfile runs it, on a real port."""
    port = free_port()
    env = {**os.environ, **base_env(DATABASE_URL=f"sqlite:///{tmp_path / 'r.db'}", PORT=str(port),
                                    WEB_CONCURRENCY="2")}
    with open(tmp_path / "serve.log", "w") as log:  # a file, not a pipe nobody reads that could fill up
        process = subprocess.Popen([sys.executable, "-m", "receiver", "serve", "--host", "127.0.0.1"], env=env,
                                   stdout=log, stderr=subprocess.STDOUT, cwd=tmp_path)
    try:
        wait_for_server(f"http://127.0.0.1:{port}/healthz", process=process)
        yield f"http://127.0.0.1:{port}", env
    finally:
        process.terminate()
        process.wait(30)


def test_end_to_end_over_real_http_then_worker_once(served, tmp_path):
    base, env = served
    seed = fixture("order-completed-seed.json")
    response = requests.post(f"{base}/segment", json=seed, headers=basic_auth(), timeout=5)
    assert response.status_code == 200 and response.json()["status"] == "accepted"
    again = requests.post(f"{base}/segment", json=seed, headers=basic_auth(), timeout=5)
    assert again.json()["duplicate"] is True
    missing = requests.post(f"{base}/segment", json=fixture("order-completed-missing-email.json"),
                            headers=basic_auth(), timeout=5)
    assert missing.status_code == 200 and missing.json() == {  # an anonymousId: it waits for an identify call
        "status": "waiting", "message": "Waiting up to 15m for the customer's email from an identify call",
        "messageId": "ajs-next-5d6e6f7a8b9c0d1e2f3a4b5c6d7e8f95"}

    worker = subprocess.run([sys.executable, "-m", "receiver", "worker", "--once"], env=env, cwd=tmp_path,
                            capture_output=True, text=True, timeout=60)
    assert worker.returncode == 0, worker.stderr
    [link] = LINK.findall(worker.stdout)
    assert bgl.decode(link, KEYS) == {"email": "test@example.com", "name": "John Johnson",
                                      "ref": "50314b8e9bcf000000000000", "skus": ["45790-32", "46493-32"]}
    assert "t***@example.com" in worker.stdout and "test@example.com" not in worker.stdout + worker.stderr
    assert "sent 1, retrying 0, dead 0" in worker.stdout
    second = subprocess.run([sys.executable, "-m", "receiver", "worker", "--once"], env=env, cwd=tmp_path,
                            capture_output=True, text=True, timeout=60)
    assert "sent 0," in second.stdout and not LINK.findall(second.stdout)


def test_python_dash_m_and_the_console_script_are_the_same_command():
    result = subprocess.run([sys.executable, "-m", "receiver", "--help"], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0 and "replay" in result.stdout
    assert Path(sys.executable).with_name("receiver").exists()


def test_replay_url_posts_the_fixtures_to_a_running_receiver(served, tmp_path):
    base, env = served
    given = {"SEGMENT_API_KEYS": env["SEGMENT_API_KEYS"]}  # the receiver's key, nothing else of its set-up
    result = run(["replay", "--url", base, str(FIXTURES)], given)  # the bare address: /segment is implied
    assert "order-completed-seed.json  200 accepted  Invitation stored" in result.output
    assert "order-completed-gzip.json.gz  200 accepted" in result.output
    assert "order-completed-missing-email.json  200 waiting  Waiting up to 15m" in result.output
    assert result.output.endswith(SUMMARY + "\n")
    again = run(["replay", "--url", f"{base}/segment", str(FIXTURES / "order-completed-seed.json")], given)
    assert "order-completed-seed.json  200 duplicate" in again.output and again.output.endswith("1 duplicate\n")
    worker = subprocess.run([sys.executable, "-m", "receiver", "worker", "--once"], env=env, cwd=tmp_path,
                            capture_output=True, text=True, timeout=60)
    assert "sent 10, retrying 0, dead 0" in worker.stdout


@pytest.mark.parametrize("credential", [{"SEGMENT_SHARED_SECRETS": "replay-secret"},
                                        {"SEGMENT_BEARER_TOKENS": "replay-token"}])
def test_replay_url_authenticates_the_way_the_receiver_is_configured(credential, sqlite_url):
    from werkzeug.serving import make_server

    from receiver.config import load_settings
    from receiver.store import Store
    from receiver.web import create_app

    settings = load_settings(base_env(DATABASE_URL=sqlite_url, SEGMENT_API_KEYS="", **credential), intake=True)
    store = Store(sqlite_url, data_key=DATA_KEY_BYTES)
    store.upgrade()
    server = make_server("127.0.0.1", 0, create_app(settings, store=store), threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    try:
        result = run(["replay", "--url", f"http://127.0.0.1:{server.server_port}/",
                      str(FIXTURES / "order-completed-seed.json"),
                      str(FIXTURES / "dialects" / "order-completed-gzip.json.gz")], credential)
    finally:
        server.shutdown()
        thread.join(5)
    assert result.output.endswith("summary: 2 accepted\n"), result.output


def test_replay_url_without_any_credential_says_what_it_needs():
    result = CliRunner().invoke(main, ["replay", "--url", "http://127.0.0.1:9", str(FIXTURES)], env={
        "SEGMENT_API_KEYS": "", "SEGMENT_SHARED_SECRETS": "", "SEGMENT_BEARER_TOKENS": ""})
    assert result.exit_code == 2
    assert "replay --url needs --api-key, or one of SEGMENT_API_KEYS" in result.output


def test_replay_url_names_an_unreachable_receiver_and_fails():
    port = free_port()  # nothing listens there
    result = CliRunner().invoke(main, ["replay", "--url", f"http://127.0.0.1:{port}",
                                       str(FIXTURES / "order-completed-seed.json")], env={"SEGMENT_API_KEYS": "k"})
    assert result.exit_code == 1
    assert f"cannot reach http://127.0.0.1:{port}" in result.output
