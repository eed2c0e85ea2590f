"""The tests' own wait helper: it returns as soon as the condition holds, and fails by name at its deadline."""

import time

import pytest

from support.wait import WaitTimeout, wait_until


def test_wait_until_returns_the_first_true_value():
    answers = iter([None, 0, "", "ready", "later"])
    assert wait_until(lambda: next(answers), "an answer", interval=0) == "ready"


def test_wait_until_fails_at_its_deadline_naming_what_never_happened():
    started = time.monotonic()
    with pytest.raises(WaitTimeout, match=r"^gave up after 0.2 s waiting for the moon to rise$"):
        wait_until(lambda: False, "the moon to rise", timeout=0.2, interval=0.01)
    assert 0.2 <= time.monotonic() - started < 2


def test_wait_until_retries_the_exceptions_it_ignores_and_names_the_last():
    def refused():
        raise ConnectionRefusedError

    with pytest.raises(WaitTimeout, match=r"\(the last attempt: ConnectionRefusedError\)$"):
        wait_until(refused, "a connection", timeout=0.1, interval=0.01, ignoring=(ConnectionError,))


def test_wait_until_lets_any_other_exception_through_at_once():
    with pytest.raises(ZeroDivisionError):
        wait_until(lambda: 1 / 0, "arithmetic", timeout=30, ignoring=(ConnectionError,))
