"""The commands that never build a link ask for no Trustpilot key and no Segment credential: a fresh checkout
with nothing but a database can run them."""

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from receiver.cli import main
from receiver.store import Store, suppression_list

COMMANDS = [["status"], ["retry"], ["retry", "--dead"], ["purge"], ["db", "upgrade"], ["config"]]
# these find customers by address key: DATA_KEY, never a Trustpilot key
KEYED = [["forget", "jane@example.com"], ["suppress", "jane@example.com"], ["unsuppress", "jane@example.com"]]
NO_KEYS = {"TRUSTPILOT_DOMAIN": "", "TRUSTPILOT_ENCRYPT_KEY": "", "TRUSTPILOT_AUTH_KEY": "", "SEGMENT_API_KEYS": "",
           "SENDER": ""}


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_a_command_that_needs_no_key_runs_without_any(command, sqlite_url):
    result = CliRunner().invoke(main, command, env={"DATABASE_URL": sqlite_url, "DATA_KEY": "", **NO_KEYS})
    assert result.exit_code == 0, result.output
    assert "configuration error" not in result.output


@pytest.mark.parametrize("command", KEYED, ids=" ".join)
def test_a_command_that_finds_customers_by_address_needs_data_key_alone(command, sqlite_url):
    env = {"DATABASE_URL": sqlite_url, **NO_KEYS}
    refused = CliRunner().invoke(main, command, env={**env, "DATA_KEY": ""})
    assert refused.exit_code == 2 and "DATA_KEY is not set" in refused.output
    done = CliRunner().invoke(main, command, env={**env, "DATA_KEY": "a" * 64})
    assert done.exit_code == 0, done.output


def test_config_lists_what_is_not_set_yet_and_still_fails_on_a_value_it_cannot_use(sqlite_url):
    env = {"DATABASE_URL": sqlite_url, "TRUSTPILOT_DOMAIN": "", "TRUSTPILOT_ENCRYPT_KEY": "", "TRUSTPILOT_AUTH_KEY": ""}
    shown = CliRunner().invoke(main, ["config"], env=env)
    assert "not set yet: TRUSTPILOT_ENCRYPT_KEY is not set" in shown.output
    wrong = CliRunner().invoke(main, ["config"], env={**env, "MAX_BATCH": "many"})
    assert wrong.exit_code == 2 and "configuration error: MAX_BATCH" in wrong.output


def test_they_still_refuse_a_database_setting_they_cannot_use():
    result = CliRunner().invoke(main, ["status"], env={"DATABASE_URL": "mysql://x"})
    assert result.exit_code == 2 and "configuration error: DATABASE_URL" in result.output


@pytest.mark.parametrize("command", ["forget", "suppress", "unsuppress"])
@pytest.mark.parametrize("email", ["not an email", "a" * 65 + "@example.com", "jane@exa mple.com"])
def test_an_address_no_order_could_carry_is_refused_and_lists_nothing(command, email, sqlite_url):
    """The operator's address is checked as intake checks one: a local part over 64 octets is no address."""
    result = CliRunner().invoke(main, [command, email], env={"DATABASE_URL": sqlite_url, "DATA_KEY": "a" * 64,
                                                              **NO_KEYS})
    assert result.exit_code == 2 and "Invalid email address" in result.output
    store = Store(sqlite_url)
    try:
        store.upgrade()
        with store.engine.connect() as conn:
            assert conn.execute(select(func.count()).select_from(suppression_list)).scalar() == 0
    finally:
        store.close()
