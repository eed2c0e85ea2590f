"""The schema's Alembic migrations (in ``receiver/migrations``): applying them, and checking they are applied."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import Engine

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"
_MIGRATION_LOCK = 7416093  # the PostgreSQL advisory lock that lets one migrator run at a time


def upgrade(engine: Engine) -> None:
    """Apply the migrations up to the newest (``receiver db upgrade``); safe to run concurrently."""
    from alembic import command  # imported when used: a web or worker process seldom migrates
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":  # one migrator at a time; the others wait, then find nothing to do
            conn.execute(text(f"SELECT pg_advisory_xact_lock({_MIGRATION_LOCK})"))
        config.attributes["connection"] = conn
        command.upgrade(config, "head")


def is_migrated(engine: Engine) -> bool:
    """True when the database answers and carries the newest migration."""
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    head = ScriptDirectory(str(MIGRATIONS)).get_current_head()
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision() == head
