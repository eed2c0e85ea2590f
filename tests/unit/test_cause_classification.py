"""Why the database is unavailable, classified from the driver's exception (``receiver.store.causes``): the kinds that
cannot be produced on this machine (a full disk, refused passwords) from the codes and messages the drivers give."""

import errno
import sqlite3

import pytest

from receiver.store import causes


class PgError(Exception):
    """Stands in for a psycopg error: its message and SQLSTATE (None before a session exists)."""

    def __init__(self, message: str, sqlstate: str | None = None):
        super().__init__(message)
        self.sqlstate = sqlstate


def sqlite_error(message: str, code: int) -> sqlite3.OperationalError:
    error = sqlite3.OperationalError(message)
    error.sqlite_errorcode = code
    return error


URL = "postgresql+psycopg://shop:s3cret-pass@db.internal:5432/receiver"


@pytest.mark.parametrize(("error", "kind"), [
    (OSError(errno.ENOSPC, "No space left on device"), causes.DISK_FULL),
    (sqlite_error("database or disk is full", 13), causes.DISK_FULL),
    (PgError("could not extend file: No space left on device", "53100"), causes.DISK_FULL),
    (PgError('connection failed: FATAL:  password authentication failed for user "shop"'), causes.AUTHENTICATION),
    (PgError("FATAL: no pg_hba.conf entry for host", None), causes.AUTHENTICATION),
    (PgError("anything", "28P01"), causes.AUTHENTICATION),
    (PgError('connection failed: FATAL:  database "receiver" does not exist'), causes.MISSING_DATABASE),
    (PgError('connection to server at "10.0.0.1", port 5432 failed: Connection refused'), causes.UNREACHABLE),
    (PgError("failed to resolve host 'db.internal': [Errno -2] Name or service not known"), causes.UNREACHABLE),
    (OSError(errno.ECONNREFUSED, "refused"), causes.UNREACHABLE),
    (PgError('relation "invitations" does not exist', "42P01"), causes.NOT_MIGRATED),
    (sqlite_error("no such table: invitations", 1), causes.NOT_MIGRATED),
    (sqlite_error("database is locked", 5), causes.LOCKED),
    (PgError("canceling statement due to lock timeout", "55P03"), causes.LOCKED),
    (PgError("cannot execute INSERT in a read-only transaction", "25006"), causes.READ_ONLY),
    (PgError("something else entirely", "XX000"), causes.UNAVAILABLE),
])
def test_each_cause_is_read_from_the_drivers_code_or_message(error, kind):
    assert causes.kind_of(error, URL) == kind


def test_the_line_names_the_database_with_its_password_masked_and_never_quotes_the_driver():
    cause = causes.classify(PgError('password authentication failed for user "shop" (s3cret-pass)'), URL)
    assert cause.kind == causes.AUTHENTICATION
    assert "shop:***@db.internal:5432/receiver" in str(cause) and "s3cret-pass" not in str(cause)
    full = causes.classify(OSError(errno.ENOSPC, "No space left on device"), URL)
    assert str(full) == "the disk of the database at postgresql+psycopg://shop:***@db.internal:5432/receiver is " \
                        "full: free space, then try again"


def test_a_sqlite_file_that_cannot_be_opened_is_a_missing_folder_only_when_the_folder_is_missing(tmp_path):
    error = sqlite_error("unable to open database file", 14)
    assert causes.kind_of(error, f"sqlite:///{tmp_path / 'gone' / 'r.db'}") == causes.MISSING_FOLDER
    assert causes.kind_of(error, f"sqlite:///{tmp_path / 'r.db'}") == causes.UNAVAILABLE  # e.g. no permission
