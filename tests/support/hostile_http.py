"""A callback endpoint that misbehaves on purpose, on a real socket on 127.0.0.1: it trickles its answer a byte at
a time, sends a body of a gigabyte (generated as it goes, never held), answers after a long pause, or puts the
customer's name and address in its reason phrase, body and ``Location``.

Each connection reads one request (headers and ``Content-Length`` body), records it, then plays ``answer``: a
function given the connection's socket and the request, which writes whatever it likes.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field


@dataclass
class Hostile:
    url: str = ""
    requests: list[bytes] = field(default_factory=list)  # the bodies received, in order
    sent: int = 0  # bytes of answers written, over every connection
    lock: threading.Lock = field(default_factory=threading.Lock)

    def wrote(self, count: int) -> None:
        with self.lock:
            self.sent += count


Answer = Callable[[socket.socket, Hostile], None]


def _read_request(conn: socket.socket) -> bytes | None:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return None
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    while len(body) < length:
        chunk = conn.recv(65536)
        if not chunk:
            return None
        body += chunk
    return body


@contextmanager
def hostile_server(answer: Answer) -> Iterator[Hostile]:
    """A server playing ``answer`` on every request; yields its state, ``url`` included."""
    hostile = Hostile()
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.1)
    stopping = threading.Event()

    def serve(conn: socket.socket) -> None:
        with conn:
            while not stopping.is_set():
                body = _read_request(conn)
                if body is None:
                    return
                with hostile.lock:
                    hostile.requests.append(body)
                try:
                    answer(conn, hostile)
                except OSError:  # the client gave up on us: what the tests want to see
                    return

    def accept() -> None:
        while not stopping.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=serve, args=(conn,), daemon=True).start()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    hostile.url = f"http://127.0.0.1:{listener.getsockname()[1]}/hooks/trustpilot"
    try:
        yield hostile
    finally:
        stopping.set()
        thread.join(5)
        listener.close()


def _write(conn: socket.socket, hostile: Hostile, data: bytes) -> None:
    conn.sendall(data)
    hostile.wrote(len(data))


def trickle_headers(conn: socket.socket, hostile: Hostile) -> None:
    """A status line, then a header one byte a second, for ever."""
    _write(conn, hostile, b"HTTP/1.1 200 OK\r\nX-Slow: ")
    while True:
        time.sleep(1)
        _write(conn, hostile, b"a")


def trickle_body(conn: socket.socket, hostile: Hostile) -> None:
    """A 200 promising a kilobyte, then one byte of it a second."""
    _write(conn, hostile, b"HTTP/1.1 200 OK\r\nContent-Length: 1024\r\n\r\n")
    while True:
        time.sleep(1)
        _write(conn, hostile, b"x")


GIB = 1024 ** 3


def gigabyte_body(conn: socket.socket, hostile: Hostile) -> None:
    """A 200 with a body of 1 GiB, written 64 KiB at a time as long as the client reads."""
    _write(conn, hostile, f"HTTP/1.1 200 OK\r\nContent-Length: {GIB}\r\n\r\n".encode())
    chunk = b"\0" * 65536
    for _ in range(GIB // len(chunk)):
        _write(conn, hostile, chunk)


def after(seconds: float, status: int = 200) -> Answer:
    """The answer ``status`` after ``seconds`` of silence."""
    def answer(conn: socket.socket, hostile: Hostile) -> None:
        time.sleep(seconds)
        _write(conn, hostile, f"HTTP/1.1 {status} X\r\nContent-Length: 0\r\n\r\n".encode())

    return answer


def personal(status: int, reason: str, *, location: str | None = None, body: str = "") -> Answer:
    """An answer whose reason phrase, ``Location`` and body say whatever the test puts there (UTF-8)."""
    def answer(conn: socket.socket, hostile: Hostile) -> None:
        encoded = body.encode()
        head = f"HTTP/1.1 {status} {reason}\r\nContent-Length: {len(encoded)}\r\n"
        if location is not None:
            head += f"Location: {location}\r\n"
        _write(conn, hostile, head.encode() + b"\r\n" + encoded)

    return answer
