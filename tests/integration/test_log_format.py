"""The log formatters themselves: no value can begin a line of its own, in either format."""

import json
import logging
import sys

from receiver import logs


def record(message, *args, exc=None, name="receiver.web"):
    return logging.LogRecord(name, logging.INFO, __file__, 1, message, args, exc)


def test_escape_writes_every_control_character_as_an_escape():
    assert logs.escape("a\nb\rc\td\x1b[31me\x00f\x7fg\x85h\u2028i\u2029j\u202ek\u2066l") == (
        "a\\nb\\rc\\td\\x1b[31me\\x00f\\x7fg\\x85h\\u2028i\\u2029j\\u202ek\\u2066l")
    assert logs.escape("plain Ünïcode ✓ and emoji 🙂") == "plain Ünïcode ✓ and emoji 🙂"


def test_a_text_line_is_one_line_whatever_its_values_and_its_traceback_is_indented():
    token = logs.message_id.set("m\n2026-01-01 00:00:00,000 INFO receiver: forged")
    try:
        raise ValueError("boom\n2026-01-01 00:00:00,000 INFO receiver: forged too")
    except ValueError:
        line = logs.TextFormatter().format(record("got %s", "x\ny", exc=sys.exc_info()))
    finally:
        logs.message_id.reset(token)
    first, *rest = line.split("\n")
    assert first.endswith("got x\\ny [message_id=m\\n2026-01-01 00:00:00,000 INFO receiver: forged]")
    assert rest and all(part.startswith("    | ") for part in rest)
    assert "    | 2026-01-01 00:00:00,000 INFO receiver: forged too" in rest


def test_a_json_line_escapes_what_json_dumps_leaves_raw():
    line = logs.JsonFormatter().format(record("a\u2028b\x85c\x1bd"))
    assert "\u2028" not in line and "\x85" not in line and "\x1b" not in line
    assert json.loads(line)["message"] == "a\u2028b\x85c\x1bd"
    assert len(line.splitlines()) == 1


def test_urllib3_lines_keep_the_site_and_lose_the_path():
    hide = logs.HidePaths()
    request = record('%s://%s:%s "%s %s %s" %s %s', "https", "hooks.example.com", 443, "POST",
                     "/catch/123/s3cret?token=abc", "HTTP/1.1", 200, 12, name="urllib3.connectionpool")
    redirect = record("Redirecting %s -> %s", "https://a.example/x?t=1", "/y/z", name="urllib3.connectionpool")
    ours = record("path %s", "/segment?x=1")
    for item in (request, redirect, ours):
        assert hide.filter(item)
    assert request.getMessage() == 'https://hooks.example.com:443 "POST /… HTTP/1.1" 200 12'
    assert redirect.getMessage() == "Redirecting https://a.example/… -> /…"
    assert ours.getMessage() == "path /segment?x=1"  # only urllib3's records are touched
