"""Slow clients cannot starve intake: 200 connections trickling their headers or their body against a real
``receiver serve``, while Segment's requests are answered in well under a second; each slow connection is answered
408 (JSON) and closed at its deadline (HEADER_TIMEOUT from its first byte, BODY_TIMEOUT from its headers).

Under gunicorn's gthread workers (the server before issue 17) eight such connections took every thread and no
Segment request was answered at all."""

import importlib
import json
import os
import sys
import time
from pathlib import Path

import pytest
import requests

from support.data import base_env, basic_auth, fixture
from support.serving import receiver_serve
from support.wait import wait_until

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # ``benchmarks`` lives beside ``receiver``, not installed
    sys.path.insert(0, str(ROOT))
slow = importlib.import_module("benchmarks.slow")

DEADLINE = 5.0  # HEADER_TIMEOUT and BODY_TIMEOUT here: long enough to measure Segment's requests meanwhile
SLACK = 3.5  # the server checks its deadlines once a second, on a shared machine


def percentile_99(values):
    ordered = sorted(values)
    return ordered[max(0, -(-99 * len(ordered) // 100) - 1)]


@pytest.mark.timeout(90)
def test_two_hundred_slow_connections_neither_starve_intake_nor_outlive_their_deadlines(tmp_path):
    env = {**os.environ, **base_env(DATABASE_URL=f"sqlite:///{tmp_path / 'r.db'}", WEB_CONCURRENCY="2",
                                    HEADER_TIMEOUT=f"{DEADLINE:g}s", BODY_TIMEOUT=f"{DEADLINE:g}s")}
    seed = fixture("order-completed-seed.json")
    with receiver_serve(env, tmp_path) as served:
        port = int(served.url.rsplit(":", 1)[1])
        sessions = {}

        def post(number):
            body = dict(seed, messageId=f"m-{number}", properties=dict(seed["properties"], order_id=f"O-{number}"))
            session = sessions.setdefault(number % 4, requests.Session())
            return session.post(f"{served.url}/segment", json=body, headers=basic_auth(), timeout=5).status_code == 200

        with slow.SlowClients("127.0.0.1", port, 200) as clients:
            started = time.monotonic()
            latencies, failed = slow.timed_requests(post, 60, threads=4)
            measured_for = time.monotonic() - started
            assert clients.open_count() == 200, "the Segment requests were measured while every slow client was open"
            wait_until(lambda: clients.open_count() == 0, "the server to close every slow connection",
                       timeout=DEADLINE + SLACK + 5)
        assert measured_for < DEADLINE
        assert failed == 0 and percentile_99(latencies) < 1.0, (failed, sorted(latencies)[-5:])
        for connection in clients.connections:
            assert DEADLINE - 0.5 <= connection.lasted <= DEADLINE + SLACK, (connection.kind, connection.lasted)
            head, _, body = connection.answer.partition(b"\r\n\r\n")
            assert head.startswith(b"HTTP/1.1 408 ") and b"application/json" in head
            assert json.loads(body) == {"message": f"The request's {connection.kind} did not arrive within 5s"}
        assert requests.post(f"{served.url}/segment", json=dict(seed, messageId="after"), headers=basic_auth(),
                             timeout=5).status_code == 200
