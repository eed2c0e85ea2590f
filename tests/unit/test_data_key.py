"""``DATA_KEY`` (issue 14 §1): required outside demo mode, in one line that says how to make one; a secret."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from receiver import config
from receiver.privacy import address_key, stored_address_key
from support.data import DATA_KEY_BYTES, base_env


def test_without_data_key_the_settings_name_it_and_how_to_make_one():
    environ = base_env()
    del environ["DATA_KEY"]
    with pytest.raises(config.ConfigError) as problem:
        config.load_settings(environ)
    [line] = [line for line in problem.value.problems if "DATA_KEY" in line]
    assert line.startswith("DATA_KEY is not set") and "openssl rand -base64 32" in line


def test_demo_mode_has_a_data_key_of_its_own():
    environ = base_env()
    del environ["DATA_KEY"]
    assert len(config.load_settings(environ, demo=True).database.data_key) == 32


def test_the_data_key_is_a_secret_and_read_alone_for_the_database_commands():
    assert config.BY_NAME["DATA_KEY"].secret
    assert config.load_database({"DATA_KEY": base_env()["DATA_KEY"]}).data_key == DATA_KEY_BYTES


@pytest.mark.parametrize("one, other", [
    ("jörg.müller@example.com", "JÖRG.MÜLLER@EXAMPLE.COM"),
    ("åsa@example.com", "Åsa@Example.com"),
    ("jürgen@bücher.de", "jürgen@xn--bcher-kva.de"),
])
def test_an_address_has_one_key_in_any_casing_and_form_of_its_domain(one, other):
    assert address_key(DATA_KEY_BYTES, one) == address_key(DATA_KEY_BYTES, other)
    assert address_key(DATA_KEY_BYTES, one) != address_key(bytes(32), one)


@given(st.one_of(st.emails(), st.builds(lambda local, domain: f"{local}@{domain}",
                                        st.text(min_size=1, max_size=12), st.sampled_from(
                                            ["Example.COM", "xn--bcher-kva.de", "bücher.de", "EXAMPLE.com."]))),
       st.booleans())
def test_the_stores_quick_key_is_the_key_of_every_address(email, shout):
    email = email.upper() if shout else email
    if (key := address_key(DATA_KEY_BYTES, email)) is not None:
        assert stored_address_key(DATA_KEY_BYTES, email) == key
