"""A locked database answers every waiting request 503 within DB_TIMEOUT of its arrival, its time in the server's
queue and its turn at the SQLite writer lock included (under gthread and before, requests queued behind the
locked ones waited a DB_TIMEOUT each, one after the other)."""

import os
import sqlite3
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from sqlalchemy import create_engine

from receiver.store import Store
from support.data import DATA_KEY_BYTES, base_env, basic_auth, fixture
from support.postgres import fresh_postgres_url
from support.serving import receiver_serve

TIMEOUT = 1.0
REQUESTS = 16  # four times the threads of the one web process


def post_all(url):
    seed = fixture("order-completed-seed.json")
    barrier = threading.Barrier(REQUESTS)

    def post(number):
        body = dict(seed, messageId=f"locked-{number}", properties=dict(seed["properties"], order_id=f"L-{number}"))
        barrier.wait()
        started = time.monotonic()
        response = requests.post(f"{url}/segment", json=body, headers={**basic_auth(), "Connection": "close"},
                                 timeout=30)
        return response.status_code, time.monotonic() - started

    with ThreadPoolExecutor(REQUESTS) as pool:
        return list(pool.map(post, range(REQUESTS)))


def assert_answered_in_time(answers):
    assert [status for status, _ in answers] == [503] * REQUESTS
    slowest = max(seconds for _, seconds in answers)
    assert slowest < TIMEOUT + 0.75, sorted(round(seconds, 2) for _, seconds in answers)


@pytest.mark.timeout(60)
def test_a_locked_sqlite_file_is_a_503_within_db_timeout_for_every_waiting_request(tmp_path):
    path = tmp_path / "r.db"
    env = {**os.environ, **base_env(DATABASE_URL=f"sqlite:///{path}", DB_TIMEOUT=f"{TIMEOUT:g}s", WEB_CONCURRENCY="1")}
    with receiver_serve(env, tmp_path) as served:
        locker = sqlite3.connect(path, isolation_level=None)
        locker.execute("BEGIN IMMEDIATE")  # holds the write lock: every intake waits
        try:
            answers = post_all(served.url)
        finally:
            locker.execute("ROLLBACK")
            locker.close()
        assert_answered_in_time(answers)
        assert requests.post(f"{served.url}/segment", json=fixture("order-completed-seed.json"), headers=basic_auth(),
                             timeout=10).status_code == 200


@pytest.mark.timeout(60)
def test_a_locked_postgresql_table_is_a_503_within_db_timeout_for_every_waiting_request(tmp_path):
    url = fresh_postgres_url()
    migrated = Store(url, data_key=DATA_KEY_BYTES)
    migrated.upgrade()
    migrated.close()
    env = {**os.environ, **base_env(DATABASE_URL=url, DB_TIMEOUT=f"{TIMEOUT:g}s", WEB_CONCURRENCY="1")}
    with receiver_serve(env, tmp_path) as served:
        engine = create_engine(url)
        with engine.connect() as locker:
            locker.exec_driver_sql("LOCK TABLE invitations, user_traits IN ACCESS EXCLUSIVE MODE")
            answers = post_all(served.url)
            locker.rollback()
        engine.dispose()
        assert_answered_in_time(answers)
