"""Failed console logins, limited per client address.

Hand-written on purpose, rather than Flask-Limiter:
- it counts failures, and a success forgets them: Flask-Limiter counts requests (``deduct_when`` can leave some
  uncounted, but nothing clears one address's count when it signs in), so an operator who mistypes twice and
  then signs in would carry the two failures on;
- it reads the app's injected clock, as every other part does, so the 15-minute window is tested exactly and
  instantly; Flask-Limiter's windows follow the system clock;
- it needs no storage backend: Flask-Limiter's shared ones (Redis, memcached, MongoDB) are servers this service
  does not run, and in memory it would be per process, as this one is (the README says so).
It is about forty lines with a lock; the README documents the limits.
"""

from __future__ import annotations

import threading
from collections import deque
from datetime import datetime, timedelta

from ..clock import Clock

LOGIN_FAILURES = 5  # failed logins per client address ...
LOGIN_WINDOW = timedelta(minutes=15)  # ... within this window, then 429 until the oldest failure leaves it


class LoginLimiter:
    """At most ``failures`` failed logins per address within ``window``; the clock is injected."""

    def __init__(self, clock: Clock, failures: int = LOGIN_FAILURES, window: timedelta = LOGIN_WINDOW):
        self.clock = clock
        self.failures = failures
        self.window = window
        self._seen: dict[str, deque[datetime]] = {}
        self._lock = threading.Lock()  # gunicorn's threads share one limiter per process

    def _recent(self, address: str) -> deque[datetime]:
        seen = self._seen.setdefault(address, deque())
        cutoff = self.clock() - self.window
        while seen and seen[0] <= cutoff:
            seen.popleft()
        if not seen:
            del self._seen[address]
        return seen

    def blocked_for(self, address: str) -> timedelta | None:
        """How long ``address`` must wait before trying again, or None if it may try now."""
        with self._lock:
            seen = self._recent(address)
            if len(seen) < self.failures:
                return None
            return seen[0] + self.window - self.clock()

    def failed(self, address: str) -> None:
        with self._lock:
            self._recent(address)
            self._seen.setdefault(address, deque()).append(self.clock())

    def succeeded(self, address: str) -> None:
        with self._lock:
            self._seen.pop(address, None)
