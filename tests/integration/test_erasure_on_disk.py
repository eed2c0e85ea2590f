"""Erasure holds on disk: after ``receiver forget`` (and ``RETENTION``'s purge) the address, in any casing and in
its Unicode or punycode form, is in no database file. SQLite: the main file and the ``-wal`` read as bytes while
another connection of a running service is open. PostgreSQL: every page of the receiver's tables, their indexes
and TOAST tables through ``pageinspect``, and their relation files. A sealed cell counts as a copy only while the
key it is sealed under is still in ``customer_keys``: then it can be read."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine

from receiver.cli import main
from receiver.invitation import Invitation
from receiver.store import SENT, NewInvitation, Store, TraitUpdate
from receiver.store.sealed import NONCE_LENGTH
from support.data import DATA_KEY_BYTES, base_env

# every customer as stored (several spellings each), and the spelling ``forget`` is asked with
CUSTOMERS = {
    "jane.doe@example.com": ("Jane.Doe@Example.com", "jane.doe@example.com", "JANE.DOE@EXAMPLE.COM"),
    "jörg.müller@example.com": ("Jörg.Müller@example.com", "jörg.müller@example.com", "JÖRG.MÜLLER@EXAMPLE.COM"),
    "Åsa@Bücher.de": ("åsa@bücher.de", "åsa@xn--bcher-kva.de", "Åsa@XN--BCHER-KVA.DE"),
}
KEPT = "kept.customer@example.org"
_CELL = re.compile(rb"s1\.([0-9a-f]{64})\.([A-Za-z0-9_-]+=*)")


def forms(address: str) -> set[str]:
    """Every form of an address to look for, case-folded: its local part with the domain in Unicode and in
    punycode, each as UTF-8 text and as JSON escapes it (``\\u00f6``)."""
    local, _, domain = address.rpartition("@")
    unicode = domain.lower().encode("ascii").decode("idna") if domain.isascii() else domain
    domains = {domain, unicode, unicode.encode("idna").decode("ascii")}
    spelt = {f"{local}@{one}" for one in domains}
    return {form.casefold() for one in spelt for form in (one, json.dumps(one)[1:-1])}


def _all_forms(address: str) -> set[str]:
    return {form for spelling in CUSTOMERS.get(address, (address,)) for form in forms(spelling)} | forms(address)


def plain_copies(blob: bytes, address: str) -> int:
    """How often the address appears in ``blob`` as text, in any casing and form."""
    folded = blob.decode("utf-8", "replace").casefold()
    return sum(folded.count(form) for form in _all_forms(address))


def readable_copies(blob: bytes, address: str, keys: dict[str, bytes]) -> int:
    """How often the address appears in the sealed cells of ``blob`` that a key still in the database opens."""
    found = 0
    for match in _CELL.finditer(blob):
        secret = keys.get(match.group(1).decode())
        if secret is None:
            continue
        try:
            raw = base64.urlsafe_b64decode(match.group(2))
            opened = AESGCM(secret).decrypt(raw[:NONCE_LENGTH], raw[NONCE_LENGTH:], match.group(1))
        except Exception:  # noqa: BLE001 - a cell cut off at a page's edge, or a stale copy: unreadable
            continue
        found += plain_copies(opened, address)
    return found


def copies(sources: dict[str, list[bytes]], address: str, keys: dict[str, bytes]) -> dict[str, tuple[int, int]]:
    """Per source of bytes, (plain copies, readable sealed copies) of the address."""
    return {source: (sum(plain_copies(blob, address) for blob in blobs),
                     sum(readable_copies(blob, address, keys) for blob in blobs)) for source, blobs in sources.items()}


def none_of(found: dict[str, tuple[int, int]]) -> bool:
    return all(counts == (0, 0) for counts in found.values())


def recoverable(sources: dict[str, list[bytes]], engine: Engine, earlier: dict[str, bytes]) -> dict[str, bytes]:
    """The keys one could read from the files: those in the table, and any deleted one whose bytes are still
    somewhere in them (a dead row version, free space, an old WAL frame)."""
    blobs = [blob for found in sources.values() for blob in found]
    return {**{subject: secret for subject, secret in earlier.items() if any(secret in blob for blob in blobs)},
            **keys_in(engine)}


def keys_in(engine: Engine) -> dict[str, bytes]:
    with engine.connect() as conn:
        return {row.subject: bytes(row.secret) for row in conn.execute(text("SELECT subject, secret FROM customer_keys"))}


def sqlite_files(url: str) -> dict[str, list[bytes]]:
    path = Path(url.removeprefix("sqlite:///"))
    return {name: [file.read_bytes()] if file.exists() else []
            for name, file in (("main file", path), ("-wal", path.with_name(path.name + "-wal")))}


def postgres_pages(engine: Engine) -> dict[str, list[bytes]]:
    """Every page of the receiver's relations (tables, indexes, TOAST), as ``pageinspect`` reads them, and their
    files on disk after a checkpoint, where this process may read them."""
    blobs: list[bytes] = []
    files: list[bytes] = []
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("CHECKPOINT"))
        relations = conn.execute(text(
            "SELECT c.oid::regclass::text AS name, pg_relation_filepath(c.oid) AS path,"
            " current_setting('data_directory') AS data FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE c.relkind IN ('r', 'i', 't') AND (n.nspname = current_schema() OR n.nspname = 'pg_toast' AND"
            " c.oid IN (SELECT reltoastrelid FROM pg_class WHERE relnamespace = current_schema()::regnamespace)"
            " OR n.nspname = 'pg_toast' AND c.oid IN (SELECT indexrelid FROM pg_index WHERE indrelid IN"
            " (SELECT reltoastrelid FROM pg_class WHERE relnamespace = current_schema()::regnamespace)))")).all()
        for relation in relations:
            pages = conn.execute(text("SELECT pg_relation_size(CAST(:name AS regclass)) / 8192"),
                                 {"name": relation.name}).scalar()
            for page in range(pages or 0):
                blobs.append(bytes(conn.execute(text("SELECT get_raw_page(:name, 'main', :page)"),
                                                {"name": relation.name, "page": page}).scalar()))
            file = Path(relation.data) / relation.path if relation.path else None
            if file is not None:
                try:
                    files.extend(part.read_bytes() for part in sorted(file.parent.glob(file.name + "*")))
                except OSError:
                    pass  # the server's files are not this process's to read: the pages above still count
    return {"pages": blobs, "files": files}


@pytest.fixture
def raw(database_url: str, database_backend: str) -> Iterator[tuple[Engine, object]]:
    """An engine of the test's own on the database, and how to read the database's bytes."""
    url = database_url if database_backend == "sqlite" else database_url.replace("postgresql://",
                                                                                 "postgresql+psycopg://", 1)
    engine = create_engine(url)
    if database_backend == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            try:
                conn.execute(text("CREATE EXTENSION IF NOT EXISTS pageinspect"))
            except Exception as exc:  # noqa: BLE001 - not installed, or not a superuser
                engine.dispose()
                pytest.skip(f"pageinspect is not available to read PostgreSQL's pages ({type(exc).__name__})")
        yield engine, lambda: postgres_pages(engine)
    else:
        yield engine, lambda: sqlite_files(database_url)
    engine.dispose()


def _store_customers(store: Store, clock, *, state: str | None = None) -> None:
    number = 0
    for address in (*CUSTOMERS, KEPT):
        for spelling in CUSTOMERS.get(address, (address,)):
            number += 1
            invitation = Invitation(message_id=f"m-{number}", email=spelling, name="Jörg Jane Åsa", ref=f"r-{number}")
            store.outbox.add([NewInvitation(invitation)], domain="example.com", now=clock())
            store.traits.remember([TraitUpdate(f"user:u-{number}", {"email": spelling, "first_name": "Åsa"},
                                               clock(), f"u-{number}")], now=clock())
            clock.advance(seconds=1)
            # updated again and again: old versions of the rows pile up (PostgreSQL's dead tuples, SQLite's WAL)
            store.traits.remember([TraitUpdate(f"user:u-{number}", {"email": spelling, "last_name": "M"},
                                               clock(), f"u-{number}")], now=clock())
    # a customer whose userId is the address itself
    store.traits.remember([TraitUpdate("user:Jörg.Müller@example.com", {"first_name": "Jörg"}, clock(),
                                       "Jörg.Müller@example.com")], now=clock())
    if state is not None:
        with store.engine.begin() as conn:
            conn.execute(text("UPDATE invitations SET state = :state"), {"state": state})


def _forget(database_url: str, spelling: str) -> str:
    result = CliRunner().invoke(main, ["forget", spelling], env=base_env(DATABASE_URL=database_url))
    assert result.exit_code == 0, result.output
    return result.output


@pytest.mark.both_databases
def test_forget_leaves_no_readable_copy_of_the_address_in_any_database_file(store, clock, database_url, raw,
                                                                            capsys):
    engine, read = raw
    _store_customers(store, clock)
    service = Store(database_url, data_key=DATA_KEY_BYTES)  # a running service's own connection, left open
    assert service.reports.counts()["pending"] == 10
    earlier = keys_in(engine)
    before = {address: copies(read(), address, earlier) for address in CUSTOMERS}
    assert all(sum(map(sum, found.values())) > 0 for found in before.values()), before  # the counting finds them

    for address in CUSTOMERS:
        _forget(database_url, CUSTOMERS[address][-1])

    files = read()
    keys = recoverable(files, engine, earlier)
    assert set(earlier) - set(keys)  # the customers' keys are gone from the files, not only from the table
    after = {address: copies(files, address, keys) for address in CUSTOMERS}
    with capsys.disabled():
        print(f"\n[{store.dialect}] copies of each address (plain, readable sealed) before forget: {before}; "
              f"after: {after}")
    assert all(none_of(found) for found in after.values()), after
    kept = store.reports.find(message_id="m-10")
    assert kept is not None and kept.email == KEPT  # the other customer is untouched, and still readable
    assert service.reports.counts()["suppressed"] == 9
    service.close()


@pytest.mark.both_databases
def test_the_retention_purge_leaves_no_readable_copy_either(store, clock, database_url, raw):
    engine, read = raw
    _store_customers(store, clock, state=SENT)
    service = Store(database_url, data_key=DATA_KEY_BYTES)
    service.reports.counts()
    earlier = keys_in(engine)
    found = {address: copies(read(), address, earlier) for address in (*CUSTOMERS, KEPT)}
    assert all(not none_of(one) for one in found.values()), found
    clock.advance(days=31)

    erased = store.erasure.purge(now=clock(), older_than_seconds=timedelta(days=30).total_seconds())

    assert erased == 10 and store.erasure.compacted
    files = read()
    keys = recoverable(files, engine, earlier)
    assert all(none_of(copies(files, address, keys)) for address in (*CUSTOMERS, KEPT))
    service.close()


def test_a_reader_holding_the_wal_is_reported_and_the_next_erasure_clears_it(store, clock, database_url, raw):
    engine, read = raw
    _store_customers(store, clock)
    earlier = keys_in(engine)
    reader = engine.connect()
    reader.exec_driver_sql("BEGIN")
    reader.exec_driver_sql("SELECT count(*) FROM invitations").all()  # a read transaction pins the WAL
    store.database.timeout_seconds = 0.2
    store.erasure.forget([store.address_key("jane.doe@example.com")], now=clock())
    assert not store.erasure.compacted
    reader.exec_driver_sql("ROLLBACK")
    reader.close()

    output = _forget(database_url, "jane.doe@example.com")

    assert "warning" not in output
    files = read()
    assert none_of(copies(files, "jane.doe@example.com", recoverable(files, engine, earlier)))
