"""Events counted per client and across all clients in a sliding window, in bounded memory: the console's failed
logins (``console.limiter``) and the unsubscribe page's requests (``web.unsubscribe``).

Pure: addresses and an injected clock in, waits out. Why hand-written rather than Flask-Limiter: see
``console.limiter``. A client is its IPv4 address, or the /64 of its IPv6 one (which one subscriber usually holds
whole); at most ``max_tracked`` clients are remembered, the least recently active forgotten first, so that memory
stays bounded whatever number of addresses come.
"""

from __future__ import annotations

import ipaddress
import threading
from collections import OrderedDict, deque
from datetime import datetime, timedelta

from .clock import Clock

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


class RateLimiter:
    """At most ``limit`` events per client and ``global_limit`` in all within ``window``; the clock is injected."""

    def __init__(self, clock: Clock, limit: int, window: timedelta, *, global_limit: int,
                 max_tracked: int = MAX_TRACKED):
        self.clock = clock
        self.limit = limit
        self.window = window
        self.max_tracked = max_tracked
        # per client, the times of its last ``limit`` events, least recently active first
        self._seen: OrderedDict[str, tuple[datetime, ...]] = OrderedDict()
        self._everyone: deque[datetime] = deque(maxlen=global_limit)
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
        """How long ``address`` must wait before trying again (its own events, or everyone's), or None if it may
        try now."""
        now = self.clock()
        with self._lock:
            waits = []
            times = self._recent(client_key(address), now)
            if len(times) >= self.limit:
                waits.append(times[0] + self.window - now)
            everyone = self._everyone
            if everyone.maxlen and len(everyone) == everyone.maxlen and everyone[0] > now - self.window:
                waits.append(everyone[0] + self.window - now)
            return max(waits) if waits else None

    def globally_blocked(self) -> bool:
        """True while the events of everyone together hold every client back."""
        now = self.clock()
        with self._lock:
            everyone = self._everyone
            return bool(everyone.maxlen and len(everyone) == everyone.maxlen and everyone[0] > now - self.window)

    def hit(self, address: str) -> None:
        """Count one event of ``address``."""
        now = self.clock()
        key = client_key(address)
        with self._lock:
            self._everyone.append(now)
            self._seen[key] = (*self._recent(key, now), now)[-self.limit:]
            self._seen.move_to_end(key)
            while len(self._seen) > self.max_tracked:
                self._seen.popitem(last=False)

    def forget(self, address: str) -> None:
        """Forget the events of ``address``."""
        with self._lock:
            self._seen.pop(client_key(address), None)
