"""Authentication's rules without a request: which settings let intake start, and the pure checks of a signature
and of the credential that replay sends."""

import hashlib
import hmac

import pytest
from hypothesis import given
from hypothesis import strategies as st

from receiver.auth import authenticate, credential_headers, signature
from receiver.config import ConfigError, SegmentAuth, load_settings
from support.data import base_env, basic_auth

SECRET, TOKEN = "whsec-current-7f3a", "bearer-token-9d8e7f"
ALL_MODES = {"SEGMENT_SHARED_SECRETS": f"{SECRET},whsec-previous-1b2c", "SEGMENT_BEARER_TOKENS": f"other-token,{TOKEN}"}


def hmac_sha1(body: bytes, secret: str) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha1).hexdigest()


# -- configuration ----------------------------------------------------------------------------------

def test_intake_refuses_to_start_with_no_way_to_authenticate():
    env = base_env(SEGMENT_API_KEYS="")
    with pytest.raises(ConfigError) as refused:
        load_settings(env, intake=True)
    assert refused.value.problems == [
        "No way to authenticate Segment is set: SEGMENT_API_KEYS, SEGMENT_SHARED_SECRETS or SEGMENT_BEARER_TOKENS "
        "(or ALLOW_UNAUTHENTICATED=true to accept anyone)"]
    assert load_settings(env).auth.api_keys == ()  # the worker does not receive anything: no need


@pytest.mark.parametrize("variable", ["SEGMENT_SHARED_SECRETS", "SEGMENT_BEARER_TOKENS"])
def test_any_single_mode_is_enough_to_start(variable):
    settings = load_settings(base_env(SEGMENT_API_KEYS="", **{variable: "s1, s2"}), intake=True)
    assert (settings.auth.shared_secrets or settings.auth.bearer_tokens) == ("s1", "s2")
    assert "s1" not in repr(settings)


def test_configuration_problems_name_the_setting_not_the_secret():
    with pytest.raises(ConfigError) as refused:
        load_settings(base_env(ALLOW_UNAUTHENTICATED="perhaps", SEGMENT_BEARER_TOKENS="has space"), intake=True)
    assert refused.value.problems == ["SEGMENT_BEARER_TOKENS: a token contains whitespace",
                                      "ALLOW_UNAUTHENTICATED must be true or false"]


# -- the pure checks --------------------------------------------------------------------------------

@given(body=st.binary(max_size=200), secret=st.text(min_size=1, max_size=40), other=st.text(min_size=1, max_size=40))
def test_a_signature_passes_with_its_own_secret_only(body, secret, other):
    settings = SegmentAuth(api_keys=(), shared_secrets=("rotated-out", secret), bearer_tokens=(),
                           allow_unauthenticated=False)
    assert authenticate({"X-Signature": signature(body, secret)}, body, settings) is None
    if other not in settings.shared_secrets:
        assert authenticate({"X-Signature": signature(body, other)}, body, settings) == "Invalid X-Signature"
    assert authenticate({}, body, settings) == "No credentials"


def test_replay_signs_or_carries_whatever_credential_is_configured():
    body = b'{"type": "track"}'
    only_secret = load_settings(base_env(SEGMENT_API_KEYS="", SEGMENT_SHARED_SECRETS=SECRET), intake=True)
    assert credential_headers(only_secret.auth, body) == {"X-Signature": hmac_sha1(body, SECRET)}
    only_token = load_settings(base_env(SEGMENT_API_KEYS="", SEGMENT_BEARER_TOKENS=TOKEN), intake=True)
    assert credential_headers(only_token.auth, body) == {"Authorization": f"Bearer {TOKEN}"}
    assert credential_headers(only_token.auth, body, api_key="given") == basic_auth("given")
    both = load_settings(base_env(**ALL_MODES), intake=True)
    assert credential_headers(both.auth, body) == basic_auth("other-key")
