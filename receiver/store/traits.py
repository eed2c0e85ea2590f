"""Traits: what identify calls said about each customer, for orders that do not say it.

One row per (identity, trait): ``identity`` is ``user:<userId>`` or ``anon:<anonymousId>``. Merging is
Segment's: a trait sent again replaces the stored value, new traits are added, the others stay. Each
row keeps the time of the identify call that set it, so that a late retry of an older call does
not overwrite a newer value. ``remember`` writes a whole batch (e.g. an Engage audience sync) in one
transaction, with one ``INSERT ... ON CONFLICT DO UPDATE ... WHERE``: atomic on both databases.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select

from .engine import Database
from .schema import MAX_IDENTITY, MAX_TRAIT_NAME, user_traits

TRAIT_CHUNK = 500  # identities per statement: well under SQLite's and PostgreSQL's limits on bound parameters


def identity_key(kind: str, value: str) -> str:
    """``("user", "u-1")`` -> ``"user:u-1"``; ``kind`` is ``user`` (userId) or ``anon`` (anonymousId)."""
    return f"{kind}:{value}"


@dataclass(frozen=True)
class TraitUpdate:
    """The traits of one identify call, for one identity, as of ``observed_at`` (its timestamp)."""

    identity: str
    traits: Mapping[str, Any]
    observed_at: datetime


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
                             "observed_at": update_.observed_at, "updated_at": now}
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
                  "updated_at": insert.excluded.updated_at},
            where=user_traits.c.observed_at <= insert.excluded.observed_at,
        )
        with self.database.intake_write(), self.database.engine.begin() as conn:
            conn.execute(statement, rows)  # executemany: SQLAlchemy pages the rows, the statement is compiled once
        return len(rows)

    def known(self, identities: Iterable[str]) -> dict[str, dict[str, Any]]:
        """The stored traits of each identity asked for that has any, in one query per chunk."""
        wanted = sorted({identity for identity in identities if identity and len(identity) <= MAX_IDENTITY})
        found: dict[str, dict[str, Any]] = {}
        if not wanted:
            return found
        with self.database.reading() as conn:
            for chunk in chunks(wanted):
                statement = select(user_traits.c.identity, user_traits.c.name, user_traits.c.value).where(
                    user_traits.c.identity.in_(chunk))
                for row in conn.execute(statement):
                    found.setdefault(row.identity, {})[row.name] = row.value
        return found
