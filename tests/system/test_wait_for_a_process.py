"""The tests' wait for a server gives up at once when the server's process has exited."""

import subprocess
import sys
import time

import pytest

from support.net import free_port
from support.wait import wait_for_server


def test_wait_for_server_fails_at_once_when_the_server_process_has_exited():
    process = subprocess.Popen([sys.executable, "-c", "raise SystemExit(3)"])
    process.wait(30)
    started = time.monotonic()
    with pytest.raises(AssertionError, match="exited with status 3 before"):
        wait_for_server(f"http://127.0.0.1:{free_port()}/healthz", process=process, timeout=30)
    assert time.monotonic() - started < 5
