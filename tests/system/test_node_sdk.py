"""Segment's Node SDK (``@segment/analytics-node``, pinned in ``tests/node/``) against a live receiver (issue 13 §9).

The shop's server does what Medusa's plugin and others do: ``identify()`` with the email, then
``track("Order Completed")`` without one, for 30 customers, one event per request (``flushAt: 1``). The requests
run concurrently, so an order is often read before its identify: it waits. After the worker has settled the
waiting orders, every order has exactly one invitation, to its own customer.

``.ci/run`` installs the SDK with ``npm ci``; where node is missing, or the install did not happen, the test is
skipped and says why.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess

import pytest

from receiver import bgl
from receiver.store import SENT, WAITING
from support.data import API_KEY, AUTH_KEY, ENCRYPT_KEY, ROOT
from support.workers import worker_for

NODE_DIR = ROOT / "tests" / "node"
SCRIPT = NODE_DIR / "identify_then_order.mjs"
KEYS = bgl.Keys.from_base64(ENCRYPT_KEY, AUTH_KEY)
CUSTOMERS = 30


def node_sdk() -> str:
    """The node executable, once the SDK is installed; else the test is skipped with the reason."""
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed here: Segment's Node SDK cannot run (.ci/run installs it where npm is)")
    version = subprocess.run([node, "--version"], capture_output=True, text=True, timeout=30).stdout.strip()
    if int(version.lstrip("v").split(".")[0] or 0) < 20:
        pytest.skip(f"node {version} is too old for @segment/analytics-node 3 (it needs node 20 or later)")
    if not (NODE_DIR / "node_modules" / "@segment" / "analytics-node" / "package.json").is_file():
        pytest.skip("@segment/analytics-node is not installed: run `npm ci` in tests/node (.ci/run does)")
    return node


class Capture:
    def __init__(self):
        self.links = []

    def send(self, ready):
        self.links.append(bgl.decode(ready.link, KEYS))

    def close(self):
        pass


@pytest.mark.timeout(180)
def test_identify_then_order_without_email_for_30_customers(live_app, store, settings, clock, record_property):
    node = node_sdk()
    env = {**os.environ, "RECEIVER_URL": live_app, "WRITE_KEY": API_KEY, "CUSTOMERS": str(CUSTOMERS), "RUN": "node"}
    run = subprocess.run([node, str(SCRIPT)], cwd=NODE_DIR, env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    sdk = json.loads(run.stdout.strip().splitlines()[-1])
    assert sdk["failures"] == [] and sdk["requests"] == 2 * CUSTOMERS  # one event a request, every one a 2xx
    counts = store.reports.counts()
    waited = counts[WAITING]
    assert waited + counts["pending"] == CUSTOMERS, counts  # no order lost: every one stored, waiting or not

    capture = Capture()
    tally = worker_for(store, settings, capture, clock=clock).drain()
    assert tally.resolved == waited and tally.sent == CUSTOMERS and tally.waited_out == 0, str(tally)
    by_ref = {}
    for payload in capture.links:
        by_ref.setdefault(payload["ref"], []).append(payload)
    assert sorted(by_ref) == sorted(f"node-order-{number}" for number in range(CUSTOMERS))
    for number in range(CUSTOMERS):
        [payload] = by_ref[f"node-order-{number}"]  # exactly one invitation per order ...
        assert payload == {"email": f"node.customer{number}@example.com", "name": f"Node Customer{number}",  # ... its own
                           "ref": f"node-order-{number}", "skus": [f"SKU-{number}"]}
    assert store.reports.counts()[SENT] == CUSTOMERS
    record_property("orders_waited", waited)
    record_property("orders_resolved", tally.resolved)
    print(f"Node SDK, {CUSTOMERS} customers, flushAt 1: {waited} orders waited, {tally.resolved} resolved, "
          f"{tally.sent} invitations sent, each to its own customer")
