"""The tests' wait for a server, against a real one on 127.0.0.1 and a port nobody listens on."""

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from support.net import free_port
from support.wait import WaitTimeout, wait_for_server


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


def test_wait_for_server_gives_up_on_a_port_nobody_listens_on():
    with pytest.raises(WaitTimeout, match=r"/healthz to answer \(the last attempt: ConnectionError\)$"):
        wait_for_server(f"http://127.0.0.1:{free_port()}/healthz", timeout=0.3)
