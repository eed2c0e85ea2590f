"""The Procfile's layout: a web process and two worker processes, apart. The web process's /metrics counts what the
workers delivered and when they last succeeded, since those figures come from the database, not from a process."""

import os

import requests
from prometheus_client.parser import text_string_to_metric_families
from test_processes import fill, start_worker, stop

from support.data import base_env
from support.serving import receiver_serve
from support.sink import Sink
from support.wait import wait_until

SECRET = "whsec_MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="
SENT = ("receiver_deliveries_total", (("result", "sent"), ("sender", "http")))


def scraped(url):
    found = {}
    for family in text_string_to_metric_families(requests.get(f"{url}/metrics", timeout=5).text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def test_the_web_process_counts_what_two_worker_processes_delivered(store, database_url, tmp_path):
    fill(store, 20)
    with Sink() as sink:
        env = {**os.environ, **base_env(DATABASE_URL=database_url, SENDER="http", CALLBACK_URL=sink.url,
                                        CALLBACK_SECRET=SECRET, WEB_CONCURRENCY="1")}
        env.pop("PROMETHEUS_MULTIPROC_DIR", None)
        with receiver_serve(env, tmp_path) as served:
            assert scraped(served.url).get(SENT) is None  # nothing delivered yet
            workers = [start_worker(env, tmp_path) for _ in range(2)]
            try:
                assert sink.wait_for(lambda got: len(got) == 20, timeout=90), "the workers never delivered all 20"
                # one worker can deliver all 20 before the other is up: a SIGTERM before it has its handler is an
                # exit by the signal, not the graceful stop asserted below
                wait_until(lambda: all("worker started" in worker.log_path.read_text() for worker in workers),
                           "both workers to have started")
            finally:
                stop(workers)
            # the gauges' snapshot is at most 15 s old
            found = wait_until(lambda: (lambda got: got if got.get(SENT) == 20 else None)(scraped(served.url)),
                               "the web process's /metrics to count the 20 deliveries")
    assert all(worker.returncode == 0 for worker in workers)
    assert found[("receiver_last_delivery_timestamp_seconds", ())] > 0
    assert found[("receiver_undelivered_invitations", ())] == 0
