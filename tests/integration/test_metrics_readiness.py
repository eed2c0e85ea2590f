"""/metrics for the operator only, and cheap; /readyz that a database unable to take a write fails.

- METRICS_TOKEN: a bearer token; without it /metrics stays open.
- The queue's gauges are computed at most every 15 s, by one process for all of them (a shared snapshot), and a
  scrape while the database is down still answers 200: receiver_database_up 0 and the process counters.
"""

import copy

import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import create_engine, text

from receiver.config import load_settings
from receiver.store import Store
from receiver.web import create_app
from support.data import DATA_KEY_BYTES, base_env, basic_auth, fixture
from support.net import free_port
from support.postgres import POSTGRES_URL


def samples(text_):
    found = {}
    for family in text_string_to_metric_families(text_):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def order(number):
    message = copy.deepcopy(fixture("order-completed-seed.json"))
    message["messageId"] = f"m-{number}"
    message["properties"]["order_id"] = f"O-{number}"
    return message


def pending(client, **headers):
    response = client.get("/metrics", headers=headers)
    assert response.status_code == 200
    return samples(response.get_data(as_text=True)).get(("receiver_invitations", (("state", "pending"),)))


@pytest.mark.env(METRICS_TOKEN="s3cret-metrics-token")
def test_with_a_token_metrics_answer_only_its_bearer(client):
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "s3cret-metrics-token"},
                    {"Authorization": "Basic czNjcmV0LW1ldHJpY3MtdG9rZW46"}):
        refused = client.get("/metrics", headers=headers)
        assert refused.status_code == 401 and refused.headers["WWW-Authenticate"].startswith("Bearer")
        assert refused.get_json() == {"message": "Authorization: Bearer <METRICS_TOKEN> is required"}
    allowed = client.get("/metrics", headers={"Authorization": "Bearer s3cret-metrics-token"})
    assert allowed.status_code == 200 and b"receiver_database_up 1.0" in allowed.get_data()


def test_without_a_token_metrics_are_open(client):
    # receiver serve says so at start (tests/system/test_http_server.py)
    assert client.get("/metrics").status_code == 200


def test_the_gauges_are_at_most_15_seconds_old(client, clock):
    client.post("/segment", json=order(1), headers=basic_auth())
    assert pending(client) == 1
    client.post("/segment", json=order(2), headers=basic_auth())
    clock.advance(seconds=14)
    assert pending(client) == 1  # the snapshot of 14 s ago
    age = samples(client.get("/metrics").get_data(as_text=True))[("receiver_queue_gauges_age_seconds", ())]
    assert age == 14
    clock.advance(seconds=2)
    assert pending(client) == 2


def test_one_process_computes_the_gauges_for_all(settings, store, clock):
    """Two apps on one database stand for two processes: the second serves the first's snapshot."""
    first = create_app(settings, store=store, clock=clock).test_client()
    other_store = Store(settings.database.url, data_key=DATA_KEY_BYTES)
    try:
        computed = []
        compute = other_store.gauges.compute
        other_store.gauges.compute = lambda **kw: computed.append(kw) or compute(**kw)
        second = create_app(settings, store=other_store, clock=clock).test_client()
        first.post("/segment", json=order(1), headers=basic_auth())
        assert pending(first) == 1
        clock.advance(seconds=5)
        assert pending(second) == 1 and computed == []
        clock.advance(seconds=11)
        assert pending(second) == 1 and len(computed) == 1  # stale: the second took the lease and refreshed
        clock.advance(seconds=1)
        assert pending(first) == 1 and len(computed) == 1  # and the first now serves the second's
    finally:
        other_store.close()


def test_while_another_process_refreshes_the_stale_snapshot_is_served(settings, store, clock):
    client = create_app(settings, store=store, clock=clock).test_client()
    client.post("/segment", json=order(1), headers=basic_auth())
    assert pending(client) == 1
    client.post("/segment", json=order(2), headers=basic_auth())
    clock.advance(seconds=20)
    assert store.gauges._lease(clock(), 15, exists=True)  # another process holds the refresh
    assert pending(client) == 1
    clock.advance(seconds=11)  # its lease ran out: it died; this one refreshes
    assert pending(client) == 2


def test_while_the_database_is_down_metrics_still_answer_with_the_counters():
    url = f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/nowhere"
    settings = load_settings(base_env(DATABASE_URL=url, DB_TIMEOUT="1s"))
    client = create_app(settings, store=Store(url, timeout_seconds=1, data_key=DATA_KEY_BYTES)).test_client()
    client.post("/segment", json=order(1), headers=basic_auth())  # a 503, counted
    response = client.get("/metrics")
    assert response.status_code == 200
    found = samples(response.get_data(as_text=True))
    assert found[("receiver_database_up", ())] == 0
    assert ("receiver_request_duration_seconds_count", (("endpoint", "/segment"),)) in found
    assert not any(name == "receiver_invitations" for name, _ in found)


def test_readyz_fails_on_a_read_only_sqlite_file(tmp_path):
    path = tmp_path / "r.db"
    migrated = Store(f"sqlite:///{path}", data_key=DATA_KEY_BYTES)
    migrated.upgrade()
    migrated.close()
    url = f"sqlite:///file:{path}?mode=ro&uri=true"
    client = create_app(load_settings(base_env(DATABASE_URL=url)), store=Store(url, data_key=DATA_KEY_BYTES)).test_client()
    response = client.get("/readyz")
    assert (response.status_code, response.get_json()) == (503, {"message": "The database cannot take a write"})
    writable = create_app(load_settings(base_env(DATABASE_URL=f"sqlite:///{path}")),
                          store=Store(f"sqlite:///{path}", data_key=DATA_KEY_BYTES)).test_client()
    assert writable.get("/readyz").get_json() == {"status": "ready"}


@pytest.fixture
def read_only_postgres():
    """The test database with new sessions read-only (as on a standby), put back afterwards."""
    from support.postgres import fresh_postgres_url

    url = fresh_postgres_url()
    migrated = Store(url, data_key=DATA_KEY_BYTES)
    migrated.upgrade()
    migrated.close()
    name = POSTGRES_URL.rsplit("/", 1)[1]
    admin = create_engine(url, isolation_level="AUTOCOMMIT",
                          connect_args={"options": "-c default_transaction_read_only=off"})
    with admin.connect() as conn:
        conn.execute(text(f'ALTER DATABASE "{name}" SET default_transaction_read_only = on'))
    try:
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'ALTER DATABASE "{name}" RESET default_transaction_read_only'))
        admin.dispose()


def test_readyz_fails_on_a_read_only_postgresql(read_only_postgres):
    store = Store(read_only_postgres, data_key=DATA_KEY_BYTES)
    try:
        client = create_app(load_settings(base_env(DATABASE_URL=read_only_postgres)), store=store).test_client()
        response = client.get("/readyz")
        assert (response.status_code, response.get_json()) == (503, {"message": "The database cannot take a write"})
    finally:
        store.close()

