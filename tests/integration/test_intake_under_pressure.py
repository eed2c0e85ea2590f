"""Intake when the database is locked or unreachable (a 503 that loses nothing), or written by many requests at
once (one invitation per message and per order)."""

import sqlite3
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from receiver.config import load_settings
from receiver.store import Store
from receiver.web import create_app
from support.data import DATA_KEY_BYTES, base_env, basic_auth, fixture
from support.net import free_port


def test_locked_sqlite_is_a_503_and_nothing_is_lost(tmp_path):
    url = f"sqlite:///{tmp_path / 'r.db'}"
    settings = load_settings(base_env(DATABASE_URL=url))
    store = Store(url, timeout_seconds=0.2, data_key=DATA_KEY_BYTES)
    store.upgrade()
    client = create_app(settings, store=store).test_client()
    blocker = sqlite3.connect(tmp_path / "r.db")
    blocker.execute("BEGIN EXCLUSIVE")
    seed = fixture("order-completed-seed.json")
    response = client.post("/segment", json=seed, headers=basic_auth())
    assert response.status_code == 503
    assert response.get_json() == {"message": "Temporarily unable to store messages; please retry"}
    assert response.headers["Retry-After"] == "5"
    blocker.rollback()
    blocker.close()
    again = client.post("/segment", json=seed, headers=basic_auth())  # Segment's retry
    assert again.status_code == 200 and again.get_json()["status"] == "accepted"
    assert sum(store.reports.counts().values()) == 1


def test_an_unreachable_postgresql_is_a_503(tmp_path):
    url = f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/nowhere"
    settings = load_settings(base_env(DATABASE_URL=url))
    client = create_app(settings, store=Store(url, timeout_seconds=1, data_key=DATA_KEY_BYTES)).test_client()
    response = client.post("/segment", json=fixture("order-completed-seed.json"), headers=basic_auth())
    assert response.status_code == 503 and "retry" in response.get_json()["message"]


@pytest.mark.both_databases
def test_concurrent_posts_of_one_message_and_one_order_make_one_invitation(live_app, store):
    seed = fixture("order-completed-seed.json")

    def post(i):
        body = dict(seed, messageId=seed["messageId"] if i % 2 else f"other-{i}")
        return requests.post(f"{live_app}/segment", json=body, headers=basic_auth(), timeout=30).json()["status"]

    with ThreadPoolExecutor(16) as pool:
        statuses = list(pool.map(post, range(64)))
    assert statuses.count("accepted") == 1 and statuses.count("duplicate") == 63
    assert sum(store.reports.counts().values()) == 1
