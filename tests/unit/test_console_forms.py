"""What the console's forms and query strings say (``receiver.console.forms``): plain values in, a value or a
``Problem`` out, without a request."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from receiver.console.forms import MAX_PREVIEW, InvitationsQuery, Problem, invitations_query, preview_input, safe_next

STATES = ("pending", "dead")


def never_read(name: str) -> str:
    raise AssertionError(f"read {name}")


@pytest.mark.parametrize(("args", "expected"), [
    ({}, InvitationsQuery(None, 1)), ({"state": "", "page": "3"}, InvitationsQuery(None, 3)),
    ({"state": "dead"}, InvitationsQuery("dead", 1)),
    ({"state": "lost" * 10}, Problem(400, "Unknown state: one of pending, dead.")),  # not repeated
    ({"page": "0"}, Problem(400, "page must be a whole number from 1.")),
    ({"page": "1000001"}, Problem(400, "page must be a whole number from 1.")),
    ({"page": "x"}, Problem(400, "page must be a whole number from 1.")),
    ({"since": "2026-11-20", "until": "2026-11-21"},
     InvitationsQuery(since=date(2026, 11, 20), until=date(2026, 11, 21))),
    ({"since": "20.11.2026"}, Problem(400, "since must be a date as YYYY-MM-DD (UTC).")),
    ({"until": "2026-02-30"}, Problem(400, "until must be a date as YYYY-MM-DD (UTC).")),
    ({"since": "2026-11-21", "until": "2026-11-20"}, Problem(400, "since must not be after until.")),
    ({"q": "  A-1001 "}, InvitationsQuery(search="A-1001")),
    ({"q": "Jane.Doe@BÜCHER.de"}, InvitationsQuery(search="Jane.Doe@BÜCHER.de", address="jane.doe@xn--bcher-kva.de")),
    ({"q": "jane@"}, Problem(400, "The search has an @ but is not an email address: search by an exact address, an "
                                  "order ref or a messageId.")),
    ({"q": "x" * 321}, Problem(400, "The search is longer than 320 characters.")),
])
def test_invitations_query(args, expected):
    assert invitations_query(args, STATES) == expected


def test_a_query_reads_its_dates_as_whole_utc_days_and_repeats_itself_in_links():
    query = invitations_query({"q": "m-1", "state": "dead", "since": "2026-11-20", "until": "2026-11-20",
                               "page": "2"}, STATES)
    assert query.since_time == datetime(2026, 11, 20, tzinfo=UTC)
    assert query.until_time == datetime(2026, 11, 21, tzinfo=UTC)  # the whole of until's day
    assert (query.ref_or_message_id, query.address, query.filtered) == ("m-1", None, True)
    assert query.args(page=3) == {"q": "m-1", "state": "dead", "since": "2026-11-20", "until": "2026-11-20",
                                  "page": "3"}
    assert query.args(page="") == {"q": "m-1", "state": "dead", "since": "2026-11-20", "until": "2026-11-20"}
    assert InvitationsQuery().args() == {} and not InvitationsQuery().filtered
    assert invitations_query({"q": "a@example.com"}, STATES).ref_or_message_id is None


@pytest.mark.parametrize(("target", "expected"), [
    ("/console/invitations?state=dead", "/console/invitations?state=dead"), ("//evil.example/console", None),
    ("https://evil.example/console", None), ("/segment", None), ("", None), (None, None),
])
def test_safe_next_stays_inside_the_console(target, expected):
    assert safe_next(target) == expected


def test_a_fixture_is_read_only_when_it_is_offered():
    given = preview_input({"fixture": "seed.json", "message": "ignored"}, ["seed.json"], lambda name: '{"a": 1}')
    assert (given.text, given.chosen, given.message, given.problem) == ('{"a": 1}', "seed.json", {"a": 1}, None)
    unknown = preview_input({"fixture": "../secrets.json", "message": "kept"}, ["seed.json"], never_read)
    assert (unknown.text, unknown.problem) == ("kept", Problem(400, "Unknown fixture."))


def test_a_message_too_long_is_413_and_not_shown_again():
    given = preview_input({"message": "x" * (MAX_PREVIEW + 1)}, [], never_read)
    assert (given.text, given.problem) == ("", Problem(413, "The message is longer than 256 KB."))


@pytest.mark.parametrize(("text", "message"), [
    ("{not json", "The message is not valid JSON (line 1, column 2)."),
    ('{"a": 1, "a": 2}', "The message names a key twice in one object; POST /segment refuses it (400)."),
    ("[" * 5000 + "]" * 5000, "The JSON is nested too deeply."),
    (" \n", "Paste a Segment message, or pick a fixture."),
])
def test_a_message_that_post_segment_would_refuse_is_a_400_and_shown_again(text, message):
    given = preview_input({"message": text}, [], never_read)
    assert (given.text, given.problem) == (text, Problem(400, message))
