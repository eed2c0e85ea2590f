"""A local HTTP sink that records what the workers deliver, and can hold a request in flight."""

import json
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Sink:
    def __init__(self):
        self.received: Counter[int] = Counter()
        self.lock = threading.Lock()
        self.arrived = threading.Condition(self.lock)
        self.hold = threading.Event()  # while set, requests wait for ``release``
        self.released = threading.Event()
        sink = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):  # noqa: N802 - http.server's naming
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                # the test sender posts {"id": ...}; SENDER=http posts the callback body {"data": {"id": "..."}}
                invitation_id = int(body["data"]["id"]) if "data" in body else body["id"]
                with sink.arrived:
                    sink.received[invitation_id] += 1
                    sink.arrived.notify_all()
                if sink.hold.is_set():
                    sink.released.wait(60)
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_port}/"
        # a short poll interval: shutdown() waits up to one interval (serve_forever's default is 0.5 s)
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.released.set()
        self.server.shutdown()
        self.server.server_close()

    def wait_for(self, predicate, timeout=120.0) -> bool:
        with self.arrived:
            return self.arrived.wait_for(lambda: predicate(self.received), timeout)
