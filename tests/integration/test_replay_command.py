"""`receiver replay` in-process: the fixtures into a SQLite store, the demo, and to a live in-process receiver."""

import re
import threading

import pytest
from click.testing import CliRunner

from receiver import bgl
from receiver.cli import main
from support.data import FIXTURES, base_env
from support.net import free_port

LINK = re.compile(r"https://[a-z-]+\.trustpilot\.com/evaluate-bgl/\S+")  # the host follows the locale


def run(args, env, **kw):
    return CliRunner().invoke(main, args, env=env, catch_exceptions=False, **kw)


def test_replay_in_process_prints_a_line_per_event_and_a_summary(sqlite_url):
    result = run(["replay", str(FIXTURES)], base_env(DATABASE_URL=sqlite_url))
    assert result.exit_code == 0
    lines = result.output.strip().splitlines()
    files = [p for p in FIXTURES.rglob("*") if p.name.endswith((".json", ".json.gz"))]
    assert len(files) == 16 and len(lines) == len(files) + 1  # folders are walked, gzip bodies included
    assert any("order-completed-seed.json  200 accepted" in line for line in lines)
    assert any("order-completed-missing-email.json  400 rejected  Missing email address" in line for line in lines)
    assert any("page.json  501 unsupported" in line for line in lines)
    assert any("dialects/order-completed-gzip.json.gz  200 accepted" in line for line in lines)
    assert any("dialects/actions-batch.json  200 batch  2 accepted, 1 ignored, 1 rejected" in line for line in lines)
    assert any("dialects/v1-batch.json  200 batch  1 accepted, 2 ignored" in line for line in lines)
    assert lines[-1] == "summary: 10 accepted, 6 ignored, 4 rejected, 1 unsupported"
    again = run(["replay", str(FIXTURES / "order-completed-seed.json")], base_env(DATABASE_URL=sqlite_url))
    assert "200 duplicate" in again.output


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


@pytest.mark.parametrize("credential", [{"SEGMENT_SHARED_SECRETS": "replay-secret"},
                                        {"SEGMENT_BEARER_TOKENS": "replay-token"}])
def test_replay_url_authenticates_the_way_the_receiver_is_configured(credential, sqlite_url):
    from werkzeug.serving import make_server

    from receiver.config import load_settings
    from receiver.store import Store
    from receiver.web import create_app

    settings = load_settings(base_env(DATABASE_URL=sqlite_url, SEGMENT_API_KEYS="", **credential), intake=True)
    store = Store(sqlite_url)
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


def test_replay_url_names_an_unreachable_receiver_and_fails():
    port = free_port()  # nothing listens there
    result = CliRunner().invoke(main, ["replay", "--url", f"http://127.0.0.1:{port}",
                                       str(FIXTURES / "order-completed-seed.json")], env={"SEGMENT_API_KEYS": "k"})
    assert result.exit_code == 1
    assert f"cannot reach http://127.0.0.1:{port}" in result.output
