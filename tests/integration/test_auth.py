"""Authentication modes over real HTTP: API keys, X-Signature, bearer tokens, any combination, or none on purpose."""

import gzip
import hashlib
import hmac
import json
import logging

import pytest
import requests
from click.testing import CliRunner

from receiver.cli import main
from receiver.config import load_settings
from receiver.web import create_app
from support.data import API_KEY, FIXTURES, base_env, basic_auth, fixture

SECRET, OLD_SECRET, TOKEN = "whsec-current-7f3a", "whsec-previous-1b2c", "bearer-token-9d8e7f"
SEED = json.dumps(fixture("order-completed-seed.json")).encode()
ALL_MODES = {"SEGMENT_SHARED_SECRETS": f"{SECRET},{OLD_SECRET}", "SEGMENT_BEARER_TOKENS": f"other-token,{TOKEN}"}


def post(base, body=SEED, headers=None, path="/segment"):
    return requests.post(base + path, data=body, headers={"Content-Type": "application/json", **(headers or {})},
                         timeout=5)


def stored(store):
    return sum(store.reports.counts().values())


def hmac_sha1(body: bytes, secret: str) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha1).hexdigest()


# -- configuration ----------------------------------------------------------------------------------

def test_allow_unauthenticated_must_be_explicit_and_warns_at_start(sqlite_url, store, caplog):
    settings = load_settings(base_env(SEGMENT_API_KEYS="", ALLOW_UNAUTHENTICATED="true", DATABASE_URL=sqlite_url),
                             intake=True)
    with caplog.at_level(logging.WARNING, logger="receiver.web"):
        client = create_app(settings, store=store).test_client()
    assert "ALLOW_UNAUTHENTICATED=true" in caplog.text
    response = client.post("/segment", data=SEED, headers={"Content-Type": "application/json"})
    assert response.status_code == 200 and stored(store) == 1


def test_without_any_configured_mode_and_without_the_flag_nothing_passes(sqlite_url, store):
    settings = load_settings(base_env(SEGMENT_API_KEYS="", DATABASE_URL=sqlite_url))  # not checked as intake
    client = create_app(settings, store=store).test_client()
    response = client.post("/segment", data=SEED, headers={"Content-Type": "application/json", **basic_auth()})
    assert response.status_code == 401 and response.get_json() == {"message": "Authentication is not configured"}


@pytest.mark.env(ALLOW_UNAUTHENTICATED="true")
def test_the_flag_does_not_open_a_receiver_that_has_credentials(live_app, store):
    assert post(live_app).status_code == 401
    assert post(live_app, headers=basic_auth()).status_code == 200


# -- each mode over real HTTP -----------------------------------------------------------------------

@pytest.mark.env(SEGMENT_API_KEYS="", **ALL_MODES)
def test_x_signature_is_hmac_sha1_of_the_raw_body_with_any_shared_secret(live_app, store):
    for secret in (SECRET, OLD_SECRET):  # several secrets: rotation
        response = post(live_app, headers={"X-Signature": hmac_sha1(SEED, secret)})
        assert response.status_code == 200, response.text
    assert stored(store) == 1  # the second was a duplicate of the first
    assert post(live_app, headers={"X-Signature": hmac_sha1(SEED, SECRET).upper()}).status_code == 200

    wrong = post(live_app, headers={"X-Signature": hmac_sha1(SEED, "not-the-secret")})
    assert wrong.status_code == 401 and wrong.json() == {"message": "Invalid X-Signature"}
    tampered = SEED.replace(b"test@example.com", b"evil@example.com")
    assert post(live_app, tampered, headers={"X-Signature": hmac_sha1(SEED, SECRET)}).status_code == 401
    assert post(live_app, headers={"X-Signature": "zz"}).json() == {"message": "Invalid X-Signature"}


@pytest.mark.env(SEGMENT_API_KEYS="", **ALL_MODES)
def test_a_gzip_body_is_signed_as_sent_compressed(live_app, store):
    compressed = gzip.compress(SEED)
    headers = {"Content-Encoding": "gzip"}
    over_plain = post(live_app, compressed, headers={**headers, "X-Signature": hmac_sha1(SEED, SECRET)})
    assert over_plain.status_code == 401 and stored(store) == 0
    over_wire = post(live_app, compressed, headers={**headers, "X-Signature": hmac_sha1(compressed, SECRET)})
    assert over_wire.status_code == 200 and stored(store) == 1


def stringify(value) -> bytes:
    """``JSON.stringify`` as Segment's Node code runs it: compact, non-ASCII kept as UTF-8."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


def actions_batch() -> tuple[bytes, bytes]:
    """A Webhooks (Actions) batch as Segment sends it, and its first event as Segment signs it."""
    events = [fixture("order-completed-seed.json"), fixture("order-completed-non-ascii-name.json"),
              fixture("identify.json")]
    return b"[" + b",".join(stringify(event) for event in events) + b"]", stringify(events[0])


@pytest.mark.env(SEGMENT_API_KEYS="", **ALL_MODES)
def test_an_actions_batch_signed_over_its_first_event_passes(live_app, store):
    body, first = actions_batch()
    response = post(live_app, body, headers={"X-Signature": hmac_sha1(first, SECRET)})
    assert response.status_code == 200, response.text
    assert (response.json()["accepted"], response.json()["ignored"]) == (2, 1) and stored(store) == 2


@pytest.mark.env(SEGMENT_API_KEYS="", **ALL_MODES)
def test_an_actions_batch_signed_over_the_whole_body_passes_too(live_app, store):
    body, _ = actions_batch()  # the change under review upstream: the whole batch signed
    assert post(live_app, body, headers={"X-Signature": hmac_sha1(body, OLD_SECRET)}).status_code == 200
    assert stored(store) == 2


@pytest.mark.env(SEGMENT_API_KEYS="", **ALL_MODES)
def test_the_first_element_is_read_as_sent_not_re_serialised(live_app, store):
    event = fixture("order-completed-seed.json")
    first = json.dumps(event, indent=2).encode()  # spaced out as no re-serialisation would give it back
    body = b"\n [\n  " + first + b" ,\r\n" + stringify(fixture("identify.json")) + b"\n]\n"
    assert post(live_app, body, headers={"X-Signature": hmac_sha1(first, SECRET)}).status_code == 200
    assert post(live_app, body, headers={"X-Signature": hmac_sha1(stringify(event), SECRET)}).status_code == 401


@pytest.mark.env(SEGMENT_API_KEYS="", **ALL_MODES)
@pytest.mark.parametrize("signed", ["second event", "tampered first event", "other secret"])
def test_a_batch_signature_over_anything_else_fails(live_app, store, signed):
    body, first = actions_batch()
    second = stringify(fixture("order-completed-non-ascii-name.json"))
    over = {"second event": (second, SECRET), "tampered first event": (first + b" ", SECRET),
            "other secret": (first, "not-the-secret")}[signed]
    response = post(live_app, body, headers={"X-Signature": hmac_sha1(*over)})
    assert response.status_code == 401 and response.json() == {"message": "Invalid X-Signature"}
    assert stored(store) == 0


@pytest.mark.env(SEGMENT_API_KEYS="", **ALL_MODES)
def test_a_tampered_first_event_fails_its_batch(live_app, store):
    body, first = actions_batch()
    tampered = body.replace(b"test@example.com", b"evil@example.com", 1)
    assert post(live_app, tampered, headers={"X-Signature": hmac_sha1(first, SECRET)}).status_code == 401
    assert stored(store) == 0


@pytest.mark.parametrize("body, first", [
    (b'[{"a": [1, {"b": "]"}]}, {"c": 2}]', b'{"a": [1, {"b": "]"}]}'),
    (b'  [ "x" ]', b'"x"'),
    (b"[]", None), (b"{}", None), (b"", None), (b"[", None), (b"\xff[{}]", None), (b"[{]", None),
])
def test_first_element_is_the_bytes_the_decoder_ends(body, first):
    from receiver.auth import first_element

    assert first_element(body) == first


@pytest.mark.env(SEGMENT_API_KEYS="", **ALL_MODES)
def test_bearer_tokens(live_app, store):
    assert post(live_app, headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200
    wrong = post(live_app, headers={"Authorization": "Bearer not-the-token"})
    assert wrong.status_code == 401 and wrong.json() == {"message": "Invalid bearer token"}
    assert post(live_app, headers={"Authorization": "Bearer"}).json() == {"message": "Invalid bearer token"}
    # an Actions batch: unsigned, authenticated by the custom header alone
    batch = json.dumps(json.loads((FIXTURES / "dialects" / "actions-batch.json").read_text())).encode()
    response = post(live_app, batch, headers={"Authorization": f"bearer {TOKEN}"})
    assert response.status_code == 200 and response.json()["accepted"] == 2


@pytest.mark.env(**ALL_MODES)
def test_all_modes_together_any_one_that_accepts_is_enough(live_app, store):
    assert post(live_app, headers=basic_auth()).status_code == 200
    assert post(live_app, headers={"Authorization": f"Bearer {TOKEN}"}).json()["status"] == "duplicate"
    assert post(live_app, headers={"X-Signature": hmac_sha1(SEED, SECRET)}).status_code == 200
    # a wrong Authorization header does not spoil a good signature, nor the reverse
    assert post(live_app, headers={**basic_auth("wrong"), "X-Signature": hmac_sha1(SEED, SECRET)}).status_code == 200
    assert post(live_app, headers={**basic_auth(), "X-Signature": "0" * 40}).status_code == 200


@pytest.mark.env(**ALL_MODES)
@pytest.mark.parametrize("headers, message", [
    ({}, "No credentials"),
    (basic_auth("not-a-key"), "Missing or invalid API key"),
    ({"Authorization": "Bearer nope"}, "Invalid bearer token"),
    ({"X-Signature": "0" * 40}, "Invalid X-Signature"),
    ({"Authorization": "Digest username=x"}, "Unsupported Authorization scheme"),
    ({**basic_auth("not-a-key"), "X-Signature": "0" * 40}, "Missing or invalid API key"),  # the first that failed
])
def test_failures_say_which_check_failed_and_nothing_more(live_app, store, headers, message, caplog):
    with caplog.at_level(logging.DEBUG):
        response = post(live_app, headers=headers)
    assert response.status_code == 401
    assert response.headers["Content-Type"] == "application/json"
    assert response.json() == {"message": message}
    assert stored(store) == 0
    for secret in ("not-a-key", "nope", SECRET, TOKEN, API_KEY):
        assert secret not in caplog.text


@pytest.mark.env(SEGMENT_API_KEYS="", **ALL_MODES)
def test_the_tracking_api_takes_the_same_credentials(live_app, store):
    body = json.dumps({"batch": [fixture("order-completed-seed.json")]}).encode()
    unauthorised = post(live_app, body, path="/v1/batch", headers=basic_auth())
    assert unauthorised.status_code == 401 and unauthorised.json() == {"code": "unauthorized",
                                                                       "message": "Missing or invalid API key"}
    assert post(live_app, body, path="/v1/batch", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200


# -- replay, in process -----------------------------------------------------------------------------

@pytest.mark.parametrize("env", [
    {"SEGMENT_API_KEYS": "", "SEGMENT_SHARED_SECRETS": SECRET},
    {"SEGMENT_API_KEYS": "", "SEGMENT_BEARER_TOKENS": TOKEN},
    {"SEGMENT_API_KEYS": "", "ALLOW_UNAUTHENTICATED": "true"},
])
def test_replay_in_process_works_with_each_mode(sqlite_url, env):
    result = CliRunner().invoke(main, ["replay", str(FIXTURES / "order-completed-seed.json"),
                                       str(FIXTURES / "dialects" / "order-completed-gzip.json.gz")],
                                env=base_env(DATABASE_URL=sqlite_url, **env), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "order-completed-seed.json  200 accepted" in result.output
    assert "order-completed-gzip.json.gz  200 accepted" in result.output
