"""The settings' checks as a user meets them in a process of its own: `receiver serve` refuses a bad value before
starting anything, and only the console script reads `.env`."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from support.data import base_env


def _serve(env, *args):
    """``receiver serve`` in its own process: a server that did start is killed by the timeout (and fails)."""
    return subprocess.run([sys.executable, "-m", "receiver", "serve", *args], env={**os.environ, **env},
                          capture_output=True, text=True, timeout=30)


@pytest.mark.parametrize("variable,value,line", [
    ("PORT", "abc", "PORT must be a whole number, not 'abc'"),
    ("PORT", "99999", "PORT must be at most 65535"),
    ("WEB_CONCURRENCY", "0", "WEB_CONCURRENCY must be at least 1"),
    ("WEB_CONCURRENCY", "abc", "WEB_CONCURRENCY must be a whole number, not 'abc'"),
    ("DATABASE_URL", "mysql://x", "DATABASE_URL must be a SQLite or PostgreSQL URL (sqlite:///... or postgres://...), "
                                  "not mysql"),
])
def test_serve_refuses_a_bad_port_or_worker_count_before_starting_anything(tmp_path, variable, value, line):
    served = _serve({**base_env(DATABASE_URL=f"sqlite:///{tmp_path / 'r.db'}"), variable: value})
    assert (served.returncode, served.stderr) == (2, f"configuration error: {line}\n")
    assert not (tmp_path / "r.db").exists()


def test_serve_options_are_checked_too(tmp_path):
    served = _serve(base_env(DATABASE_URL=f"sqlite:///{tmp_path / 'r.db'}"), "--workers", "0")
    assert served.returncode == 2 and "Invalid value for '--workers'" in served.stderr




def _in(folder, command, **env):
    return subprocess.run(command, cwd=folder, env={**os.environ, **base_env(**env)}, capture_output=True, text=True,
                          timeout=60)


def test_the_console_script_reads_dotenv_without_overriding_the_environment(dotenv_dir):
    result = _in(dotenv_dir, [str(Path(sys.executable).with_name("receiver")), "config"], DEFAULT_NAME="Environment")
    assert "TRUSTPILOT_TAGS=from-dotenv" in result.stdout and "DEFAULT_NAME=Environment" in result.stdout


def test_python_dash_m_and_an_import_never_read_dotenv(dotenv_dir):
    result = _in(dotenv_dir, [sys.executable, "-m", "receiver", "config"])
    assert "TRUSTPILOT_TAGS=(not set)" in result.stdout and "DEFAULT_NAME=Customer (default)" in result.stdout
    imported = _in(dotenv_dir, [sys.executable, "-c", "import os, receiver.cli, receiver.config, receiver.web; "
                                                      "print(os.environ.get('TRUSTPILOT_TAGS'))"])
    assert imported.stdout == "None\n"
