"""The local PostgreSQL test database (``RECEIVER_TEST_POSTGRES_URL``); tests that need it skip where it is down."""

from __future__ import annotations

import os

import pytest
from sqlalchemy import create_engine, text

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


def fresh_postgres_url() -> str:
    """The test database, emptied of every table."""
    url = require_postgres()
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()
    return url
