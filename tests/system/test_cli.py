"""The receiver command, as a user runs it: real processes, real HTTP, real SQLite."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import requests
from click.testing import CliRunner

from receiver import bgl
from receiver.cli import main
from support.data import AUTH_KEY, ENCRYPT_KEY, FIXTURES, base_env, basic_auth, fixture
from support.net import free_port
from support.wait import wait_for_server

KEYS = bgl.Keys.from_base64(ENCRYPT_KEY, AUTH_KEY)
LINK = re.compile(r"https://[a-z-]+\.trustpilot\.com/evaluate-bgl/\S+")  # the host follows the locale


def run(args, env, **kw):
    return CliRunner().invoke(main, args, env=env, catch_exceptions=False, **kw)


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
    assert missing.status_code == 400 and missing.json() == {"status": "rejected",
                                                             "message": "Missing email address",
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
    assert "order-completed-missing-email.json  400 rejected  Missing email address" in result.output
    assert result.output.endswith("summary: 10 accepted, 6 ignored, 4 rejected, 1 unsupported\n")
    again = run(["replay", "--url", f"{base}/segment", str(FIXTURES / "order-completed-seed.json")], given)
    assert "order-completed-seed.json  200 duplicate" in again.output and again.output.endswith("1 duplicate\n")
    worker = subprocess.run([sys.executable, "-m", "receiver", "worker", "--once"], env=env, cwd=tmp_path,
                            capture_output=True, text=True, timeout=60)
    assert "sent 10, retrying 0, dead 0" in worker.stdout
