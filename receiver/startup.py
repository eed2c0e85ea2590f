"""What a command does before its work: the settings, the store, the sender; or one readable line per problem
and the CLI's exit code (2: the configuration, 1: the database).

Where the schema is migrated: ``receiver db upgrade`` (``upgraded_store``), which the Procfile's release phase
runs before any new process starts; and, on SQLite, every command that opens the store (``open_store``), since a
SQLite file belongs to one machine where no release phase runs (``receiver serve --worker`` on a fresh checkout is
the whole service). On PostgreSQL the other commands only check the schema and refuse to start on one that is
behind: web and worker processes never run DDL while they serve, and a missed release phase is one clear line, not
a server that answers 500s.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import NoReturn

import click

from .config import ConfigError, DatabaseSettings, Settings, demo_banner, load_database, load_settings
from .senders import Sender, load_sender
from .store import Store, StoreUnavailable

NOT_MIGRATED = ("error: DATABASE_URL: the database schema is not migrated: run 'receiver db upgrade' "
                "(the Procfile's release phase does)")


def fail(lines: list[str], code: int = 2) -> NoReturn:
    """Each configuration problem on its own line of stderr, then exit ``code``."""
    for line in lines:
        click.echo(f"configuration error: {line}", err=True)
    sys.exit(code)


def settings_or_exit(*, demo: bool = False, intake: bool = False,
                     scratch_database: Callable[[], str] | None = None) -> Settings:
    """The settings from the environment; every problem on its own line and exit code 2 if any."""
    try:
        settings = load_settings(demo=demo, intake=intake, scratch_database=scratch_database)
    except ConfigError as exc:
        fail(exc.problems)
    if demo:
        click.secho(demo_banner(settings), err=True, fg="yellow", bold=True)
    return settings


def database_or_exit() -> DatabaseSettings:
    """The database settings alone (commands that need no Trustpilot key); their problems one line each, exit 2."""
    try:
        return load_database()
    except ConfigError as exc:
        fail(exc.problems)


def open_store(database: DatabaseSettings) -> Store:
    """The store for ``DATABASE_URL`` at the newest schema: a SQLite file is migrated here, a PostgreSQL database
    must be already (exit 1 saying what to run); an unreachable database exits 1."""
    store = store_of(database)
    return _ready(store, migrate=store.dialect == "sqlite")


def upgraded_store(database: DatabaseSettings) -> Store:
    """The store for ``DATABASE_URL``, migrated to the newest schema on any database (``receiver db upgrade``)."""
    return _ready(store_of(database), migrate=True)


def store_of(database: DatabaseSettings) -> Store:
    """The store of these settings, not opened yet: its URL, its timeout, its ``DATA_KEY``."""
    return Store(database.url, timeout_seconds=database.timeout, data_key=database.data_key or None)


def _ready(store: Store, *, migrate: bool) -> Store:
    try:
        if migrate:
            store.upgrade()
        elif not store.is_migrated():
            store.close()
            click.echo(NOT_MIGRATED, err=True)
            sys.exit(1)
    except StoreUnavailable as exc:
        store.close()
        click.echo(f"error: DATABASE_URL: {exc}", err=True)
        sys.exit(1)
    return store


def sender_or_exit(settings: Settings) -> Sender:
    """The configured sender, built from the environment; its settings' problems one line each and exit 2."""
    try:
        return load_sender(settings.worker.sender, settings.environ)
    except ValueError as exc:
        fail(str(exc).splitlines())
