"""The receiver command in-process, where it needs no database and no network: link and decode, configuration
errors, replay's missing credential."""

import json
import re

from click.testing import CliRunner

from receiver.cli import main
from support.data import FIXTURES, base_env

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
        "configuration error: MAX_ATTEMPTS must be a whole number, not 'many'",
    ]


def test_an_unknown_sender_is_a_configuration_error(sqlite_url):
    result = CliRunner().invoke(main, ["worker", "--once"], env=base_env(DATABASE_URL=sqlite_url, SENDER="pigeon"))
    assert result.exit_code == 2
    assert "SENDER='pigeon' is not a known sender" in result.output


def test_replay_url_without_any_credential_says_what_it_needs():
    result = CliRunner().invoke(main, ["replay", "--url", "http://127.0.0.1:9", str(FIXTURES)], env={
        "SEGMENT_API_KEYS": "", "SEGMENT_SHARED_SECRETS": "", "SEGMENT_BEARER_TOKENS": ""})
    assert result.exit_code == 2
    assert "replay --url needs --api-key, or one of SEGMENT_API_KEYS" in result.output
