"""Slow clients: connections that send an incomplete request and then one byte at a time, and what Segment's own
requests meet meanwhile. Used by the ``slow`` part (the server before and after issue 17, side by side) and by
the system test that holds ``receiver serve`` to its deadlines (tests/system/test_slow_clients.py)."""

from __future__ import annotations

import select
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

HEADERS, BODY = "headers", "body"


@dataclass
class SlowConnection:
    kind: str  # HEADERS: still in its headers; BODY: headers sent, a body announced and trickled
    sock: socket.socket
    opened_at: float
    closed_at: float | None = None
    answer: bytes = b""

    @property
    def lasted(self) -> float | None:
        return None if self.closed_at is None else self.closed_at - self.opened_at


def _opening(kind: str, host: str) -> bytes:
    start = f"POST /segment HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
    if kind == HEADERS:
        return (start + "X-Slow: ").encode()
    return (start + "Content-Length: 1000000\r\n\r\n").encode()


@dataclass
class SlowClients:
    """``count`` slow connections to ``host:port``, half in their headers, half in a body, each sending one more
    byte every ``interval`` seconds until the server closes it or the clients are stopped."""

    host: str
    port: int
    count: int
    interval: float = 0.25
    connections: list[SlowConnection] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def __enter__(self) -> SlowClients:
        for number in range(self.count):
            kind = HEADERS if number % 2 == 0 else BODY
            sock = socket.create_connection((self.host, self.port), timeout=5)
            sock.sendall(_opening(kind, self.host))
            sock.setblocking(False)
            self.connections.append(SlowConnection(kind, sock, time.monotonic()))
        self._thread = threading.Thread(target=self._trickle, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *_exc: Any) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)
        for connection in self.connections:
            connection.sock.close()

    def open_count(self) -> int:
        return sum(connection.closed_at is None for connection in self.connections)

    def _trickle(self) -> None:
        while not self._stop.wait(self.interval):
            for connection in self.connections:
                if connection.closed_at is None:
                    self._step(connection)

    @staticmethod
    def _step(connection: SlowConnection) -> None:
        readable, _, _ = select.select([connection.sock], [], [], 0)
        try:
            if readable:
                data = connection.sock.recv(65536)
                connection.answer += data
                if not data:  # the server closed it
                    connection.closed_at = time.monotonic()
                return
            connection.sock.send(b"a" if connection.kind == HEADERS else b" ")
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            connection.closed_at = time.monotonic()


def timed_requests(send: Callable[[int], bool], count: int, threads: int) -> tuple[list[float], int]:
    """``send(number)`` for each of ``count`` numbers over ``threads`` threads: each call's seconds (a call that
    raised counts as failed, with the time it took), and how many failed."""
    latencies: list[float] = []
    failed = [0]
    lock = threading.Lock()
    numbers = iter(range(count))

    def work() -> None:
        while True:
            with lock:
                number = next(numbers, None)
            if number is None:
                return
            started = time.perf_counter()
            try:
                ok = send(number)
            except Exception:  # noqa: BLE001 - a timeout or a reset is a failed request, counted
                ok = False
            with lock:
                latencies.append(time.perf_counter() - started)
                failed[0] += not ok

    workers = [threading.Thread(target=work) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return latencies, failed[0]


# -- the ``slow`` part: Segment's requests among 200 slow connections, this server and gthread ----------------------

SLOW_CONNECTIONS = 200


def segment_poster(url: str, seed: dict[str, Any], prefix: str, timeout: float = 10.0) -> Callable[[int], bool]:
    """A ``send`` for ``timed_requests``: the seed event with its own ids, one kept-alive session per thread."""
    import requests

    from .harness import API_KEY, basic_auth
    from .load import order_event

    local = threading.local()

    def send(number: int) -> bool:
        if not hasattr(local, "session"):
            local.session = requests.Session()
        response = local.session.post(f"{url}/segment", json=order_event(seed, f"{prefix}-{number}"), timeout=timeout,
                                      headers={"Authorization": basic_auth(API_KEY)})
        return response.status_code == 200

    return send


def among_slow_clients(url: str, seed: dict[str, Any], prefix: str, count: int) -> tuple[list[float], int, int]:
    """Segment's requests while ``SLOW_CONNECTIONS`` slow clients trickle: latencies, failures, slow ones still open."""
    from urllib.parse import urlsplit

    where = urlsplit(url)
    with SlowClients(where.hostname or "127.0.0.1", where.port or 80, SLOW_CONNECTIONS) as clients:
        latencies, failed = timed_requests(segment_poster(url, seed, prefix), count, threads=4)
        return latencies, failed, clients.open_count()


def bench_slow(setup: Any, report: Any) -> None:
    from .harness import GTHREAD, RECEIVER, keys_environ, percentile, server
    from .report import fmt_ms

    count = 40 if setup.quick else 60  # gthread answers none: each waits out its 10 s, four at a time
    print(f"slow clients: {count} Segment requests (4 threads, 10 s timeout) among {SLOW_CONNECTIONS} connections "
          f"trickling their headers or body, {setup.workers} web processes, SQLite; this server, then gthread", flush=True)
    found = {}
    for kind in (RECEIVER, GTHREAD):
        environ = keys_environ(f"sqlite:///{setup.workdir / f'slow-{kind}.db'}", setup.workdir)
        with server(kind, environ, setup.workdir, setup.workers) as url:
            calm, _ = timed_requests(segment_poster(url, setup.seed, f"calm-{kind}"), count, threads=4)
            latencies, failed, still_open = among_slow_clients(url, setup.seed, f"slow-{kind}", count)
        found[kind] = (percentile(calm, 0.99), percentile(latencies, 0.99), failed, still_open)
    ours, old = found[RECEIVER], found[GTHREAD]
    report.add("slow", f"p99 without slow clients ({count} requests)", fmt_ms(ours[0]), fmt_ms(old[0]),
               f"{ours[0] / old[0]:.2f}")
    report.add("slow", f"p99 among {SLOW_CONNECTIONS} slow connections", fmt_ms(ours[1]), fmt_ms(old[1]),
               f"{ours[1] / old[1]:.2f}", "p99 < 1 s", ours[1] < 1.0 and ours[2] == 0)
    report.add("slow", f"requests failed or past 10 s, of {count}", str(ours[2]), str(old[2]), "")
    report.note(f"slow: slow connections still open when the requests were done: {ours[3]} (this server), "
                f"{old[3]} (gthread); this server closes them at HEADER_TIMEOUT / BODY_TIMEOUT (10 s / 30 s)")
