"""Settings that could never work stop `receiver serve` before it binds: one line each, exit code 2 (issue 17 §9)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from support.data import base_env


def serve(tmp_path, **env: str) -> subprocess.CompletedProcess[str]:
    """``receiver serve`` in its own process; one that did start is killed by the timeout (and fails the test)."""
    variables = {**os.environ, **base_env(DATABASE_URL=f"sqlite:///{tmp_path / 'r.db'}", PORT="1", **env)}
    return subprocess.run([sys.executable, "-m", "receiver", "serve"], env=variables, capture_output=True, text=True,
                          timeout=30)


def problems(result: subprocess.CompletedProcess[str]) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.startswith("configuration error: ")]


@pytest.mark.parametrize("keys", ["key-one:with-colon", "good-key,user:password"])
def test_an_api_key_with_a_colon_stops_the_start_with_one_line_and_exit_2(tmp_path, keys):
    result = serve(tmp_path, SEGMENT_API_KEYS=keys)
    assert result.returncode == 2, result.stderr
    assert problems(result) == ["configuration error: SEGMENT_API_KEYS: a key contains ':', which the Basic-auth "
                                "user name (the key) cannot carry"]
    assert keys not in result.stderr and "with-colon" not in result.stderr and "password" not in result.stderr


@pytest.mark.parametrize("password", ["x", "eleven-char"])
def test_a_console_password_under_12_characters_stops_the_start_with_one_line_and_exit_2(tmp_path, password):
    result = serve(tmp_path, CONSOLE_PASSWORD=password, SECRET_KEY="k" * 32)
    assert result.returncode == 2, result.stderr
    assert problems(result) == ["configuration error: CONSOLE_PASSWORD must be at least 12 characters long"]
    assert password not in result.stderr


def test_twelve_characters_and_colon_free_keys_are_accepted(tmp_path):
    from receiver.config import load_settings

    settings = load_settings(base_env(CONSOLE_PASSWORD="twelve-chars", SECRET_KEY="k" * 32,
                                      SEGMENT_API_KEYS="k1,k2"), intake=True)
    assert settings.console.enabled and settings.auth.api_keys == ("k1", "k2")
