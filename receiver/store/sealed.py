"""Personal values sealed under per-customer keys, so that an erasure holds in every byte of the database files.

Deleting a value does not remove it from disk: PostgreSQL keeps the old row version (a dead tuple) until a VACUUM,
and its bytes in free space after; SQLite keeps it in the ``-wal`` file and in free pages. So the personal columns
(an invitation's email and name, every stored trait's value, the userId that set a trait) hold a *sealed cell*:
``s1.<subject>.<base64url(nonce + AES-256-GCM ciphertext)>``, sealed under the key of its *subject*, a random 32-byte
key in the small ``customer_keys`` table. The subject of an address, and of the name that came with it, is the
customer's address key (``privacy.address_key``); the subject of the other traits of an identity is a keyed hash of
the identity. An erasure deletes the subjects' keys (``shred``) and then rewrites the key table (``compact``:
a new file of its live rows on PostgreSQL, ``secure_delete`` and a truncated WAL on SQLite): every copy of the
erased values left anywhere, live or dead, is then ciphertext whose key exists nowhere in the database.

A cell whose key is gone opens as None (erased); a value that is not a sealed cell (a row stored before sealing)
opens as itself.
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
import os
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime, timedelta
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import Connection, Table, Text, bindparam, cast, delete, func, literal, select, union, union_all
from sqlalchemy.exc import OperationalError

from ..invitation import Invitation
from .engine import Database, Prepared, StoreUnavailable
from .schema import customer_keys, deliveries, invitations, user_traits

PREFIX = "s1."
SUBJECT_LENGTH = 64  # hex characters of an HMAC-SHA256, like an address key
NONCE_LENGTH = 12
KEY_CHUNK = 500  # subjects per statement
COMPACT_PAUSE = 0.05  # seconds between two tries of a rewrite a lock held up
UNUSED_GRACE = timedelta(minutes=10)  # a key younger than this may be about to seal a row still being written
RECENT_KEYS = 4096  # keys a process keeps in memory to seal with (RecentKeys)
RECENT_SECONDS = 300.0  # and for how long at most
_READ = select(customer_keys.c.subject, customer_keys.c.secret).where(
    customer_keys.c.subject.in_(bindparam("subjects", expanding=True)))
_CELL = re.compile(rf"s1\.([0-9a-f]{{{SUBJECT_LENGTH}}})\.([A-Za-z0-9_-]+=*)")


def subject_of(cell: Any) -> str | None:
    """The subject of a sealed cell, None for anything else."""
    if isinstance(cell, str) and cell.startswith(PREFIX):
        match = _CELL.fullmatch(cell)
        return match.group(1) if match else None
    return None


def _chunks(items: Sequence[str]) -> Iterator[Sequence[str]]:
    for start in range(0, len(items), KEY_CHUNK):
        yield items[start:start + KEY_CHUNK]


class Keyring:
    """The keys of some subjects, fetched in one go: seals and opens cells of those subjects."""

    def __init__(self, keys: dict[str, bytes]):
        self._ciphers = {subject: AESGCM(secret) for subject, secret in keys.items()}

    def seal(self, subject: str, text: str | None) -> str | None:
        """``text`` sealed under the subject's key (None stays None)."""
        if text is None:
            return None
        nonce = os.urandom(NONCE_LENGTH)
        sealed = self._ciphers[subject].encrypt(nonce, text.encode("utf-8"), subject.encode("ascii"))
        return f"{PREFIX}{subject}.{base64.urlsafe_b64encode(nonce + sealed).decode('ascii')}"

    def open(self, cell: Any) -> Any:
        """The text of a sealed cell; None if its key is gone (erased) or it does not open; anything else as is."""
        subject = subject_of(cell)
        if subject is None:
            return cell
        cipher = self._ciphers.get(subject)
        if cipher is None:
            return None
        try:
            raw = base64.urlsafe_b64decode(cell[len(PREFIX) + SUBJECT_LENGTH + 1:])
            return cipher.decrypt(raw[:NONCE_LENGTH], raw[NONCE_LENGTH:], subject.encode("ascii")).decode("utf-8")
        except (InvalidTag, ValueError, binascii.Error):
            return None

    def seal_value(self, subject: str, value: Any) -> Any:
        """A JSON value (a trait's) sealed as a JSON string; None stays None."""
        return None if value is None else self.seal(subject, json.dumps(value))

    def open_value(self, cell: Any) -> Any:
        if subject_of(cell) is None:
            return cell
        text = self.open(cell)
        return None if text is None else json.loads(text)


class RecentKeys:
    """The keys this process sealed with lately (subject to secret), so that a customer's next message can be sealed
    without reading its key first: at most ``size`` of them (the least recently used goes first), each for at most
    ``seconds`` (a shredded key does not stay in a process's memory long). A cached secret is only ever *checked*
    against the stored key by the statement that seals with it, never written again: a key shredded meanwhile is
    not brought back (``Outbox``'s guarded insert)."""

    def __init__(self, size: int = RECENT_KEYS, seconds: float = RECENT_SECONDS,
                 clock: Callable[[], float] = time.monotonic):
        self.size, self.seconds, self._clock = size, seconds, clock
        self._keys: OrderedDict[str, tuple[bytes, float]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, subject: str) -> bytes | None:
        with self._lock:
            found = self._keys.get(subject)
            if found is None:
                return None
            if found[1] <= self._clock():
                del self._keys[subject]
                return None
            self._keys.move_to_end(subject)
            return found[0]

    def put(self, keys: dict[str, bytes]) -> None:
        until = self._clock() + self.seconds
        with self._lock:
            for subject, secret in keys.items():
                self._keys[subject] = (secret, until)
                self._keys.move_to_end(subject)
            while len(self._keys) > self.size:
                self._keys.popitem(last=False)

    def drop(self, subjects: Iterable[str]) -> None:
        with self._lock:
            for subject in subjects:
                self._keys.pop(subject, None)


class Sealer:
    """The subjects of the values to seal, their keys (made when first needed), and their erasure."""

    def __init__(self, database: Database):
        self.database = database
        self.recent = RecentKeys()  # this process's keys, which Outbox's one-statement insert seals with
        # executemany with RETURNING (SQLAlchemy's "insertmanyvalues"): the rows this call made, not a racer's
        self._make = (database.insert(customer_keys).on_conflict_do_nothing()
                      .returning(customer_keys.c.subject, customer_keys.c.secret))

    def address_subject(self, email: Any) -> str | None:
        """The subject of an address and what came with it: its address key (None: not an address)."""
        return self.database.address_key(email) if isinstance(email, str) else None

    def identity_subject(self, identity: str) -> str:
        """The subject of an identity's traits (``user:<userId>``, ``anon:<anonymousId>``)."""
        return self.database.keyed_hash(b"identity\0" + identity.encode("utf-8"))

    def subject(self, email: str | None, identity: str) -> str:
        """The address's subject when ``email`` is an address, else the identity's."""
        return self.address_subject(email) or self.identity_subject(identity)

    def invitation_subject(self, invitation: Invitation, address_key: str | None = None) -> str:
        """What an invitation's email and name are sealed under: its address's key (``address_key`` when the caller
        has it already); without an address (a waiting order), its customer's identity (as ``traits.identity_key``
        spells it), else its own message id."""
        if address_key is not None:
            return address_key
        if invitation.user_id:
            identity = f"user:{invitation.user_id}"
        elif invitation.anonymous_id:
            identity = f"anon:{invitation.anonymous_id}"
        else:
            identity = f"message:{invitation.message_id}"
        return self.subject(invitation.email, identity)

    def keyring(self, subjects: Iterable[str], *, now: datetime, conn: Connection | None = None) -> Keyring:
        """The keys of ``subjects``, the missing ones made (as of ``now``), for sealing: in the caller's transaction,
        or on a connection of its own, so that the caller's write can stay one statement (a key committed before
        its row is harmless: an unused key seals nothing, and ``shred_unused`` leaves a key younger than
        ``UNUSED_GRACE`` alone)."""
        wanted = sorted(set(subjects))
        if not wanted:
            return Keyring({})
        if conn is not None:
            keys = self._get_or_make(conn, wanted, now)
        else:
            with self.database.writing(one_statement=False) as own:
                keys = self._get_or_make(own, wanted, now)
        self.recent.put(keys)
        return Keyring(keys)

    def opener(self, conn: Connection, cells: Iterable[Any]) -> Keyring:
        """The keys that open ``cells`` (sealed or not), read on ``conn``; a cell whose key is gone opens as None."""
        wanted = sorted({subject for subject in map(subject_of, cells) if subject})
        return Keyring(self._fetch(conn, wanted))

    @staticmethod
    def _fetch(conn: Connection, subjects: Sequence[str]) -> dict[str, bytes]:
        found: dict[str, bytes] = {}
        for chunk in _chunks(subjects):
            found.update({row.subject: bytes(row.secret) for row in conn.execute(_READ, {"subjects": list(chunk)})})
        return found

    @functools.cached_property
    def _one(self) -> tuple[Prepared, Prepared | None]:
        """One subject's get-or-make, compiled once (``_get_or_make_one``): on PostgreSQL one statement, the insert in
        a data-modifying CTE beside the read (which, in the statement's snapshot, sees only a key made before it);
        on SQLite, which has no such CTE, the insert, and the read for when the key was there already."""
        columns = ("subject", "secret", "created_at")
        make = self.database.insert(customer_keys).values(
            {name: bindparam(name) for name in columns}).on_conflict_do_nothing().returning(customer_keys.c.secret)
        read = select(customer_keys.c.secret).where(customer_keys.c.subject == bindparam("subject"))
        if self.database.dialect == "postgresql":
            made = make.cte("made")
            both = union_all(select(made.c.secret), read)
            return self.database.prepared(both, columns, customer_keys), None
        return (self.database.prepared(make, columns),
                self.database.prepared(read, ("subject",), customer_keys))

    def _get_or_make_one(self, conn: Connection, subject: str, now: datetime) -> dict[str, bytes]:
        """The key of one subject (a single message's customer), made if missing: one round trip on PostgreSQL
        where the general path takes two for a new customer, and the driver's SQL without SQLAlchemy compiling or
        keying a statement (an expanding ``IN``) for each message."""
        make, read = self._one
        row = {"subject": subject, "secret": AESGCM.generate_key(bit_length=256), "created_at": now}
        found = conn.exec_driver_sql(make.sql, make.parameters(row)).scalar()
        if found is None and read is not None:
            found = conn.exec_driver_sql(read.sql, read.parameters(row)).scalar()
        if found is None:  # PostgreSQL: a racer made it after this statement's snapshot
            return self._fetch(conn, [subject])
        return {subject: bytes(found)}

    def _get_or_make(self, conn: Connection, subjects: Sequence[str], now: datetime) -> dict[str, bytes]:
        """The keys of ``subjects``, the missing ones made: one read for a returning customer, one insert more for a
        new one (both statements built once: compiling them cost more than the round trips)."""
        if len(subjects) == 1:
            return self._get_or_make_one(conn, subjects[0], now)
        found = self._fetch(conn, subjects)
        missing = [subject for subject in subjects if subject not in found]
        if missing:
            fresh = [{"subject": subject, "secret": AESGCM.generate_key(bit_length=256), "created_at": now}
                     for subject in missing]
            found.update({row.subject: bytes(row.secret) for row in conn.execute(self._make, fresh)})
            found.update(self._fetch(conn, [subject for subject in missing if subject not in found]))  # a race's
        return found

    def shred(self, conn: Connection, subjects: Iterable[str]) -> int:
        """Delete the keys of ``subjects`` (in the caller's transaction), and this process's copies; how many there
        were."""
        wanted = sorted(set(subjects))
        self.recent.drop(wanted)
        return sum(conn.execute(delete(customer_keys).where(customer_keys.c.subject.in_(chunk))).rowcount
                   for chunk in _chunks(wanted))

    def shred_unused(self, conn: Connection, *, now: datetime) -> int:
        """Delete every key no stored cell is sealed under any more (made before ``UNUSED_GRACE`` ago, so that a
        key made for a row still being written stays); the retention sweep's counterpart of ``shred``."""
        start, width = len(PREFIX) + 1, SUBJECT_LENGTH
        as_text = cast(user_traits.c.value, Text)
        used = union(
            select(func.substr(invitations.c.email, start, width)).where(invitations.c.email.like(f"{PREFIX}%")),
            select(func.substr(invitations.c.name, start, width)).where(invitations.c.name.like(f"{PREFIX}%")),
            select(func.substr(user_traits.c.user_id, start, width)).where(user_traits.c.user_id.like(f"{PREFIX}%")),
            # a JSON string: its text starts with the quote
            select(func.substr(as_text, start + 1, width)).where(as_text.like(literal(f'"{PREFIX}%'))),
        )
        statement = delete(customer_keys).where(customer_keys.c.created_at < now - UNUSED_GRACE,
                                                customer_keys.c.subject.not_in(used.scalar_subquery()))
        return conn.execute(statement).rowcount

    def compact(self, rewrite: Sequence[Table] = ()) -> bool:
        """After keys were shredded and committed: leave no copy of them in the database files. PostgreSQL rewrites
        the key table into a new file with only its live rows (``_rewrite``), and the tables of ``rewrite`` with
        it: those whose erased rows held personal data in a column that cannot be sealed (a customer id that is
        the address itself); SQLite overwrote them already (``secure_delete``) and now truncates its WAL. False
        when a busy reader or a lock kept that from finishing within the timeout (the keys are deleted all the
        same; run the erasure again to compact)."""
        if self.database.dialect != "postgresql":
            return self.database.truncate_wal()
        give_up = time.monotonic() + self.database.timeout_seconds
        while True:
            try:
                with self.database.engine.begin() as conn:
                    _rewrite(conn, _with_referrers((customer_keys, *rewrite)))
                return True
            except (StoreUnavailable, OperationalError):
                if time.monotonic() >= give_up:
                    return False
                time.sleep(COMPACT_PAUSE)


def _with_referrers(tables: Sequence[Table]) -> list[Table]:
    """``tables`` and, after each, the tables whose foreign keys point at it (PostgreSQL truncates a referenced table
    only together with them): ``invitations`` takes ``deliveries`` along."""
    wanted = list(dict.fromkeys(tables))
    if invitations in wanted and deliveries not in wanted:
        wanted.insert(wanted.index(invitations) + 1, deliveries)
    return wanted


def _rewrite(conn: Connection, tables: Sequence[Table]) -> None:
    """Replace each table's file by one that holds its live rows only (in the caller's transaction).

    ``VACUUM FULL`` would keep every deleted row that some open snapshot might still see, and the snapshot of any
    transaction running anywhere in the cluster holds that back: a long one in another database is enough. A
    ``TRUNCATE`` gives the table a new, empty file whatever runs meanwhile (the old file is unlinked at commit), and
    the live rows are copied back from a temporary table dropped at commit; the tables are truncated in one
    statement and filled again in order (a referenced one before those referring to it)."""
    names = [table.name for table in tables]
    for name in names:
        conn.exec_driver_sql(f"LOCK TABLE {name} IN ACCESS EXCLUSIVE MODE")
        conn.exec_driver_sql(f"CREATE TEMPORARY TABLE rewrite_{name} ON COMMIT DROP AS SELECT * FROM {name}")
    conn.exec_driver_sql(f"TRUNCATE {', '.join(names)}")
    for name in names:
        conn.exec_driver_sql(f"INSERT INTO {name} SELECT * FROM rewrite_{name}")
