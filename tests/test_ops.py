"""Health, readiness, metrics and request ids."""

import json
import logging

from prometheus_client.parser import text_string_to_metric_families

from conftest import base_env, basic_auth, fixture, free_port
from receiver import logs
from receiver.config import load_settings
from receiver.store import Store
from receiver.web import create_app


def samples(text):
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def test_healthz(client):
    response = client.get("/healthz")
    assert response.status_code == 200 and response.get_json() == {"status": "ok"}


def test_readyz_when_migrated(client):
    assert client.get("/readyz").get_json() == {"status": "ready"}


def test_readyz_when_not_migrated(sqlite_url):
    settings = load_settings(base_env(DATABASE_URL=sqlite_url))
    client = create_app(settings, store=Store(sqlite_url), create_schema=False).test_client()
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.get_json() == {"message": "The database schema is not migrated: run 'receiver db upgrade'"}


def test_readyz_when_the_database_is_unreachable():
    url = f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/x"
    settings = load_settings(base_env(DATABASE_URL=url))
    client = create_app(settings, store=Store(url, timeout_seconds=1), create_schema=False).test_client()
    response = client.get("/readyz")
    assert response.status_code == 503 and response.get_json() == {"message": "The database is unreachable"}


def test_metrics_show_the_queue_from_the_database(client, clock):
    client.post("/segment", json=fixture("order-completed-seed.json"), headers=basic_auth())
    clock.advance(seconds=90)
    response = client.get("/metrics")
    assert response.status_code == 200 and response.content_type.startswith("text/plain")
    found = samples(response.get_data(as_text=True))
    assert found[("receiver_invitations", (("state", "pending"),))] == 1
    assert found[("receiver_invitations", (("state", "sent"),))] == 0
    assert found[("receiver_queue_depth", ())] == 1
    assert found[("receiver_oldest_due_age_seconds", ())] == 90
    assert "test@example.com" not in response.get_data(as_text=True)


def test_a_request_id_is_taken_or_made_and_on_every_log_line(client, caplog):
    handler_records = []

    class Capture(logging.Handler):
        def emit(self, record):
            handler_records.append(logs.JsonFormatter().format(record))

    capture = Capture()
    logging.getLogger().addHandler(capture)
    try:
        response = client.post("/segment", json={"type": "page"}, headers={**basic_auth(), "X-Request-Id": "req-42"})
        assert response.headers["X-Request-Id"] == "req-42"
        logging.getLogger("receiver.test").warning("inside")  # outside a request: no id
        made = client.get("/healthz").headers["X-Request-Id"]
        assert len(made) == 32
        bad = client.get("/healthz", headers={"X-Request-Id": "<script>"}).headers["X-Request-Id"]
        assert bad != "<script>"
    finally:
        logging.getLogger().removeHandler(capture)
    assert "request_id" not in json.loads(handler_records[-1])
