"""The local PostgreSQL test database (``RECEIVER_TEST_POSTGRES_URL``); tests that need it skip where it is down.

Its public schema is shared by the tests of a run (``SharedSchema``): migrated once, emptied for each test. A test
that needs the schema to itself, empty or unmigrated, takes ``fresh_postgres_url``, which drops it; the next test
that asks for the shared one finds it gone and migrates it again.
"""

from __future__ import annotations

import os

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import ProgrammingError

from receiver.store import metadata, migrations

POSTGRES_URL = os.environ.get("RECEIVER_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")


def postgres_reachable() -> str | None:
    """None if the local PostgreSQL answers, else why not."""
    try:
        engine = create_engine(POSTGRES_URL.replace("postgresql://", "postgresql+psycopg://", 1),
                               connect_args={"connect_timeout": 2})
        with engine.connect() as conn:
            conn.execute(text("select 1"))
        engine.dispose()
    except Exception as exc:  # noqa: BLE001 - any failure means: skip
        return f"PostgreSQL at {POSTGRES_URL} is unreachable ({type(exc).__name__})"
    return None


_PG_PROBLEM: list[str | None] = []


def require_postgres() -> str:
    """The SQLAlchemy URL of the test database; skips the test when it is unreachable (asked once per run)."""
    if not _PG_PROBLEM:
        _PG_PROBLEM.append(postgres_reachable())
    if _PG_PROBLEM[0]:
        pytest.skip(_PG_PROBLEM[0])
    return POSTGRES_URL.replace("postgresql://", "postgresql+psycopg://", 1)


def _drop_schema(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))


def fresh_postgres_url() -> str:
    """The test database, emptied of every table and unmigrated (for tests of migrations and of unmigrated
    databases); the shared schema is migrated again by the next test that needs it."""
    url = require_postgres()
    engine = create_engine(url)
    _drop_schema(engine)
    engine.dispose()
    return url


class SchemaGone(Exception):
    """The shared schema is not at the newest migration: a test dropped it, or migrated it elsewhere."""


class SharedSchema:
    """The test database's public schema as the tests of one run share it: migrated once, emptied per test."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._engine = create_engine(url)
        self._head = ScriptDirectory(str(migrations.MIGRATIONS)).get_current_head()
        # every table of the store, so that a table a new migration adds is emptied too
        self._tables = ", ".join(table.name for table in metadata.sorted_tables)

    def migrate(self) -> None:
        """Drop the schema and apply every migration (what ``receiver db upgrade`` does on a new database)."""
        _drop_schema(self._engine)
        migrations.upgrade(self._engine)

    def emptied(self) -> str:
        """The URL of the shared schema, at the newest migration, its tables empty and their ids restarted."""
        try:
            self._truncate()
        except (SchemaGone, ProgrammingError):  # ProgrammingError: a table or alembic_version is missing
            self.migrate()
            self._truncate()
        return self.url

    def _truncate(self) -> None:
        with self._engine.begin() as conn:
            conn.execute(text("SET LOCAL lock_timeout = '10s'"))  # a connection a test left in a transaction
            if conn.execute(text("SELECT version_num FROM alembic_version")).scalar() != self._head:
                raise SchemaGone
            conn.execute(text(f"TRUNCATE {self._tables} RESTART IDENTITY CASCADE"))

    def close(self) -> None:
        self._engine.dispose()
