"""The commands that never build a link ask for no Trustpilot key and no Segment credential: a fresh checkout
with nothing but a database can run them."""

import pytest
from click.testing import CliRunner

from receiver.cli import main

COMMANDS = [["status"], ["retry"], ["retry", "--dead"], ["purge"], ["forget", "jane@example.com"], ["db", "upgrade"],
            ["config"]]


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_a_command_that_needs_no_key_runs_without_any(command, sqlite_url):
    result = CliRunner().invoke(main, command, env={"DATABASE_URL": sqlite_url, "TRUSTPILOT_DOMAIN": "",
                                                     "TRUSTPILOT_ENCRYPT_KEY": "", "TRUSTPILOT_AUTH_KEY": "",
                                                     "SEGMENT_API_KEYS": "", "SENDER": ""})
    assert result.exit_code == 0, result.output
    assert "configuration error" not in result.output


def test_config_lists_what_is_not_set_yet_and_still_fails_on_a_value_it_cannot_use(sqlite_url):
    env = {"DATABASE_URL": sqlite_url, "TRUSTPILOT_DOMAIN": "", "TRUSTPILOT_ENCRYPT_KEY": "", "TRUSTPILOT_AUTH_KEY": ""}
    shown = CliRunner().invoke(main, ["config"], env=env)
    assert "not set yet: TRUSTPILOT_ENCRYPT_KEY is not set" in shown.output
    wrong = CliRunner().invoke(main, ["config"], env={**env, "MAX_BATCH": "many"})
    assert wrong.exit_code == 2 and "configuration error: MAX_BATCH" in wrong.output


def test_they_still_refuse_a_database_setting_they_cannot_use():
    result = CliRunner().invoke(main, ["status"], env={"DATABASE_URL": "mysql://x"})
    assert result.exit_code == 2 and "configuration error: DATABASE_URL" in result.output
