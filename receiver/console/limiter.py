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

from datetime import timedelta

from ..clock import Clock
from ..ratelimit import MAX_TRACKED, RateLimiter, client_key

LOGIN_FAILURES = 5  # failed logins per client ...
LOGIN_WINDOW = timedelta(minutes=15)  # ... within this window, then 429 until the oldest failure leaves it
GLOBAL_FAILURES = 100  # failed logins from all clients together within the window


class LoginLimiter(RateLimiter):
    """At most ``failures`` failed logins per client and ``global_failures`` in all within ``window``; a success
    forgets the client's failures; the clock is injected."""

    def __init__(self, clock: Clock, failures: int = LOGIN_FAILURES, window: timedelta = LOGIN_WINDOW, *,
                 global_failures: int = GLOBAL_FAILURES, max_tracked: int = MAX_TRACKED):
        super().__init__(clock, failures, window, global_limit=global_failures, max_tracked=max_tracked)

    def failed(self, address: str) -> None:
        self.hit(address)

    def succeeded(self, address: str) -> None:
        self.forget(address)


__all__ = ["GLOBAL_FAILURES", "LOGIN_FAILURES", "LOGIN_WINDOW", "MAX_TRACKED", "LoginLimiter", "client_key"]
