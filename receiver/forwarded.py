"""Whose ``X-Forwarded-For`` and ``X-Forwarded-Proto`` to believe (``TRUSTED_PROXIES``), and the client they name.

Pure: text in, addresses out. A proxy appends the address that connected to it to ``X-Forwarded-For``, so the
list is read from the right, and only as far as trusted proxies wrote it; whatever the client itself wrote, to
the left, is never believed.

``TRUSTED_PROXIES`` is a comma-separated list of:
- ``*``: whatever connects is the platform's router (Heroku's has no fixed addresses, and is the only way in to a
  web dyno): its last ``X-Forwarded-For`` entry, the one it appended, is the client; the default;
- addresses and networks (``10.0.0.0/8``, ``127.0.0.1``): proxies believed when they connect, and skipped when
  they appear in ``X-Forwarded-For`` (a CDN in front of the router);
- ``none`` alone: believe no header (the service is reached directly).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
HEROKU_STYLE = "*"


@dataclass(frozen=True)
class TrustedProxies:
    any_peer: bool  # ``*``: the connecting peer is believed, whoever it is
    networks: tuple[Network, ...] = ()

    @property
    def believes_anyone(self) -> bool:
        return self.any_peer or bool(self.networks)

    def listed(self, address: str) -> bool:
        found = _address(address)
        return found is not None and any(found in network for network in self.networks)

    def believes(self, peer: str) -> bool:
        return self.any_peer or self.listed(peer)

    def client(self, peer: str, forwarded_for: Iterable[str]) -> str:
        """The client's address: ``peer`` unless it is believed; else, reading ``X-Forwarded-For`` from the right,
        the first entry that is not a listed proxy (an entry that is no address stops the walk at the proxy that
        wrote it)."""
        if not self.believes(peer):
            return peer
        entries = [entry.strip() for value in forwarded_for for entry in value.split(",")]
        current = peer
        for entry in reversed(entries):
            found = _address(entry)
            if found is None:
                return current
            current = str(found)
            if not self.listed(current):
                break
        return current

    def scheme(self, peer: str, forwarded_proto: str | None, default: str) -> str:
        """``http`` or ``https`` as the believed proxy saw it (the last value it set); ``default`` otherwise."""
        if not forwarded_proto or not self.believes(peer):
            return default
        last = forwarded_proto.split(",")[-1].strip().lower()
        return last if last in ("http", "https") else default


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        found = ipaddress.ip_address(text)
    except ValueError:
        return None
    return found.ipv4_mapped or found if isinstance(found, ipaddress.IPv6Address) else found


def parse_trusted_proxies(text: str) -> TrustedProxies:
    """``TRUSTED_PROXIES``'s text as a ``TrustedProxies``; ``ValueError`` names the first item that is none."""
    items = [item.strip() for item in text.split(",") if item.strip()]
    if [item.lower() for item in items] == ["none"]:
        return TrustedProxies(any_peer=False)
    any_peer, networks = False, []
    for number, item in enumerate(items, start=1):
        if item == "*":
            any_peer = True
            continue
        if item.lower() == "none":
            raise ValueError("none stands alone: it believes no proxy")
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            raise ValueError(f"item {number} is not *, none, an IP address or a network such as 10.0.0.0/8") from None
    return TrustedProxies(any_peer=any_peer, networks=tuple(networks))


class BelieveProxies:
    """WSGI middleware: ``REMOTE_ADDR`` and ``wsgi.url_scheme`` become the client's as ``trusted`` proxies report
    them (the connecting address is kept as ``receiver.peer``); with no proxy trusted, nothing changes."""

    def __init__(self, app: Callable[..., Any], trusted: TrustedProxies):
        self.app, self.trusted = app, trusted

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        peer = environ.get("REMOTE_ADDR") or ""
        environ["receiver.peer"] = peer
        if self.trusted.believes(peer):
            environ["REMOTE_ADDR"] = self.trusted.client(peer, [environ.get("HTTP_X_FORWARDED_FOR", "")])
            environ["wsgi.url_scheme"] = self.trusted.scheme(peer, environ.get("HTTP_X_FORWARDED_PROTO"),
                                                             environ.get("wsgi.url_scheme", "http"))
        return self.app(environ, start_response)
