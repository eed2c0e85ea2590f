"""``receiver serve``'s HTTP server itself, over raw sockets: what it answers before the app sees a request is
JSON too; SIGTERM lets the request in hand finish; no control socket is left in a shared place; an open /metrics
is announced at start."""

import json
import os
import signal
import socket
import time

import pytest

from support.data import base_env, basic_auth, fixture
from support.serving import receiver_serve


def exchange(port, raw, wait=10.0):
    """Send ``raw`` on a fresh connection and read the answer until the server closes it: (status, head, body)."""
    with socket.create_connection(("127.0.0.1", port), timeout=wait) as sock:
        sock.sendall(raw)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    return int(head.split()[1]), head.decode("latin-1"), body


@pytest.fixture
def served(tmp_path):
    env = {**os.environ, **base_env(DATABASE_URL=f"sqlite:///{tmp_path / 'r.db'}", MAX_BODY="4KB",
                                    WEB_CONCURRENCY="1"), "HOME": str(tmp_path), "XDG_RUNTIME_DIR": str(tmp_path)}
    with receiver_serve(env, tmp_path) as served:
        served.port = int(served.url.rsplit(":", 1)[1])
        yield served


def request(head, body=b""):
    return head.replace("\n", "\r\n").encode() + b"\r\n" + body


@pytest.mark.parametrize("raw, status", [
    (request("POST /segment HTTP/1.1\nHost: x\nThis is no header\n"), 400),
    (request("GET /healthz HTTP/1.1\nHost: x\nContent-Length: nine\n"), 400),
    (request("GET /" + "a" * 70_000 + " HTTP/1.1\nHost: x\n"), 431),
    (request("POST /segment HTTP/1.1\nHost: x\nX-Big: " + "b" * 70_000 + "\n"), 431),
    (request("POST /segment HTTP/1.1\nHost: x\nContent-Length: 5000\n"), 413),
    (request("POST /segment HTTP/1.1\nHost: x\nTransfer-Encoding: chunked\n",
             b"".join(b"3e8\r\n" + b" " * 1000 + b"\r\n" for _ in range(5)) + b"0\r\n\r\n"), 413),
    (request("POST /v1/batch HTTP/1.1\nHost: x\nTransfer-Encoding: gzip\n"), 501),
])
def test_what_the_server_refuses_itself_is_json(served, raw, status):
    got, head, body = exchange(served.port, raw)
    assert got == status and "Content-Type: application/json" in head
    answer = json.loads(body)
    assert set(answer) <= {"code", "message"} and answer["message"]
    assert "waitress" not in head.lower() + body.decode().lower()


def test_sigterm_lets_the_request_in_hand_finish_and_the_server_exit(served):
    body = json.dumps(fixture("order-completed-seed.json")).encode()
    headers = "".join(f"{name}: {value}\r\n" for name, value in basic_auth().items())
    with socket.create_connection(("127.0.0.1", served.port), timeout=20) as sock:
        sock.sendall(f"POST /segment HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n{headers}"
                     f"Content-Length: {len(body)}\r\n\r\n".encode() + body[:100])
        time.sleep(0.3)  # the request is being read when the stop comes
        os.killpg(served.process.pid, signal.SIGTERM)
        time.sleep(0.5)
        sock.sendall(body[100:])
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 200 ") and b'"status":"accepted"' in answer
    assert served.process.wait(20) == 0
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", served.port), timeout=2).close()


def test_no_control_socket_is_made(served, tmp_path):
    assert exchange(served.port, request("GET /healthz HTTP/1.0\n"))[0] == 200
    made = [path.name for path in tmp_path.rglob("*") if path.is_socket() or path.suffix == ".ctl"]
    assert made == []


def test_an_open_metrics_page_is_announced_once_at_start(served):
    assert served.output().count("METRICS_TOKEN is not set: /metrics") == 1


def test_with_a_metrics_token_nothing_is_announced(tmp_path):
    env = {**os.environ, **base_env(DATABASE_URL=f"sqlite:///{tmp_path / 'r.db'}", METRICS_TOKEN="t0ken-of-the-test")}
    with receiver_serve(env, tmp_path) as served:
        assert exchange(int(served.url.rsplit(":", 1)[1]), request("GET /metrics HTTP/1.0\n"))[0] == 401
    assert "METRICS_TOKEN" not in served.output()
