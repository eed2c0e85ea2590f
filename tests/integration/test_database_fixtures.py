"""The tests' own databases: ``database_url`` is migrated and empty on either database, the PostgreSQL schema the
run shares is emptied (ids restarted) between tests and migrated again after a test dropped it, and
``unmigrated_database_url`` has no table at all."""

import pytest
from sqlalchemy import create_engine, inspect

from receiver.invitation import Invitation
from receiver.store import NewInvitation, Store, metadata
from support.data import DATA_KEY_BYTES
from support.postgres import fresh_postgres_url


def tables(url: str) -> set[str]:
    engine = create_engine(url)
    names = set(inspect(engine).get_table_names())
    engine.dispose()
    return names


def add_one(store: Store, clock) -> int:
    invitation = Invitation(message_id="m-1", email="a@example.com", name="Ann Lee", ref="R-1")
    store.outbox.add([NewInvitation(invitation)], domain="example.com", now=clock())
    return store.reports.find(message_id="m-1").id


def test_the_default_database_is_sqlite(database_url, database_backend):
    assert database_backend == "sqlite" and database_url.startswith("sqlite:///")


@pytest.mark.both_databases
def test_database_url_is_migrated_and_empty(database_url, store, clock):
    assert store.is_migrated() and sum(store.reports.counts().values()) == 0
    assert {table.name for table in metadata.sorted_tables} <= tables(database_url)
    assert add_one(store, clock) == 1


@pytest.mark.both_databases
def test_the_next_test_finds_it_empty_again_and_counts_ids_from_1(store, clock):
    assert sum(store.reports.counts().values()) == 0
    assert add_one(store, clock) == 1


@pytest.mark.both_databases
def test_unmigrated_database_url_has_no_table(unmigrated_database_url):
    assert tables(unmigrated_database_url) == set()


def test_the_shared_schema_is_migrated_again_after_a_test_dropped_it(postgres_schema, clock):
    fresh_postgres_url()
    store = Store(postgres_schema.emptied(), data_key=DATA_KEY_BYTES)
    try:
        assert store.is_migrated()
        add_one(store, clock)
        assert store.reports.counts()["pending"] == 1
        postgres_schema.emptied()
        assert sum(store.reports.counts().values()) == 0
    finally:
        store.close()
