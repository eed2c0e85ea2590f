"""The http sender's settings (CALLBACK_*) and its reading of Retry-After, without a server."""

import base64
import json
from datetime import UTC, datetime

import pytest

from receiver.config import ConfigError
from receiver.senders.http import retry_after_seconds, settings_from_environ

SECRET = "whsec_" + base64.b64encode(b"0123456789abcdef0123456789abcdef").decode()


def test_retry_after_parsing():
    now = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
    assert retry_after_seconds("120", now) == 120.0
    assert retry_after_seconds(" 0 ", now) == 0.0
    assert retry_after_seconds("Fri, 20 Nov 2026 12:01:30 GMT", now) == 90.0
    assert retry_after_seconds("Fri, 20 Nov 2026 11:00:00 GMT", now) == 0.0  # in the past: now
    assert retry_after_seconds("99999999", now) == 86400.0  # capped at a day
    assert [retry_after_seconds(v, now) for v in (None, "", "soon", "-5", "1.5")] == [None] * 5


def test_every_problem_is_reported_at_once_and_no_secret_is_repeated():
    with pytest.raises(ConfigError) as error:
        settings_from_environ({"CALLBACK_URL": "ftp://mailer.example.com", "CALLBACK_SECRET": "s3cret-value",
                               "CALLBACK_HEADERS": '{"X-Api-Key": 12345, "webhook-id": "x", "Bad Name": "v"}',
                               "CALLBACK_TIMEOUT": "forever"})
    assert error.value.problems == [
        "CALLBACK_URL must be an http:// or https:// URL with a host",
        "CALLBACK_SECRET must start with whsec_ (a Standard Webhooks secret: whsec_ followed by base64)",
        "CALLBACK_HEADERS: the value of X-Api-Key must be ASCII text on one line",
        "CALLBACK_HEADERS: webhook-id is set by the sender and cannot be overridden",
        "CALLBACK_HEADERS: 'Bad Name' is not a header name",
        "CALLBACK_TIMEOUT must be a duration such as 10s or 2m",
    ]
    assert "s3cret" not in str(error.value) and "12345" not in str(error.value)


@pytest.mark.parametrize(("env", "problem"), [
    ({}, "CALLBACK_URL is not set (e.g. https://mailer.example.com/hooks/trustpilot)"),
    ({"CALLBACK_SECRET": ""}, "CALLBACK_SECRET is not set (a Standard Webhooks secret: whsec_ followed by base64)"),
    ({"CALLBACK_SECRET": "whsec_not*base64"}, "CALLBACK_SECRET is not valid base64 after whsec_"),
    ({"CALLBACK_SECRET": "whsec_" + base64.b64encode(b"short").decode()},
     "CALLBACK_SECRET must decode to at least 24 bytes, not 5"),
    ({"CALLBACK_HEADERS": '{"X-Key": "line\\r\\nX-Injected: 1"}'},
     "CALLBACK_HEADERS: the value of X-Key must be ASCII text on one line"),
    ({"CALLBACK_HEADERS": '{"X-Key": "clé"}'}, "CALLBACK_HEADERS: the value of X-Key must be ASCII text on one line"),
    ({"CALLBACK_HEADERS": "Authorization: Bearer x"},
     'CALLBACK_HEADERS must be a JSON object such as {"Authorization": "Bearer ..."}'),
])
def test_one_problem_each(env, problem):
    base = {"CALLBACK_URL": "https://mailer.example.com/hook", "CALLBACK_SECRET": SECRET}
    if "CALLBACK_URL" not in env and not env:
        base.pop("CALLBACK_URL")
    with pytest.raises(ConfigError) as error:
        settings_from_environ({**base, **env})
    assert error.value.problems == [problem]


def test_the_secret_and_headers_stay_out_of_repr():
    settings = settings_from_environ({"CALLBACK_URL": "https://mailer.example.com/hook", "CALLBACK_SECRET": SECRET,
                                      "CALLBACK_HEADERS": json.dumps({"Authorization": "Bearer zzz"})})
    assert settings.timeout == 10.0 and settings.headers == {"Authorization": "Bearer zzz"}
    assert "zzz" not in repr(settings) and SECRET[6:] not in repr(settings)
