"""The one way a test waits: poll until something holds, give up at a deadline, and say what never happened."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from typing import TypeVar

import requests

T = TypeVar("T")


class WaitTimeout(AssertionError):
    """What a test waited for did not happen before its deadline."""


def wait_until(condition: Callable[[], T], what: str, *, timeout: float = 30.0, interval: float = 0.05,
               ignoring: tuple[type[Exception], ...] = ()) -> T:
    """Call ``condition`` every ``interval`` seconds until it returns a true value, and return that value.

    ``what`` names what is awaited ("the worker to record the send"): after ``timeout`` seconds the test fails
    with it. Exceptions of the types in ``ignoring`` mean "not yet" (the last one is named in the failure);
    any other exception fails the test at once.
    """
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        try:
            value = condition()
        except ignoring as exc:
            last_error = exc
        else:
            if value:
                return value
        time.sleep(max(0.0, min(interval, deadline - time.monotonic())))
    because = f" (the last attempt: {type(last_error).__name__})" if last_error else ""
    raise WaitTimeout(f"gave up after {timeout:g} s waiting for {what}{because}")


def wait_for_server(url: str, *, process: subprocess.Popen | None = None, timeout: float = 30.0) -> requests.Response:
    """GET ``url`` until the server answers at all (any status) and return that answer.

    With ``process`` (the server's), fail at once when it exits instead of waiting out the deadline.
    """
    answers: list[requests.Response] = []

    def answered() -> bool:
        if process is not None and process.poll() is not None:
            raise AssertionError(f"the server process exited with status {process.returncode} before {url} answered")
        answers.append(requests.get(url, timeout=1))
        return True

    # a server that has bound its port but has no worker ready yet keeps the request waiting: that is "not yet" too
    wait_until(answered, f"{url} to answer", timeout=timeout, ignoring=(requests.ConnectionError, requests.Timeout))
    return answers[-1]
