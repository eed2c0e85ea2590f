"""An outage of the callback's peer, in simulated time: orders flow in through the app, a real worker delivers them
with the http sender to a real local HTTP server, and ``/metrics`` is scraped every ``STEP`` from the real database;
half way through the server goes down. What was scraped is the series an alert rule is judged on (``Outage``)."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import yaml
from prometheus_client.parser import text_string_to_metric_families

from receiver.config import load_settings
from receiver.senders import load_sender
from receiver.store import Store
from receiver.web import create_app
from receiver.worker import Backoff
from support.clock import FakeClock
from support.data import DATA_KEY_BYTES, ROOT, base_env, basic_auth, fixture
from support.servers import callback_server
from support.workers import worker_for

STEP = timedelta(seconds=30)
ALERTS = ROOT / "deploy" / "prometheus" / "alerts.yml"


@dataclass
class Outage:
    """The scrapes of the run, one per ``STEP`` from the start; the server went down after ``healthy_steps``."""

    healthy_steps: int
    scrapes: list[dict[tuple[str, tuple[tuple[str, str], ...]], float]] = field(default_factory=list)

    def values(self, name: str, **labels: str) -> list[float]:
        key = (name, tuple(sorted(labels.items())))
        return [scrape.get(key, float("nan")) for scrape in self.scrapes]

    def first_step_after_stop(self, name: str, predicate: Any) -> int | None:
        """How many steps after the server went down ``predicate`` first held for the gauge ``name``."""
        for index, value in enumerate(self.values(name)[self.healthy_steps:]):
            if predicate(value):
                return index
        return None


def scrape(client: Any) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    found = {}
    for family in text_string_to_metric_families(client.get("/metrics").get_data(as_text=True)):
        for sample in family.samples:
            if sample.name.startswith("receiver_"):
                found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def order(number: int) -> dict[str, Any]:
    message = copy.deepcopy(fixture("order-completed-seed.json"))
    message["messageId"] = f"outage-{number}"
    message["properties"]["order_id"] = f"OUT-{number}"
    return message


def run_outage(database_url: str, *, healthy_steps: int = 10, outage_steps: int = 24) -> Outage:
    """``healthy_steps`` with the server up, then ``outage_steps`` with it down: at each step one order arrives, the
    worker delivers what is due, and ``/metrics`` is scraped."""
    clock = FakeClock()
    outage = Outage(healthy_steps)
    store = Store(database_url, data_key=DATA_KEY_BYTES)
    with callback_server() as callback:
        env = base_env(DATABASE_URL=database_url, SENDER="http", CALLBACK_URL=callback.url,
                       CALLBACK_SECRET="whsec_MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=", CALLBACK_TIMEOUT="2s")
        settings = load_settings(env, intake=True)
        sender = load_sender("http", settings.environ)
        worker = worker_for(store, settings, sender, clock=clock, rand=lambda: 1.0, backoff=Backoff(base_seconds=30))
        client = create_app(settings, store=store, clock=clock).test_client()
        try:
            for step in range(healthy_steps + outage_steps):
                if step == healthy_steps:
                    callback.stop()
                assert client.post("/segment", json=order(step), headers=basic_auth()).status_code == 200
                worker.drain()
                outage.scrapes.append(scrape(client))
                clock.advance(seconds=STEP.total_seconds())
        finally:
            worker.close()
            sender.close()
            store.close()
    return outage


def alert_rules() -> dict[str, dict[str, Any]]:
    """The rules of ``deploy/prometheus/alerts.yml`` by alert name."""
    groups = yaml.safe_load(ALERTS.read_text())["groups"]
    return {rule["alert"]: rule for group in groups for rule in group["rules"]}


def promtool_test(outage: Outage, alert: str, folder: Path) -> Path:
    """A ``promtool test rules`` file that feeds the scraped series to ``alerts.yml`` and expects ``alert`` firing
    10 minutes after the server went down (and not firing just before it went down)."""
    series = []
    names = sorted({key for scrape in outage.scrapes for key in scrape})
    for name, labels in names:
        values = " ".join("_" if value != value else repr(value) for value in outage.values(name, **dict(labels)))
        selector = ",".join(f'{key}="{value}"' for key, value in labels)
        series.append({"series": f"{name}{{{selector}}}" if labels else name, "values": values})
    rule = alert_rules()[alert]
    stopped = outage.healthy_steps * STEP
    expected = {"exp_labels": dict(rule.get("labels", {})), "exp_annotations": dict(rule.get("annotations", {}))}
    test = {
        "rule_files": [str(ALERTS)],
        "evaluation_interval": f"{int(STEP.total_seconds())}s",
        "tests": [{
            "interval": f"{int(STEP.total_seconds())}s",
            "input_series": series,
            "alert_rule_test": [
                {"eval_time": f"{int((stopped - STEP).total_seconds())}s", "alertname": alert, "exp_alerts": []},
                {"eval_time": f"{int((stopped + timedelta(minutes=10)).total_seconds())}s", "alertname": alert,
                 "exp_alerts": [expected]},
            ],
        }],
    }
    path = folder / f"outage_{alert}.yml"
    path.write_text(yaml.safe_dump(test, sort_keys=False))
    return path
