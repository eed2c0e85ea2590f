"""The migrations build exactly the schema the code declares, and applying them twice changes nothing."""

import pytest

from receiver.store import Store, metadata


@pytest.mark.both_databases
def test_migrations_build_exactly_the_schema_the_code_uses(unmigrated_database_url):
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    store = Store(unmigrated_database_url)
    store.upgrade()
    store.upgrade()  # idempotent
    assert store.is_migrated()
    with store.engine.connect() as conn:
        differences = compare_metadata(MigrationContext.configure(conn), metadata)
    store.close()
    assert differences == []
