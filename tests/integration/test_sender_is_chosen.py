"""SENDER is chosen, never assumed: without it the worker refuses to start (one line naming the choices), and
``SENDER=log``, chosen, works and warns that nobody is mailed. Demo mode needs none (it is the log sender)."""

import pytest
from click.testing import CliRunner

from receiver.cli import main
from receiver.startup import NO_SENDER
from support.data import base_env

NOBODY = "SENDER=log: invitations are only written to the log and marked sent; nobody is mailed"


def without_sender(**extra):
    env = base_env(**extra)
    env["SENDER"] = ""
    return env


@pytest.mark.parametrize("command", [["worker", "--once"], ["serve", "--worker"], ["send-test", "--to", "a@b.co"]])
def test_without_sender_the_worker_refuses_to_start_naming_the_three_choices(command, sqlite_url):
    result = CliRunner().invoke(main, command, env=without_sender(DATABASE_URL=sqlite_url))
    assert (result.exit_code, result.output) == (2, f"configuration error: {NO_SENDER}\n")
    assert all(f"{name} (" in NO_SENDER for name in ("log", "smtp", "http"))


def test_the_web_process_alone_needs_no_sender(sqlite_url):
    result = CliRunner().invoke(main, ["status"], env=without_sender(DATABASE_URL=sqlite_url))
    assert result.exit_code == 0, result.output


def test_sender_log_chosen_works_and_warns_that_nobody_is_mailed(sqlite_url):
    result = CliRunner().invoke(main, ["worker", "--once"], env=base_env(DATABASE_URL=sqlite_url, SENDER="log",
                                                                          LOG_FORMAT="text"))
    assert result.exit_code == 0, result.output
    assert NOBODY in result.output


def test_the_demo_worker_is_the_log_sender_without_the_warning():
    result = CliRunner().invoke(main, ["worker", "--once", "--demo"], env=without_sender(LOG_FORMAT="text"))
    assert result.exit_code == 0, result.output
    assert "sent 0" in result.output and NOBODY not in result.output
