"""Prometheus metrics. Counters and histograms live in each process (gunicorn's multiprocess mode when
``PROMETHEUS_MULTIPROC_DIR`` is set, which ``receiver serve`` does); the queue's state is read from the
database at scrape time, so it is right whichever process answers. Labels never carry personal data.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily

MESSAGES = Counter("receiver_messages_total", "Segment messages received, by call type and outcome",
                   ["type", "outcome"])
REJECTIONS = Counter("receiver_rejections_total", "Messages rejected, by reason", ["reason"])
UNAUTHORISED = Counter("receiver_unauthorised_requests_total", "Requests refused for their credentials")
REQUEST_SECONDS = Histogram("receiver_request_duration_seconds", "Time to answer an HTTP request",
                            ["endpoint"], buckets=(.002, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10))
WAITING_ORDERS = Counter("receiver_waiting_orders_total", "Orders that waited for their email, by how they ended "
                         "(resolved, suppressed, dead)", ["result"])
DELIVERIES = Counter("receiver_deliveries_total", "Delivery attempts, by sender and result", ["sender", "result"])
DELIVERY_SECONDS = Histogram("receiver_delivery_duration_seconds", "Time a sender took for one delivered invitation",
                             ["sender"], buckets=(.01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30))


class QueueCollector:
    """Invitations by state, queue depth and the oldest due invitation's age, read from the store."""

    def __init__(self, store: Any, clock: Callable[[], datetime]):
        self.store = store
        self.clock = clock

    def collect(self) -> Iterator[GaugeMetricFamily]:
        now = self.clock()
        by_state = GaugeMetricFamily("receiver_invitations", "Invitations by state", labels=["state"])
        for state, count in self.store.reports.counts().items():
            by_state.add_metric([state], count)
        yield by_state
        yield GaugeMetricFamily("receiver_queue_depth", "Invitations due now", value=self.store.reports.due_count(now=now))
        oldest = self.store.reports.oldest_due(now=now)
        yield GaugeMetricFamily("receiver_oldest_due_age_seconds", "How long the oldest due invitation has waited",
                                value=(now - oldest).total_seconds() if oldest else 0.0)


def exposition(store: Any, clock: Callable[[], datetime]) -> tuple[bytes, str]:
    """The text format for ``GET /metrics``: every process's counters plus the queue from the database."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        process_metrics = generate_latest(registry)
    else:
        process_metrics = generate_latest(REGISTRY)
    queue = CollectorRegistry()
    queue.register(QueueCollector(store, clock))
    return process_metrics + generate_latest(queue), CONTENT_TYPE_LATEST


def mark_process_dead(pid: int) -> None:
    """Gunicorn's ``child_exit`` hook: fold a finished web worker's live gauges away."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.mark_process_dead(pid)
