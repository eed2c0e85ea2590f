"""The worker's backoff, a value: exponential, with jitter, capped."""

from receiver.worker import Backoff


def test_backoff_has_jitter_and_a_cap():
    backoff = Backoff(base_seconds=10, cap_seconds=100)
    assert backoff.delay(1, lambda: 0.0) == 5 and backoff.delay(1, lambda: 1.0) == 10
    assert backoff.delay(3, lambda: 1.0) == 40
    assert backoff.delay(30, lambda: 1.0) == 100
