"""One HTTP/1.1 POST under a single deadline, reading a bounded answer: the transport of the ``http`` sender.

requests and urllib3 apply their read timeout to each read of the socket, so a peer that trickles its answer one
byte at a time holds a send for as long as it likes. Here an attempt has one deadline on a monotonic clock:
connecting (the TLS handshake included), sending and reading the answer each wait only for what is left of it; and
no more than ``max_answer`` bytes of the answer (status line, headers and body together) are ever read, so a huge
answer costs a few kilobytes of memory. A connection whose answer was read whole is kept for the next attempt.

The host name is looked up by the system's resolver, whose own timeouts apply (no library can cut
``getaddrinfo`` short); every other step is bounded.
"""

from __future__ import annotations

import base64
import http.client
import io
import select
import socket
import ssl
import time
from collections.abc import Mapping
from dataclasses import dataclass
from email.message import Message
from urllib.parse import unquote, urlsplit

import certifi

MAX_ANSWER = 64 * 1024
CONNECTING, SENDING, WAITING = "connecting", "sending", "waiting for the answer"


class DeadlinePassed(Exception):
    """The attempt's deadline passed; ``phase`` is what it was doing then (``connecting``, ``sending``, ...)."""

    def __init__(self, phase: str):
        super().__init__(phase)
        self.phase = phase


class AnswerTooLarge(Exception):
    """The status line and headers alone are longer than ``max_answer``."""


class _Full(Exception):
    """The reader has read ``max_answer`` bytes: nothing more is read."""


@dataclass(frozen=True)
class Answer:
    status: int
    headers: Message
    complete: bool  # the whole body was read (False: it was longer than what is left of ``max_answer``)


class _Budget:
    def __init__(self, seconds: float):
        self.deadline = time.monotonic() + seconds
        self.phase = CONNECTING

    def left(self) -> float:
        """Seconds left; ``DeadlinePassed`` once there are none."""
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise DeadlinePassed(self.phase)
        return left


class _Reader(io.RawIOBase):
    """The reading side of the socket: each read waits at most for what is left of the deadline, and at most
    ``limit`` bytes are read in all."""

    def __init__(self, sock: socket.socket, budget: _Budget, limit: int):
        super().__init__()
        # through the socket's own file, which keeps the socket open until it is closed itself, as http.client
        # expects when it closes the connection and hands it to a response that still has a body to read
        self.sock, self.raw, self.budget, self.room = sock, sock.makefile("rb", buffering=0), budget, limit

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        if self.room <= 0:
            raise _Full()
        self.sock.settimeout(self.budget.left())
        try:
            count = self.raw.readinto(memoryview(buffer)[:self.room]) or 0
        except TimeoutError:
            raise DeadlinePassed(self.budget.phase) from None
        self.room -= count
        return count

    def close(self) -> None:
        self.raw.close()
        super().close()


class _Source:
    """What ``http.client.HTTPResponse`` reads from: it only ever asks for ``makefile('rb')``."""

    def __init__(self, sock: socket.socket, budget: _Budget, limit: int):
        self.sock, self.budget, self.limit = sock, budget, limit

    def makefile(self, mode: str) -> io.BufferedReader:
        return io.BufferedReader(_Reader(self.sock, self.budget, self.limit))


class _Connection(http.client.HTTPConnection):
    """``http.client``'s connection, with every step held to the attempt's budget."""

    def __init__(self, host: str, port: int, tls: ssl.SSLContext | None, limit: int, budget: _Budget):
        super().__init__(host, port)
        self.tls, self.limit, self.budget = tls, limit, budget

    def connect(self) -> None:
        try:
            sock = socket.create_connection((self.host, self.port), timeout=self.budget.left())
        except TimeoutError:
            raise DeadlinePassed(CONNECTING) from None
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.sock = sock if self.tls is None else _handshake(sock, self.tls, self.host, self.budget)
        except BaseException:
            sock.close()
            raise

    def send(self, data: bytes) -> None:  # type: ignore[override]
        assert self.sock is not None, "connected before sending"
        self.sock.settimeout(self.budget.left())  # sendall's timeout covers the whole call (Python 3.5+)
        try:
            super().send(data)
        except TimeoutError:
            raise DeadlinePassed(SENDING) from None

    def response_class(self, sock: socket.socket, method: str | None = None, **_: object) -> http.client.HTTPResponse:
        return http.client.HTTPResponse(_Source(sock, self.budget, self.limit), method=method)  # type: ignore[arg-type]


def _handshake(sock: socket.socket, context: ssl.SSLContext, host: str, budget: _Budget) -> ssl.SSLSocket:
    """TLS over ``sock`` within the budget: without blocking, as a blocking handshake's timeout is per read."""
    tls = context.wrap_socket(sock, server_hostname=host, do_handshake_on_connect=False)
    tls.setblocking(False)
    while True:
        try:
            tls.do_handshake()
            return tls
        except ssl.SSLWantReadError:
            ready = select.select([tls], [], [], budget.left())[0]
        except ssl.SSLWantWriteError:
            ready = select.select([], [tls], [], budget.left())[1]
        if not ready:
            raise DeadlinePassed(CONNECTING)


def _dropped(sock: socket.socket) -> bool:
    """An idle kept-alive connection that is readable was closed by the peer (or holds data nobody asked for)."""
    try:
        return bool(select.select([sock], [], [], 0)[0])
    except (OSError, ValueError):
        return True


def default_tls() -> ssl.SSLContext:
    """Certificates checked against certifi's bundle: the roots requests trusted before."""
    return ssl.create_default_context(cafile=certifi.where())


class BoundedClient:
    """POSTs to one URL, one attempt at a time, each under its own deadline (``post``)."""

    def __init__(self, url: str, *, max_answer: int = MAX_ANSWER, tls: ssl.SSLContext | None = None):
        parts = urlsplit(url)
        self.secure = parts.scheme == "https"
        self.tls = (tls or default_tls()) if self.secure else None
        host = parts.hostname or ""
        try:
            host = host.encode("idna").decode("ascii")
        except UnicodeError:
            pass  # left as it is: connecting fails, as a transient failure
        self.host, self.port = host, parts.port or (443 if self.secure else 80)
        self.target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        self.max_answer = max_answer
        self.authorization = None  # credentials in the URL are sent as Basic authentication, as requests did
        if parts.username is not None:
            pair = f"{unquote(parts.username)}:{unquote(parts.password or '')}".encode()
            self.authorization = "Basic " + base64.b64encode(pair).decode("ascii")
        self._conn: _Connection | None = None

    def post(self, body: bytes, headers: Mapping[str, str], *, timeout: float) -> Answer:
        """Send ``body`` and read the answer within ``timeout`` seconds in all. ``DeadlinePassed``, ``AnswerTooLarge``,
        ``OSError`` (refused, reset, TLS) or ``http.client.HTTPException`` (a malformed answer) otherwise."""
        budget = _Budget(timeout)
        try:
            conn = self._connection(budget)
            budget.phase = SENDING
            sent = dict(headers)
            if self.authorization and not any(name.lower() == "authorization" for name in sent):
                sent["Authorization"] = self.authorization
            conn.request("POST", self.target, body=body, headers=sent)
            budget.phase = WAITING
            try:
                response = conn.getresponse()
            except _Full:
                raise AnswerTooLarge() from None
            return Answer(response.status, response.headers, self._drain(response))
        except BaseException:
            self.close()
            raise

    def _drain(self, response: http.client.HTTPResponse) -> bool:
        """Read the body (so that the connection can carry the next request); False, and the connection closed,
        when it is longer than the answer may be."""
        try:
            while response.read(16 * 1024):  # in pieces: read() would first allocate a buffer of Content-Length
                pass
        except _Full:
            self.close()
            return False
        if response.will_close:
            self.close()
        return True

    def _connection(self, budget: _Budget) -> _Connection:
        conn = self._conn
        if conn is not None and conn.sock is not None and not _dropped(conn.sock):
            conn.budget = budget
            return conn
        self.close()
        conn = _Connection(self.host, self.port, self.tls, self.max_answer, budget)
        conn.connect()
        self._conn = conn
        return conn

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()
