"""Failed console logins, limited per client and across all clients, in bounded memory.

Hand-written on purpose, rather than Flask-Limiter:
- it counts failures, and a success forgets them: Flask-Limiter counts requests (``deduct_when`` can leave some
  uncounted, but nothing clears one address's count when it signs in), so an operator who mistypes twice and
  then signs in would carry the two failures on;
- it reads the app's injected clock, as every other part does, so the 15-minute window is tested exactly and
  instantly; Flask-Limiter's windows follow the system clock;
- it needs no storage backend: Flask-Limiter's shared ones (Redis, memcached, MongoDB) are servers this service
  does not run, and in memory it would be per process, as this one is (the README says so).

Three bounds:
- ``failures`` per client within ``window`` (the client as ``TRUSTED_PROXIES`` names it; an IPv6 client by its
  /64, which one subscriber usually holds whole), then 429 until the oldest failure leaves the window;
- ``global_failures`` from all clients together within the window, then 429 for everyone: a spread of addresses
  guesses no faster than that (``CONSOLE_PASSWORD`` has at least 12 characters);
- at most ``max_tracked`` clients remembered, the one failing least recently forgotten first: memory stays
  bounded whatever number of addresses fail (each costs a few hundred bytes).
"""

from __future__ import annotations

import ipaddress
import threading
from collections import OrderedDict, deque
from datetime import datetime, timedelta

from ..clock import Clock

LOGIN_FAILURES = 5  # failed logins per client ...
LOGIN_WINDOW = timedelta(minutes=15)  # ... within this window, then 429 until the oldest failure leaves it
GLOBAL_FAILURES = 100  # failed logins from all clients together within the window
MAX_TRACKED = 10_000  # clients remembered at once


def client_key(address: str) -> str:
    """What one client is counted as: its IPv4 address, or the /64 network of its IPv6 one."""
    try:
        found = ipaddress.ip_address(address)
    except ValueError:
        return address[:64]
    if isinstance(found, ipaddress.IPv6Address):
        if found.ipv4_mapped is not None:
            return str(found.ipv4_mapped)
        return str(ipaddress.IPv6Network((found, 64), strict=False))
    return str(found)


class LoginLimiter:
    """At most ``failures`` failed logins per client and ``global_failures`` in all within ``window``; the clock is
    injected."""

    def __init__(self, clock: Clock, failures: int = LOGIN_FAILURES, window: timedelta = LOGIN_WINDOW, *,
                 global_failures: int = GLOBAL_FAILURES, max_tracked: int = MAX_TRACKED):
        self.clock = clock
        self.failures = failures
        self.window = window
        self.max_tracked = max_tracked
        # per client, the times of its last ``failures`` failures, least recently failing first
        self._seen: OrderedDict[str, tuple[datetime, ...]] = OrderedDict()
        self._everyone: deque[datetime] = deque(maxlen=global_failures)
        self._lock = threading.Lock()  # the server's threads share one limiter per process

    @property
    def tracked(self) -> int:
        return len(self._seen)

    def _recent(self, key: str, now: datetime) -> tuple[datetime, ...]:
        cutoff = now - self.window
        times = tuple(when for when in self._seen.get(key, ()) if when > cutoff)
        if not times:
            self._seen.pop(key, None)
        return times

    def blocked_for(self, address: str) -> timedelta | None:
        """How long ``address`` must wait before trying again (its own failures, or everyone's), or None if it may
        try now."""
        now = self.clock()
        with self._lock:
            waits = []
            times = self._recent(client_key(address), now)
            if len(times) >= self.failures:
                waits.append(times[0] + self.window - now)
            everyone = self._everyone
            if everyone.maxlen and len(everyone) == everyone.maxlen and everyone[0] > now - self.window:
                waits.append(everyone[0] + self.window - now)
            return max(waits) if waits else None

    def globally_blocked(self) -> bool:
        """True while the failures of everyone together hold every client back."""
        now = self.clock()
        with self._lock:
            everyone = self._everyone
            return bool(everyone.maxlen and len(everyone) == everyone.maxlen and everyone[0] > now - self.window)

    def failed(self, address: str) -> None:
        now = self.clock()
        key = client_key(address)
        with self._lock:
            self._everyone.append(now)
            self._seen[key] = (*self._recent(key, now), now)[-self.failures:]
            self._seen.move_to_end(key)
            while len(self._seen) > self.max_tracked:
                self._seen.popitem(last=False)

    def succeeded(self, address: str) -> None:
        with self._lock:
            self._seen.pop(client_key(address), None)
