"""A database outage says why, the URL's password masked: every cause this machine can produce, on the real
databases; a command prints it; the worker logs a cause once when it changes (and when the database is back), not
at every poll, and the driver's exception only at DEBUG."""

from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
from click.testing import CliRunner

from receiver.cli import main
from receiver.senders.log import LogSender
from receiver.store import Store, StoreUnavailable, causes
from support.data import base_env
from support.logs import Captured
from support.net import free_port
from support.postgres import require_postgres
from support.workers import make_worker


def outage(url: str, operation=lambda store: store.reports.counts()) -> StoreUnavailable:
    store = Store(url, timeout_seconds=0.5)
    try:
        with pytest.raises(StoreUnavailable) as raised:
            operation(store)
    finally:
        store.close()
    return raised.value


def with_user(url: str, user: str, password: str = "") -> str:
    parts = urlsplit(url)
    host = parts.hostname + (f":{parts.port}" if parts.port else "")
    credentials = f"{user}:{password}" if password else user
    return urlunsplit(parts._replace(netloc=f"{credentials}@{host}"))


def test_a_closed_port_is_unreachable_and_the_password_masked():
    exc = outage(f"postgresql+psycopg://postgres:hunter2-secret@127.0.0.1:{free_port()}/receiver")
    assert exc.kind == causes.UNREACHABLE
    assert "cannot reach the database at postgresql+psycopg://postgres:***@127.0.0.1:" in str(exc)
    assert "hunter2-secret" not in str(exc)


def test_a_missing_postgresql_database_is_named_as_missing():
    url = require_postgres()
    parts = urlsplit(url)
    exc = outage(urlunsplit(parts._replace(path="/receiver_no_such_database")))
    assert exc.kind == causes.MISSING_DATABASE and "receiver_no_such_database does not exist" in str(exc)


def test_a_refused_user_is_an_authentication_failure():
    url = with_user(require_postgres(), "receiver_no_such_role", "pw-secret")
    exc = outage(url)
    assert exc.kind == causes.AUTHENTICATION and "refused the authentication" in str(exc)
    assert "pw-secret" not in str(exc)


def test_a_wrong_password_is_an_authentication_failure():
    url = with_user(require_postgres(), "postgres", "surely-not-the-password")
    try:
        psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"), connect_timeout=2).close()
    except psycopg.OperationalError:
        assert outage(url).kind == causes.AUTHENTICATION
    else:
        pytest.skip("the local PostgreSQL trusts local connections (any password passes): a role that does not "
                    "exist stands for refused credentials above")


def test_a_sqlite_file_in_a_missing_folder_names_the_folder(tmp_path):
    exc = outage(f"sqlite:///{tmp_path / 'missing' / 'receiver.db'}")
    assert exc.kind == causes.MISSING_FOLDER and str(tmp_path / "missing") in str(exc)


@pytest.mark.both_databases
def test_an_unmigrated_schema_says_to_run_the_upgrade(unmigrated_database_url):
    exc = outage(unmigrated_database_url)
    assert exc.kind == causes.NOT_MIGRATED and "run 'receiver db upgrade'" in str(exc)


def test_a_locked_sqlite_file_is_locked(locked_sqlite):
    exc = outage(locked_sqlite)
    assert exc.kind == causes.LOCKED and "is locked" in str(exc)


def test_a_command_prints_the_cause(tmp_path):
    url = f"sqlite:///{tmp_path / 'missing' / 'receiver.db'}"
    result = CliRunner().invoke(main, ["status"], env=base_env(DATABASE_URL=url))
    assert result.exit_code == 1
    assert f"error: DATABASE_URL: the folder of the SQLite file does not exist ({tmp_path / 'missing'})" in result.output


class Polls:
    """A stop flag that runs one scripted step at each poll of the worker, and stops it after the last."""

    def __init__(self, *steps):
        self.steps = list(steps)

    def is_set(self) -> bool:
        return not self.steps

    def wait(self, timeout=None) -> bool:
        self.steps.pop(0)()
        return self.is_set()

    def set(self) -> None:
        self.steps = []


def test_the_worker_logs_a_changed_cause_once_not_at_every_poll(tmp_path, clock):
    folder = tmp_path / "data"
    url = f"sqlite:///{folder / 'receiver.db'}"
    store = Store(url, timeout_seconds=0.5)
    nothing = lambda: None  # noqa: E731
    stop = Polls(nothing, nothing, folder.mkdir, nothing, nothing, store.upgrade, nothing, nothing)
    worker, _ = make_worker(store, clock, LogSender(), DATABASE_URL=url, WORKER_POLL="1s")
    worker.stop = stop
    with Captured() as captured:
        worker.run_forever()
    worker.close()
    store.close()
    lines = [(line["level"], line["message"]) for line in captured.lines if line["logger"] == "receiver.worker"]
    warnings = [message for level, message in lines if level == "warning"]
    assert warnings == [
        f"the database is unavailable: the folder of the SQLite file does not exist ({folder}): create it or fix "
        "DATABASE_URL; trying again every 1.0s until it answers",
        f"the database is unavailable: the database at {url} is not migrated (a table or column is missing): run "
        "'receiver db upgrade'; trying again every 1.0s until it answers"]
    assert [message for level, message in lines if level == "info"] == ["the database answers again"]
    details = [message for level, message in lines if level == "debug" and "unavailable" in message]
    assert len(details) == 6 and details[0] == ("the database is unavailable (missing folder): OperationalError: "
                                                "unable to open database file")
