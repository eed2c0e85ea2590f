"""Traits: what identify calls said about each customer, for orders that do not say it.

One row per (identity, trait): ``identity`` is ``user:<userId>`` or ``anon:<anonymousId>``. Merging is
Segment's: a trait sent again replaces the stored value, new traits are added, the others stay. Each
row keeps the time of the identify call that set it, so that a late retry of an older call does
not overwrite a newer value, and the userId that call carried (``StoredTrait.user_id``), so that traits under a
shared anonymousId can be told apart by customer. ``remember`` writes a whole batch (e.g. an Engage audience sync) in one
transaction, with one ``INSERT ... ON CONFLICT DO UPDATE ... WHERE``: atomic on both databases.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select

from .engine import Database
from .schema import MAX_ID, MAX_IDENTITY, MAX_TRAIT_NAME, user_traits
from .sealed import Sealer

TRAIT_CHUNK = 500  # identities per statement: well under SQLite's and PostgreSQL's limits on bound parameters


def identity_key(kind: str, value: str) -> str:
    """``("user", "u-1")`` -> ``"user:u-1"``; ``kind`` is ``user`` (userId) or ``anon`` (anonymousId)."""
    return f"{kind}:{value}"


@dataclass(frozen=True)
class TraitUpdate:
    """The traits of one identify call, for one identity, as of ``observed_at`` (its timestamp); ``user_id``: the
    userId the call carried (None when it had none)."""

    identity: str
    traits: Mapping[str, Any]
    observed_at: datetime
    user_id: str | None = None


@dataclass(frozen=True)
class StoredTrait:
    """A stored value, and the userId of the message that set it: None when it had none, '' when not known (a row
    stored before the receiver kept it)."""

    value: Any
    user_id: str | None = None
    address_key: str | None = None  # of an ``email`` trait's address, or the address an ``ADDRESS_MARK`` stands for


def chunks(identities: Sequence[str]) -> Iterable[Sequence[str]]:
    """``identities`` in slices of ``TRAIT_CHUNK``, one statement each."""
    for start in range(0, len(identities), TRAIT_CHUNK):
        yield identities[start:start + TRAIT_CHUNK]


EMAIL_TRAIT = "email"  # the one stored trait that holds an address (intake stores every spelling under this name)
# A row that holds only an address key, no address: an order of this customer carried that address (so that the
# customer's Engage opt-out can be taken off the suppression list for it later). No trait of a message has this name.
ADDRESS_MARK = "@address"


def _latest_per_trait(updates: Iterable[TraitUpdate], now: datetime) -> list[dict[str, Any]]:
    """One row per (identity, trait): the newest value in the batch (a later one wins a tie).

    One statement may not touch a row twice on PostgreSQL, so the batch is folded here first.
    """
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    for update_ in updates:
        if not update_.identity or len(update_.identity) > MAX_IDENTITY:
            continue
        for name, value in update_.traits.items():
            if not isinstance(name, str) or not name or len(name) > MAX_TRAIT_NAME:
                continue
            key = (update_.identity, name)
            if key not in rows or rows[key]["observed_at"] <= update_.observed_at:
                rows[key] = {"identity": update_.identity, "name": name, "value": value,
                             "observed_at": update_.observed_at, "updated_at": now,
                             "user_id": update_.user_id[:MAX_ID] if update_.user_id else None}
    return list(rows.values())


def _sealed(sealer: Sealer, rows: list[dict[str, Any]], now: datetime, conn: Connection) -> list[dict[str, Any]]:
    """The rows with their value and user_id sealed: an ``email`` trait's value under its address's key, the rest
    under their identity's."""
    identities = {row["identity"]: sealer.identity_subject(row["identity"]) for row in rows}
    subjects = [row["address_key"] or identities[row["identity"]] for row in rows]
    used = [subject for row, subject in zip(rows, subjects, strict=True) if row["value"] is not None]
    keys = sealer.keyring([*used, *identities.values()], now=now, conn=conn)
    return [{**row, "value": keys.seal_value(subject, row["value"]),
             "user_id": keys.seal(identities[row["identity"]], row["user_id"])}
            for row, subject in zip(rows, subjects, strict=True)]


class Traits:
    def __init__(self, database: Database, sealer: Sealer):
        self.database = database
        self.sealer = sealer

    def remember(self, updates: Sequence[TraitUpdate], *, now: datetime) -> int:
        """Merge the traits of a batch of identify calls into the stored ones, in one transaction.

        Returns how many (identity, trait) rows the batch carried. A value is only replaced by one
        observed at the same time or later.
        """
        rows = _latest_per_trait(updates, now)
        if not rows:
            return 0
        for row in rows:
            value = row["value"]
            row["address_key"] = (self.database.address_key(value)
                                  if row["name"] == EMAIL_TRAIT and isinstance(value, str) else None)
        self._write(rows)
        return len(rows)

    def mark_address(self, identities: Sequence[str], email: str, *, user_id: str | None, now: datetime) -> None:
        """Note that these customer ids were seen with ``email``: its address key only (``ADDRESS_MARK``)."""
        key = self.database.address_key(email)
        rows = [{"identity": identity, "name": ADDRESS_MARK, "value": None, "observed_at": now, "updated_at": now,
                 "user_id": user_id[:MAX_ID] if user_id else None, "address_key": key}
                for identity in identities if identity and len(identity) <= MAX_IDENTITY]
        if rows and key is not None:
            self._write(rows)

    def _write(self, rows: list[dict[str, Any]]) -> None:
        """Upsert ``rows`` in one transaction; a stored value is only replaced by one observed at the same time or
        later."""
        insert = self.database.insert(user_traits)
        statement = insert.on_conflict_do_update(
            index_elements=[user_traits.c.identity, user_traits.c.name],
            set_={"value": insert.excluded.value, "observed_at": insert.excluded.observed_at,
                  "updated_at": insert.excluded.updated_at, "user_id": insert.excluded.user_id,
                  "address_key": insert.excluded.address_key},
            where=user_traits.c.observed_at <= insert.excluded.observed_at,
        )
        def merge() -> None:
            with self.database.intake_write(), self.database.engine.begin() as conn:
                # executemany: SQLAlchemy pages the rows, the statement is compiled once
                conn.execute(statement, _sealed(self.sealer, rows, rows[0]["updated_at"], conn))

        self.database.once_more(merge)  # on a lost connection: merging the same values again changes nothing

    def known(self, identities: Iterable[str]) -> dict[str, dict[str, Any]]:
        """The stored traits of each identity asked for that has any (their values; an ``ADDRESS_MARK`` is none), in
        one query per chunk."""
        found = {identity: {name: trait.value for name, trait in traits.items() if name != ADDRESS_MARK}
                 for identity, traits in self.recalled(identities).items()}
        return {identity: traits for identity, traits in found.items() if traits}

    def recalled(self, identities: Iterable[str]) -> dict[str, dict[str, StoredTrait]]:
        """``known``, each value with the userId of the message that set it."""
        wanted = sorted({identity for identity in identities if identity and len(identity) <= MAX_IDENTITY})
        found: dict[str, dict[str, StoredTrait]] = {}
        if not wanted:
            return found
        columns = (user_traits.c.identity, user_traits.c.name, user_traits.c.value, user_traits.c.user_id,
                   user_traits.c.address_key)

        def read() -> dict[str, dict[str, StoredTrait]]:
            found.clear()
            with self.database.reading() as conn:
                for chunk in chunks(wanted):
                    rows = conn.execute(select(*columns).where(user_traits.c.identity.in_(chunk))).all()
                    keys = self.sealer.opener(conn, [cell for row in rows for cell in (row.value, row.user_id)])
                    for row in rows:
                        found.setdefault(row.identity, {})[row.name] = StoredTrait(
                            keys.open_value(row.value), keys.open(row.user_id), row.address_key)
            return found

        return self.database.once_more(read)  # intake reads these: a lost connection costs no request
