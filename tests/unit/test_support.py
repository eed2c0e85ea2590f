"""The tests' own wait helper: it returns as soon as the condition holds, and fails by name at its deadline."""

import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from support.net import free_port
from support.wait import WaitTimeout, wait_for_server, wait_until


def test_wait_until_returns_the_first_true_value():
    answers = iter([None, 0, "", "ready", "later"])
    assert wait_until(lambda: next(answers), "an answer", interval=0) == "ready"


def test_wait_until_fails_at_its_deadline_naming_what_never_happened():
    started = time.monotonic()
    with pytest.raises(WaitTimeout, match=r"^gave up after 0.2 s waiting for the moon to rise$"):
        wait_until(lambda: False, "the moon to rise", timeout=0.2, interval=0.01)
    assert 0.2 <= time.monotonic() - started < 2


def test_wait_until_retries_the_exceptions_it_ignores_and_names_the_last():
    def refused():
        raise ConnectionRefusedError

    with pytest.raises(WaitTimeout, match=r"\(the last attempt: ConnectionRefusedError\)$"):
        wait_until(refused, "a connection", timeout=0.1, interval=0.01, ignoring=(ConnectionError,))


def test_wait_until_lets_any_other_exception_through_at_once():
    with pytest.raises(ZeroDivisionError):
        wait_until(lambda: 1 / 0, "arithmetic", timeout=30, ignoring=(ConnectionError,))


def test_wait_for_server_returns_the_first_answer_whatever_its_status():
    class NotFound(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - http.server's naming
            self.send_error(404)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), NotFound)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    try:
        assert wait_for_server(f"http://127.0.0.1:{server.server_port}/healthz").status_code == 404
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def test_wait_for_server_fails_at_once_when_the_server_process_has_exited():
    process = subprocess.Popen([sys.executable, "-c", "raise SystemExit(3)"])
    process.wait(30)
    started = time.monotonic()
    with pytest.raises(AssertionError, match="exited with status 3 before"):
        wait_for_server(f"http://127.0.0.1:{free_port()}/healthz", process=process, timeout=30)
    assert time.monotonic() - started < 5


def test_wait_for_server_gives_up_on_a_port_nobody_listens_on():
    with pytest.raises(WaitTimeout, match=r"/healthz to answer \(the last attempt: ConnectionError\)$"):
        wait_for_server(f"http://127.0.0.1:{free_port()}/healthz", timeout=0.3)
