"""Where the schema is migrated: ``receiver db upgrade`` on any database, every command on SQLite, and on
PostgreSQL nothing else (a command refuses a schema that is behind, with what to run)."""

import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, inspect

from receiver.cli import main
from receiver.config import load_settings
from receiver.startup import NOT_MIGRATED, open_store, upgraded_store
from receiver.store import Store
from support.data import FIXTURES, base_env
from support.net import free_port
from support.postgres import fresh_postgres_url


def tables(url):
    engine = create_engine(url)
    names = inspect(engine).get_table_names()
    engine.dispose()
    return names


def test_open_store_migrates_a_fresh_sqlite_file(sqlite_url):
    store = open_store(load_settings(base_env(DATABASE_URL=sqlite_url)).database)
    assert store.is_migrated()
    store.close()


@pytest.mark.parametrize("command", [["serve"], ["worker", "--once"], ["retry"], ["purge"], ["replay", str(FIXTURES)]])
def test_on_an_unmigrated_postgresql_commands_say_what_to_run_and_exit_1(command):
    url = fresh_postgres_url()
    result = CliRunner().invoke(main, command, env=base_env(DATABASE_URL=url))
    assert (result.exit_code, result.output) == (1, NOT_MIGRATED + "\n")
    assert tables(url) == []  # nothing was created behind the release phase's back


def test_db_upgrade_migrates_postgresql_and_then_the_commands_run():
    url = fresh_postgres_url()
    upgraded = CliRunner().invoke(main, ["db", "upgrade"], env=base_env(DATABASE_URL=url))
    assert (upgraded.exit_code, upgraded.output) == (0, "database is at the newest schema\n")
    retried = CliRunner().invoke(main, ["retry"], env=base_env(DATABASE_URL=url))
    assert (retried.exit_code, retried.output) == (0, "0 invitation(s) due now\n")


def test_open_store_on_a_migrated_postgresql_only_checks(monkeypatch):
    url = fresh_postgres_url()
    database = load_settings(base_env(DATABASE_URL=url)).database
    upgraded_store(database).close()
    monkeypatch.setattr(Store, "upgrade", lambda self: pytest.fail("open_store migrated PostgreSQL"))
    store = open_store(database)
    assert store.is_migrated()
    store.close()


def test_an_unreachable_database_is_one_line_and_exit_1():
    url = f"postgresql://postgres@127.0.0.1:{free_port()}/nowhere"
    result = CliRunner().invoke(main, ["retry"], env=base_env(DATABASE_URL=url, DB_TIMEOUT="1s"))
    assert result.exit_code == 1
    [line] = result.output.splitlines()
    assert line.startswith("error: DATABASE_URL: ") and "Traceback" not in result.output
