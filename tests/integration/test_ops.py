"""Health, readiness, metrics and request ids."""

import logging

import pytest
from prometheus_client.parser import text_string_to_metric_families

from receiver.config import load_settings
from receiver.store import Store
from receiver.web import create_app
from support.data import DATA_KEY_BYTES, base_env, basic_auth, fixture
from support.logs import Captured
from support.net import free_port


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
    client = create_app(settings, store=Store(sqlite_url, data_key=DATA_KEY_BYTES)).test_client()
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.get_json() == {"message": "The database schema is not migrated: run 'receiver db upgrade'"}


def test_readyz_when_the_database_is_unreachable():
    url = f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/x"
    settings = load_settings(base_env(DATABASE_URL=url))
    client = create_app(settings, store=Store(url, timeout_seconds=1, data_key=DATA_KEY_BYTES)).test_client()
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
    assert ("receiver_request_duration_seconds_count", (("endpoint", "/segment"),)) in found


def test_a_request_id_is_taken_or_made_and_on_every_log_line(client):
    with Captured() as captured:
        seed = fixture("order-completed-seed.json")
        response = client.post("/segment", json=seed, headers={**basic_auth(), "X-Request-Id": "req-42"})
        assert response.headers["X-Request-Id"] == "req-42"
        logging.getLogger("receiver.test").warning("outside a request")
        made = client.get("/healthz").headers["X-Request-Id"]
        odd = client.get("/healthz", headers={"X-Request-Id": "<script>"}).headers["X-Request-Id"]
    [line] = [line for line in captured.lines if line["logger"] == "receiver.web"]
    assert line["request_id"] == "req-42" and line["message_id"] == seed["messageId"]
    assert line["message"] == "message accepted: Invitation stored"
    assert [entry for entry in captured.lines if entry["logger"] == "receiver.test"][0].get("request_id") is None
    assert len(made) == 32 and odd != "<script>" and len(odd) == 32


def counter(client, name, **labels):
    return samples(client.get("/metrics").get_data(as_text=True)).get((name, tuple(sorted(labels.items()))), 0)


@pytest.mark.env(EMAIL_WAIT="0")
def test_messages_are_counted_by_type_outcome_and_reason(client):
    before = {
        "accepted": counter(client, "receiver_messages_total", type="track", outcome="accepted"),
        "page": counter(client, "receiver_messages_total", type="page", outcome="ignored"),
        "missing": counter(client, "receiver_rejections_total", reason="Missing email address"),
        "unauthorised": counter(client, "receiver_unauthorised_requests_total"),
    }
    client.post("/segment", json=fixture("order-completed-seed.json"), headers=basic_auth())
    client.post("/segment", json=fixture("page.json"), headers=basic_auth())
    client.post("/segment", json=[fixture("order-completed-missing-email.json")] * 2, headers=basic_auth())
    client.post("/segment", json=fixture("page.json"))
    assert counter(client, "receiver_messages_total", type="track", outcome="accepted") == before["accepted"] + 1
    assert counter(client, "receiver_messages_total", type="page", outcome="ignored") == before["page"] + 1
    assert counter(client, "receiver_rejections_total", reason="Missing email address") == before["missing"] + 2
    assert counter(client, "receiver_unauthorised_requests_total") == before["unauthorised"] + 1
