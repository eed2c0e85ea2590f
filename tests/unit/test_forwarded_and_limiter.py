"""Whose X-Forwarded-* to believe, and the login limiter's bounds (issue 17 §8): pure, no server."""

from __future__ import annotations

import tracemalloc
from datetime import timedelta

import pytest

from receiver.console.limiter import LoginLimiter, client_key
from receiver.forwarded import TrustedProxies, parse_trusted_proxies
from support.clock import FakeClock

HEROKU = parse_trusted_proxies("*")


@pytest.mark.parametrize(("trusted", "peer", "forwarded", "client"), [
    ("*", "10.1.2.3", "203.0.113.7", "203.0.113.7"),  # the router appended the client
    ("*", "10.1.2.3", "198.51.100.1, 203.0.113.7", "203.0.113.7"),  # what the client wrote itself is not believed
    ("*", "10.1.2.3", "", "10.1.2.3"),
    ("*", "10.1.2.3", "not-an-address", "10.1.2.3"),
    ("*", "10.1.2.3", "2001:db8::1", "2001:db8::1"),
    ("*", "10.1.2.3", "::ffff:203.0.113.7", "203.0.113.7"),
    ("none", "10.1.2.3", "203.0.113.7", "10.1.2.3"),  # reached directly: the header is the client's own words
    ("10.0.0.0/8", "203.0.113.9", "198.51.100.1", "203.0.113.9"),  # not a listed proxy: not believed
    ("10.0.0.0/8", "10.1.2.3", "198.51.100.1", "198.51.100.1"),
    ("*,173.245.48.0/20", "10.1.2.3", "198.51.100.1, 173.245.48.5", "198.51.100.1"),  # a CDN before the router
    ("*,173.245.48.0/20", "10.1.2.3", "bogus, 173.245.48.5", "173.245.48.5"),
    ("10.0.0.0/8", "10.1.2.3", "10.9.9.9, 10.8.8.8", "10.9.9.9"),
])
def test_the_client_is_read_from_the_right_as_far_as_believed_proxies_wrote(trusted, peer, forwarded, client):
    assert parse_trusted_proxies(trusted).client(peer, [forwarded]) == client


def test_the_scheme_is_the_believed_proxys():
    assert HEROKU.scheme("10.1.2.3", "https", "http") == "https"
    assert HEROKU.scheme("10.1.2.3", "javascript", "http") == "http"
    assert parse_trusted_proxies("none").scheme("10.1.2.3", "https", "http") == "http"


@pytest.mark.parametrize("text", ["10.0.0.0/33", "router.example.com", "*,none", "1.2.3.4.5"])
def test_what_is_not_an_address_or_network_is_refused(text):
    with pytest.raises(ValueError):
        parse_trusted_proxies(text)


def test_none_believes_no_one():
    assert parse_trusted_proxies(" NONE ") == TrustedProxies(any_peer=False)
    assert not parse_trusted_proxies("none").believes_anyone


# -- the limiter --------------------------------------------------------------------------------------

def test_an_ipv6_client_counts_as_its_64():
    assert client_key("2001:db8:1:2:aaaa::1") == client_key("2001:db8:1:2:bbbb::2") == "2001:db8:1:2::/64"
    assert client_key("::ffff:203.0.113.7") == client_key("203.0.113.7") == "203.0.113.7"


def test_a_spread_of_addresses_is_stopped_by_the_global_count():
    clock = FakeClock()
    limiter = LoginLimiter(clock, failures=5, window=timedelta(minutes=15), global_failures=100)
    for number in range(100):
        assert limiter.blocked_for(f"198.51.{number // 250}.{number % 250}") is None
        limiter.failed(f"198.51.{number // 250}.{number % 250}")
    assert limiter.blocked_for("203.0.113.200") == timedelta(minutes=15)  # a newcomer waits too
    assert limiter.globally_blocked()
    clock.advance(minutes=15)
    assert limiter.blocked_for("203.0.113.200") is None and not limiter.globally_blocked()


def test_memory_stays_bounded_whatever_the_number_of_addresses():
    clock = FakeClock()
    limiter = LoginLimiter(clock, max_tracked=100)
    addresses = [f"10.{number >> 16 & 255}.{number >> 8 & 255}.{number & 255}" for number in range(25_000)]
    for address in addresses[:5_000]:
        limiter.failed(address)
    tracemalloc.start()
    before, _ = tracemalloc.get_traced_memory()
    for address in addresses[5_000:]:
        limiter.failed(address)
    grown = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    assert limiter.tracked == 100
    assert grown < 256 * 1024, f"grew {grown} bytes over 20,000 more addresses"  # unbounded: about 5 MB
    assert addresses[-1] in limiter._seen and addresses[0] not in limiter._seen  # the most recent are kept


def test_the_least_recently_failing_client_is_forgotten_first():
    clock = FakeClock()
    limiter = LoginLimiter(clock, failures=2, max_tracked=2)
    limiter.failed("a")
    limiter.failed("b")
    limiter.failed("a")  # a failed again: b is now the least recent
    limiter.failed("c")
    assert set(limiter._seen) == {"a", "c"}
    assert limiter.blocked_for("a") is not None
