"""The metrics of several gunicorn workers add up: each worker's counters, one sum at /metrics."""

import os
import signal
import subprocess
import sys

import requests
from prometheus_client.parser import text_string_to_metric_families

from support.data import base_env, basic_auth, fixture
from support.net import free_port
from support.wait import wait_for_server


def totals(text):
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            key = (sample.name, tuple(sorted(sample.labels.items())))
            found[key] = found.get(key, 0) + sample.value
    return found


def test_metrics_add_up_across_two_gunicorn_workers(tmp_path):
    port = free_port()
    env = {**os.environ, **base_env(DATABASE_URL=f"sqlite:///{tmp_path / 'r.db'}", WEB_CONCURRENCY="2",
                                    EMAIL_WAIT="0")}  # a missing email is a rejection, counted as one
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    server = subprocess.Popen([sys.executable, "-m", "receiver", "serve", "--host", "127.0.0.1", "--port", str(port)],
                              env=env, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for_server(f"{base}/healthz", process=server)
        seed = fixture("order-completed-seed.json")
        for i in range(30):  # a fresh connection each time, so both workers take some
            body = dict(seed, messageId=f"m-{i}", properties=dict(seed["properties"], order_id=f"O-{i}"))
            assert requests.post(f"{base}/segment", json=body, headers={**basic_auth(), "Connection": "close"},
                                 timeout=5).status_code == 200
        for _ in range(7):
            requests.post(f"{base}/segment", json=fixture("order-completed-missing-email.json"),
                          headers={**basic_auth(), "Connection": "close"}, timeout=5)
        for _ in range(5):
            requests.post(f"{base}/segment", json=seed, headers={"Connection": "close"}, timeout=5)
        for _ in range(6):
            text = requests.get(f"{base}/metrics", headers={"Connection": "close"}, timeout=5).text
            found = totals(text)
            assert found[("receiver_messages_total", (("outcome", "accepted"), ("type", "track")))] == 30
            assert found[("receiver_messages_total", (("outcome", "rejected"), ("type", "track")))] == 7
            assert found[("receiver_rejections_total", (("reason", "Missing email address"),))] == 7
            assert found[("receiver_unauthorised_requests_total", ())] == 5
            assert found[("receiver_invitations", (("state", "pending"),))] == 30
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(30)
