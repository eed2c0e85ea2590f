import base64
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from receiver import bgl
from support.data import AUTH_KEY, ENCRYPT_KEY, SHARED_VECTORS, VECTORS

KEYS = bgl.Keys.from_base64(ENCRYPT_KEY, AUTH_KEY)


def is_json(text):
    try:
        return isinstance(json.loads(text), dict)
    except ValueError:
        return False


PAYLOAD_VECTORS = [case for case in VECTORS if is_json(case["plaintext"])]


def test_the_vectors_are_there_and_match_the_shared_reference():
    assert len(VECTORS) >= 4
    if SHARED_VECTORS.exists():
        assert json.loads(SHARED_VECTORS.read_text()) == VECTORS


@pytest.mark.parametrize("case", VECTORS, ids=[case["description"] for case in VECTORS])
def test_encrypts_every_vector_byte_for_byte(case):
    keys = bgl.Keys.from_base64(case["encrypt_key"], case["auth_key"])
    iv = bytes.fromhex(case["iv"])
    payload = bgl.encrypt(case["plaintext"].encode("utf-8"), keys, iv)
    assert payload == case["payload_base64"]
    assert bgl.link_for(case["domain"], payload) == case["link"]
    assert case["link"].endswith("?p=" + case["p"])


@pytest.mark.parametrize("case", PAYLOAD_VECTORS, ids=[case["description"] for case in PAYLOAD_VECTORS])
def test_builds_every_payload_vector_link_from_its_payload_dict(case):
    keys = bgl.Keys.from_base64(case["encrypt_key"], case["auth_key"])
    payload = json.loads(case["plaintext"])
    link = bgl.build_link(payload, keys, case["domain"], iv_source=lambda: bytes.fromhex(case["iv"]))
    assert link == case["link"]


@pytest.mark.parametrize("case", VECTORS, ids=[case["description"] for case in VECTORS])
@pytest.mark.parametrize("form", ["link", "p", "payload_base64"])
def test_decodes_every_vector(case, form):
    keys = bgl.Keys.from_base64(case["encrypt_key"], case["auth_key"])
    assert bgl.decrypt(bgl.payload_from_link(case[form]), keys) == case["plaintext"].encode("utf-8")
    if is_json(case["plaintext"]):
        assert bgl.decode(case[form], keys) == json.loads(case["plaintext"])
    else:
        with pytest.raises(bgl.InvalidLink, match="JSON"):
            bgl.decode(case[form], keys)


def test_a_16_byte_plaintext_gets_a_whole_padding_block():
    payload = base64.b64decode(bgl.encrypt(b"x" * 16, KEYS, bytes(16)))
    assert len(payload) == 16 + 32 + 32


def test_a_tampered_payload_is_refused_before_decryption():
    raw = bytearray(base64.b64decode(VECTORS[0]["payload_base64"]))
    raw[20] ^= 1
    with pytest.raises(bgl.InvalidLink, match="signature"):
        bgl.decode(base64.b64encode(bytes(raw)).decode(), KEYS)


def test_another_authentication_key_is_refused():
    other = bgl.Keys(KEYS.encrypt, bytes(32))
    with pytest.raises(bgl.InvalidLink, match="other keys"):
        bgl.decode(VECTORS[0]["link"], other)


def test_another_encryption_key_cannot_produce_the_plaintext():
    other = bgl.Keys(bytes(32), KEYS.auth)
    with pytest.raises(bgl.InvalidLink):
        bgl.decode(VECTORS[0]["link"], other)


@pytest.mark.parametrize("text, reason", [
    ("not base64 at all!", "base64"),
    (base64.b64encode(b"short").decode(), "length"),
    ("https://www.trustpilot.com/evaluate-bgl/example.com?q=1", "no p="),
])
def test_garbage_is_a_clear_error(text, reason):
    with pytest.raises(bgl.InvalidLink, match=reason):
        bgl.decode(text, KEYS)


def test_keys_are_checked_when_loaded_and_named_without_their_value():
    with pytest.raises(bgl.KeyProblem) as problem:
        bgl.Keys.from_base64("not-base64!!", base64.b64encode(b"x" * 16).decode())
    text = str(problem.value)
    assert "TRUSTPILOT_ENCRYPT_KEY is not valid base64" in text
    assert "TRUSTPILOT_AUTH_KEY must decode to 32 bytes, not 16" in text
    assert "not-base64" not in text


def test_keys_never_show_in_repr():
    assert ENCRYPT_KEY not in repr(KEYS) and repr(KEYS.encrypt) not in repr(KEYS)


names = st.text(min_size=1, max_size=60)
skus = st.lists(st.text(min_size=1, max_size=20), max_size=8)


@settings(max_examples=150, deadline=None)
@given(name=names, skus=skus, ref=st.text(min_size=1, max_size=40), iv=st.binary(min_size=16, max_size=16))
def test_any_valid_input_round_trips(name, skus, ref, iv):
    payload = {"email": "a@example.com", "name": name, "ref": ref, "skus": skus, "tags": ["t"]}
    link = bgl.build_link(payload, KEYS, "example.com", iv_source=lambda: iv)
    assert bgl.decode(link, KEYS) == payload
