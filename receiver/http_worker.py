"""The web processes' HTTP server: gunicorn's master forks, supervises and stops them; in each one, waitress's event
loop reads every request whole (its headers, then its body) before one of the threads runs the app.

A slow or stalled client therefore holds a socket, never a thread: with gthread a client sending one byte every
two seconds kept a thread for as long as it liked, and eight of them stopped all intake. Here each request must
have its headers within ``header_timeout`` of its first byte and its body within ``body_timeout`` of its headers,
or it is answered 408 and its connection closed; a connection with nothing to say is closed after
``idle_timeout``. Every answer the server gives itself (a malformed request, headers or a body too large, a
deadline missed) is JSON, like the app's own errors.

What this reaches of waitress beyond its documented options: the channel, parser, task and server classes it
subclasses (their ``received``, ``get_environment``, ``execute`` and ``maintenance`` hooks, and the channel's
``readable``, ``handle_read`` and ``handle_close`` for the lingering close), and ``wasyncore.loop`` for one pass of
its event loop at a time, so that the gunicorn worker can beat its heartbeat between passes.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import time
from dataclasses import dataclass, replace
from typing import Any

from gunicorn.workers.base import Worker
from waitress import wasyncore
from waitress.adjustments import Adjustments
from waitress.channel import HTTPChannel
from waitress.parser import HTTPRequestParser
from waitress.server import TcpWSGIServer
from waitress.task import ErrorTask, ThreadedTaskDispatcher, WSGITask

from .web.app import RECEIVED_AT
from .web.errors import ERROR_CODES

log = logging.getLogger("receiver.server")

LOOP_SECONDS = 1.0  # one pass of the event loop waits at most this: the heartbeat and the deadlines' precision
LINGER_SECONDS = 2.0  # after an answer given before the request was read whole, the rest is read and dropped


@dataclass(frozen=True)
class RequestLimits:
    """What a client gets to send one request: deadlines in seconds, sizes in bytes."""

    header_timeout: float = 10.0
    body_timeout: float = 30.0
    max_body: int = 16 * 1024 * 1024
    idle_timeout: float = 5.0  # a kept-alive (or fresh) connection with no request begun
    max_header: int = 64 * 1024  # the request line and every header together


def error_body(status: int, message: str, path: str = "") -> bytes:
    """The JSON of an error, shaped as the app's own (``code`` too on the Tracking API's paths)."""
    body: dict[str, Any] = {"message": message}
    if path.startswith("/v1/"):
        body = {"code": ERROR_CODES.get(status, "error"), **body}
    return json.dumps(body).encode()


class _Parser(HTTPRequestParser):
    """The request parser, noting when the request began, when its headers ended and when it was complete."""

    headers_at: float | None = None
    received_at: float | None = None

    def __init__(self, adj: Adjustments):
        super().__init__(adj)
        self.started_at = time.monotonic()  # made when the request's first bytes arrive

    def received(self, data: bytes) -> int:
        consumed = super().received(data)
        if self.headers_finished and self.headers_at is None:
            self.headers_at = time.monotonic()
        if self.completed and self.received_at is None:
            self.received_at = time.monotonic()
        return consumed

    def late(self, now: float, limits: RequestLimits) -> str | None:
        """Why the request missed its deadline at ``now``, if it did."""
        if self.headers_at is None:
            if now - self.started_at > limits.header_timeout:
                return f"The request's headers did not arrive within {limits.header_timeout:g}s"
        elif now - self.headers_at > limits.body_timeout:
            return f"The request's body did not arrive within {limits.body_timeout:g}s"
        return None


class _Task(WSGITask):
    def get_environment(self) -> dict[str, Any]:
        environ: dict[str, Any] = super().get_environment()
        environ[RECEIVED_AT] = self.request.received_at
        return environ


class _JsonErrorTask(ErrorTask):
    """waitress's own answers (400 for a malformed request, 413, 431, 501, a 500 outside the app) as JSON."""

    def execute(self) -> None:
        error = self.request.error
        path = getattr(self.request, "path", "") or ""
        log.info("refused a request: %s %s", error.code, error.reason)
        body = error_body(error.code, error.reason, path)
        self.status = f"{error.code} {error.reason}"
        self.response_headers.append(("Content-Type", "application/json"))
        self.set_close_on_finish()
        self.channel.linger = True
        self.content_length = len(body)
        self.write(body)


class _Channel(HTTPChannel):
    """waitress's channel with deadlines, and a lingering close after an early answer: closing a socket with
    unread input makes the kernel send a reset, which can reach the client before it read the answer."""

    parser_class = _Parser
    task_class = _Task
    error_task_class = _JsonErrorTask
    linger = False  # close by lingering: set when the answer came before the request was read whole
    lingering_since: float | None = None

    def handle_close(self) -> None:
        if self.linger and self.lingering_since is None and self.connected:
            try:
                self.socket.shutdown(socket.SHUT_WR)  # the answer is complete: the client reads it, then EOF
            except OSError:
                pass
            else:
                self.lingering_since = time.monotonic()
                self.will_close = self.close_when_flushed = False
                return
        super().handle_close()

    def handle_read(self) -> None:
        if self.lingering_since is None:
            super().handle_read()
            return
        try:
            self.recv(self.adj.recv_bytes)  # dropped; at EOF wasyncore closes the channel itself
        except OSError:
            super().handle_close()

    def readable(self) -> bool:
        return self.lingering_since is not None or bool(super().readable())

    def enforce_deadlines(self, now: float, limits: RequestLimits) -> None:
        """Answer 408 and close when the request being read missed its deadline, or stalled for the idle timeout
        (main thread only)."""
        if self.lingering_since is not None:
            if now - self.lingering_since > LINGER_SECONDS:
                super().handle_close()
            return
        request = self.request
        # while an earlier request of the connection is answered, the next one waits (its clock still runs)
        if request is None or self.requests or self.will_close or self.close_when_flushed:
            return
        reason = request.late(now, limits)
        if reason is None and time.time() - self.last_activity > min(limits.idle_timeout, limits.header_timeout):
            reason = f"Nothing more of the request arrived for {min(limits.idle_timeout, limits.header_timeout):g}s"
        if reason is None:
            return
        log.info("answered 408 and closed the connection: %s", reason)
        with self.requests_lock:
            self.request = None
        body = error_body(408, reason, getattr(request, "path", "") or "")
        self._write_now(b"HTTP/1.1 408 Request Timeout\r\nContent-Type: application/json\r\n"
                        b"Connection: close\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
        self.close_when_flushed = self.linger = True

    def _write_now(self, payload: bytes) -> None:
        with self.outbuf_lock:
            self.outbufs[-1].append(payload)
            self.current_outbuf_count += len(payload)
            self.total_outbufs_len += len(payload)

    @property
    def busy(self) -> bool:
        """A request is being read, answered or its answer written."""
        return bool(self.request is not None or self.requests or self.total_outbufs_len)


class _Server(TcpWSGIServer):
    channel_class = _Channel
    limits = RequestLimits()

    def maintenance(self, now: float) -> None:
        clock = time.monotonic()
        for channel in list(self.active_channels.values()):
            channel.enforce_deadlines(clock, self.limits)
        super().maintenance(now)  # then the idle connections, by waitress's channel_timeout


def adjustments(limits: RequestLimits, threads: int, connections: int) -> Adjustments:
    return Adjustments(
        threads=threads,
        connection_limit=connections,
        channel_timeout=min(limits.idle_timeout, limits.header_timeout),
        cleanup_interval=LOOP_SECONDS,
        max_request_header_size=limits.max_header,
        max_request_body_size=limits.max_body + 1,  # waitress refuses a body of this size or more
        asyncore_use_poll=True,  # no select(): its 1,024 descriptors are too few for many slow clients
        ident="receiver",
        clear_untrusted_proxy_headers=False,  # the X-Forwarded-* headers reach the app as under gunicorn
        expose_tracebacks=False,
        log_socket_errors=False,
    )


class WaitressWorker(Worker):
    """A gunicorn worker class serving its sockets with waitress; see the module's docstring."""

    limits = RequestLimits()

    @classmethod
    def with_limits(cls, limits: RequestLimits) -> type[WaitressWorker]:
        """This class with ``limits``: gunicorn is handed a class, and forks the workers from it."""
        return type(cls.__name__, (cls,), {"limits": limits, "__module__": cls.__module__})

    def run(self) -> None:
        socket_map: dict[int, Any] = {}
        dispatcher = ThreadedTaskDispatcher()
        dispatcher.set_thread_count(self.cfg.threads)
        if self.cfg.keepalive > 0:  # gunicorn's keepalive: how long an idle connection is kept
            self.limits = replace(self.limits, idle_timeout=self.cfg.keepalive)
        adj = adjustments(self.limits, self.cfg.threads, self.cfg.worker_connections)
        servers = [self._server(listener.sock, socket_map, dispatcher, adj) for listener in self.sockets]
        beat = 0.0
        while self.alive:
            if time.monotonic() - beat >= LOOP_SECONDS:  # the heartbeat is a system call: once a second is enough
                self.notify()
                beat = time.monotonic()
            wasyncore.loop(timeout=LOOP_SECONDS, map=socket_map, use_poll=True, count=1)
            if self.ppid != os.getppid():
                log.info("the master process is gone: stopping")
                break
        self._stop(servers, socket_map, dispatcher)

    def _server(self, sock: Any, socket_map: dict[int, Any], dispatcher: ThreadedTaskDispatcher,
                adj: Adjustments) -> _Server:
        server_class = type("_Server", (_Server,), {"limits": self.limits})
        sockinfo = (sock.family, sock.type, sock.proto, sock.getsockname())
        return server_class(self.wsgi, map=socket_map, _sock=sock, dispatcher=dispatcher, adj=adj, bind_socket=False,
                            sockinfo=sockinfo)

    def _stop(self, servers: list[_Server], socket_map: dict[int, Any], dispatcher: ThreadedTaskDispatcher) -> None:
        """Take no new connection, finish the requests in hand (within gunicorn's graceful timeout, less a margin
        for the rest of the exit), close idle connections as they become idle."""
        for server in servers:
            server.accepting = False
        deadline = time.monotonic() + max(1.0, self.cfg.graceful_timeout - 3)
        while time.monotonic() < deadline:
            channels = [channel for server in servers for channel in server.active_channels.values()]
            for channel in channels:
                if not channel.busy:
                    channel.will_close = True
            if not any(channel.busy for channel in channels):
                break
            self.notify()
            wasyncore.loop(timeout=0.1, map=socket_map, use_poll=True, count=1)
        dispatcher.shutdown(cancel_pending=True, timeout=1)
        wasyncore.close_all(socket_map)
