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

from sqlalchemy import select

from .engine import Database
from .schema import MAX_ID, MAX_IDENTITY, MAX_TRAIT_NAME, user_traits

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


def chunks(identities: Sequence[str]) -> Iterable[Sequence[str]]:
    """``identities`` in slices of ``TRAIT_CHUNK``, one statement each."""
    for start in range(0, len(identities), TRAIT_CHUNK):
        yield identities[start:start + TRAIT_CHUNK]


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


class Traits:
    def __init__(self, database: Database):
        self.database = database

    def remember(self, updates: Sequence[TraitUpdate], *, now: datetime) -> int:
        """Merge the traits of a batch of identify calls into the stored ones, in one transaction.

        Returns how many (identity, trait) rows the batch carried. A value is only replaced by one
        observed at the same time or later.
        """
        rows = _latest_per_trait(updates, now)
        if not rows:
            return 0
        insert = self.database.insert(user_traits)
        statement = insert.on_conflict_do_update(
            index_elements=[user_traits.c.identity, user_traits.c.name],
            set_={"value": insert.excluded.value, "observed_at": insert.excluded.observed_at,
                  "updated_at": insert.excluded.updated_at, "user_id": insert.excluded.user_id},
            where=user_traits.c.observed_at <= insert.excluded.observed_at,
        )
        def merge() -> None:
            with self.database.intake_write(), self.database.engine.begin() as conn:
                conn.execute(statement, rows)  # executemany: SQLAlchemy pages the rows, the statement is compiled once

        self.database.once_more(merge)  # on a lost connection: merging the same values again changes nothing
        return len(rows)

    def known(self, identities: Iterable[str]) -> dict[str, dict[str, Any]]:
        """The stored traits of each identity asked for that has any (their values), in one query per chunk."""
        return {identity: {name: trait.value for name, trait in traits.items()}
                for identity, traits in self.recalled(identities).items()}

    def recalled(self, identities: Iterable[str]) -> dict[str, dict[str, StoredTrait]]:
        """``known``, each value with the userId of the message that set it."""
        wanted = sorted({identity for identity in identities if identity and len(identity) <= MAX_IDENTITY})
        found: dict[str, dict[str, StoredTrait]] = {}
        if not wanted:
            return found
        columns = (user_traits.c.identity, user_traits.c.name, user_traits.c.value, user_traits.c.user_id)

        def read() -> dict[str, dict[str, StoredTrait]]:
            found.clear()
            with self.database.reading() as conn:
                for chunk in chunks(wanted):
                    for row in conn.execute(select(*columns).where(user_traits.c.identity.in_(chunk))):
                        found.setdefault(row.identity, {})[row.name] = StoredTrait(row.value, row.user_id)
            return found

        return self.database.once_more(read)  # intake reads these: a lost connection costs no request
