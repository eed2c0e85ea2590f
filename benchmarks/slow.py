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
