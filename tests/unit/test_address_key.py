"""The address key: one customer, whatever the casing of the address or the form of its domain."""

import hmac

import pytest
from hypothesis import given
from hypothesis import strategies as st

from receiver.privacy import address_key
from receiver.text import normal_address

KEY = bytes(range(32))


@pytest.mark.parametrize(("one", "other"), [
    ("Jörg.Müller@Example.COM", "jörg.müller@example.com"),
    ("ÅSA@bücher.de", "åsa@xn--bcher-kva.de"),
    ("åsa@BÜCHER.de", "Åsa@bücher.DE"),
    ("  jane@example.com ", "JANE@EXAMPLE.COM"),
    ("stra\u00dfe@example.com", "STRASSE@example.com"),  # case folding: ß is ss
    ("e\u0301mile@example.com", "\u00e9mile@example.com"),  # NFC/NFKC: one é
])
def test_one_customer_has_one_key_whatever_the_form(one, other):
    assert normal_address(one) == normal_address(other)
    assert address_key(KEY, one) == address_key(KEY, other)


def test_the_key_is_a_keyed_hash_of_the_normal_form():
    key = address_key(KEY, "Jane@Example.com")
    assert key == hmac.new(KEY, b"jane@example.com", "sha256").hexdigest()
    assert "jane" not in key and len(key) == 64
    assert address_key(bytes(32), "jane@example.com") != key  # another DATA_KEY: other keys


@pytest.mark.parametrize("value", [None, "", "jane", "jane@", "@example.com", 42, "a b@example.com"])
def test_what_is_not_an_address_has_no_key(value):
    assert normal_address(value) is None
    assert address_key(KEY, value) is None


def test_different_customers_have_different_keys():
    assert address_key(KEY, "jane@example.com") != address_key(KEY, "jane@example.org")
    assert address_key(KEY, "jane@example.com") != address_key(KEY, "jane.doe@example.com")


@given(st.emails())
def test_the_normal_form_is_stable(email):
    normal = normal_address(email)
    if normal is not None:
        assert normal_address(normal) == normal
        assert normal_address(normal.upper()) == normal or normal_address(normal.upper()) is None
