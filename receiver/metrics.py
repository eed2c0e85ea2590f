"""Prometheus metrics. Counters and histograms of the web processes live in each process (gunicorn's multiprocess
mode when ``PROMETHEUS_MULTIPROC_DIR`` is set, which ``receiver serve`` does); the queue's gauges, the delivery
attempts by sender and outcome and delivery health come from the database (the ``deliveries`` table the workers
write), so that they are the same whichever process is scraped and however many workers run; they are
computed at most every ``GAUGES_MAX_AGE`` seconds by one process for all of them (``store.gauges``), so that a
scrape costs a primary-key lookup, whatever the table holds. While the database is down a scrape still answers:
``receiver_database_up 0`` and every process's counters. Labels never carry personal data.
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
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from .store import StoreUnavailable

MESSAGES = Counter("receiver_messages_total", "Segment messages received, by call type and outcome",
                   ["type", "outcome"])
REJECTIONS = Counter("receiver_rejections_total", "Messages rejected, by reason", ["reason"])
UNAUTHORISED = Counter("receiver_unauthorised_requests_total", "Requests refused for their credentials")
REQUEST_SECONDS = Histogram("receiver_request_duration_seconds", "Time to answer an HTTP request",
                            ["endpoint"], buckets=(.002, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10))
WAITING_ORDERS = Counter("receiver_waiting_orders_total", "Orders that waited for their email, by how they ended "
                         "(resolved, suppressed, dead)", ["result"])
UNSUBSCRIBES = Counter("receiver_unsubscribe_requests_total", "Requests of /unsubscribe/<token>, by what they got "
                       "(page, unsubscribed, invalid, limited, unavailable)", ["result"])
# receiver_deliveries_total{sender,result} comes from the database (QueueCollector), not from a process
DELIVERY_SECONDS = Histogram("receiver_delivery_duration_seconds", "Time a sender took for one delivered invitation",
                             ["sender"], buckets=(.01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30))


GAUGES_MAX_AGE = 15.0  # seconds: how old the queue's gauges may be


class QueueCollector:
    """Whether the database answers; invitations by state, queue depth, the oldest due invitation's age and the
    age of these figures, from the store's shared snapshot."""

    def __init__(self, store: Any, clock: Callable[[], datetime], max_age: float = GAUGES_MAX_AGE):
        self.store = store
        self.clock = clock
        self.max_age = max_age

    def collect(self) -> Iterator[GaugeMetricFamily]:
        now = self.clock()
        try:
            gauges = self.store.gauges.snapshot(now=now, max_age=self.max_age)
        except StoreUnavailable:
            yield GaugeMetricFamily("receiver_database_up", "Whether the database answered this scrape", value=0)
            return
        yield GaugeMetricFamily("receiver_database_up", "Whether the database answered this scrape", value=1)
        if gauges is None:  # the very first snapshot is being computed by another process
            return
        by_state = GaugeMetricFamily("receiver_invitations", "Invitations by state", labels=["state"])
        for state, count in gauges.counts.items():
            by_state.add_metric([state], count)
        yield by_state
        yield GaugeMetricFamily("receiver_queue_depth", "Invitations due now", value=gauges.due)
        yield GaugeMetricFamily("receiver_oldest_due_age_seconds", "How long the oldest due invitation has waited",
                                value=(now - gauges.oldest_due).total_seconds() if gauges.oldest_due else 0.0)
        yield GaugeMetricFamily("receiver_queue_gauges_age_seconds", "How old the gauges read from the database are",
                                value=max(0.0, (now - gauges.taken_at).total_seconds()))
        yield from delivery_metrics(gauges.health, gauges.attempts, now)


def delivery_metrics(health: Any, attempts: dict[tuple[str, str], int], now: datetime) -> Iterator[Any]:
    """The delivery attempts and delivery health from the database: what an operator pages on
    (``deploy/prometheus/alerts.yml``)."""
    counter = CounterMetricFamily("receiver_deliveries", "Delivery attempts recorded, by sender and result "
                                  "(sent, transient, permanent, error)", labels=["sender", "result"])
    for (sender, outcome), count in sorted(attempts.items()):
        counter.add_metric([sender, outcome], count)
    yield counter
    last = health.last_success
    yield GaugeMetricFamily("receiver_last_delivery_timestamp_seconds", "When the last successful delivery was "
                            "attempted (Unix time; 0: never)", value=last.timestamp() if last else 0.0)
    yield GaugeMetricFamily("receiver_undelivered_invitations", "Invitations meant to go and not delivered yet "
                            "(due pending, retrying, sending, waiting)", value=health.undelivered)
    oldest = health.undelivered_age(now)
    yield GaugeMetricFamily("receiver_oldest_undelivered_age_seconds", "How long the oldest undelivered invitation "
                            "has been meant to go (0: none)", value=max(0.0, oldest.total_seconds()) if oldest else 0.0)
    yield GaugeMetricFamily("receiver_delivery_stalled_seconds", "Time since the last successful delivery while "
                            "undelivered invitations wait (0: none waits)", value=health.stalled(now).total_seconds())
    yield GaugeMetricFamily("receiver_delivery_attempts_15m", "Delivery attempts in the last 15 minutes",
                            value=health.attempts_window)
    yield GaugeMetricFamily("receiver_delivery_failures_15m", "Failed delivery attempts in the last 15 minutes",
                            value=health.failures_window)
    yield GaugeMetricFamily("receiver_delivery_failure_ratio_15m", "Failed over all delivery attempts in the last "
                            "15 minutes (0: no attempt)", value=health.failure_ratio)


def exposition(store: Any, clock: Callable[[], datetime]) -> tuple[bytes, str]:
    """The text format for ``GET /metrics``: every process's counters, whether the database answers, and the
    queue from the database's shared snapshot."""
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
