"""Erasure of personal data: the retention sweep (``purge``) and an erasure request (``forget``), by address key.

Both clear an invitation's ``last_error`` with its email and name, and the error texts of its delivery attempts
(their codes, times and outcomes stay, for the history and the metrics): error texts hold no personal data now, but a
row stored by an older release, or by a plug-in sender that quoted its peer, might. ``forget`` finds a customer by
address key (``privacy.address_key``), so that the casing of an address and the Unicode or punycode form of its
domain never matter, on either database; ``backfill`` gives the rows stored before address keys theirs.

Both then delete the keys the erased values were sealed under and leave no copy of them in the database files
(``sealed``): ``compacted`` says whether the last one could finish that (a busy reader may hold SQLite's WAL or
PostgreSQL's key table)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, delete, or_, select, update

from .engine import Database
from .schema import FINISHED, QUEUED, SUPPRESSED, WAITING, deliveries, invitations, user_traits
from .sealed import Sealer
from .suppressions import FORGOTTEN, list_keys
from .traits import EMAIL_TRAIT, chunks


@dataclass(frozen=True)
class Forgotten:
    """What ``forget`` changed: the invitations erased (their ids), of which those stopped unsent, the customer ids
    whose stored traits were deleted, and the address keys put on the suppression list (``forgotten``)."""

    invitations: list[int]
    stopped: list[int]
    identities: int
    listed: int


def _id_of(identity: str) -> str:
    return identity.partition(":")[2]


def _an_address_among(ids: Iterable[str | None]) -> bool:
    """Whether one of these customer ids looks like an address: stored plain, it calls for a rewrite."""
    return any("@" in (value or "") for value in ids)


class Erasure:
    def __init__(self, database: Database, sealer: Sealer):
        self.database = database
        self.sealer = sealer
        self.compacted = True  # whether the last purge or forget left no copy of the keys it deleted on disk

    def purge(self, *, now: datetime, older_than_seconds: float) -> int:
        """Erase the personal data of finished invitations (sent, dead, suppressed, expired) last touched
        more than ``older_than_seconds`` ago; the rows, states and ids stay for the counts. How many."""
        cutoff = now - timedelta(seconds=older_than_seconds)
        personal = or_(invitations.c.email.is_not(None), invitations.c.name.is_not(None))  # a waited-out order: a name
        due = (invitations.c.state.in_(FINISHED), invitations.c.updated_at < cutoff, personal)
        statement = (
            update(invitations)
            .where(*due)
            .values(email=None, name=None, user_id=None, anonymous_id=None, last_error=None)
        )
        with self.database.engine.begin() as conn:
            _clear_attempt_errors(conn, select(invitations.c.id).where(*due))
            ids = conn.execute(statement.returning(invitations.c.user_id, invitations.c.anonymous_id)).all()
            identities = conn.execute(delete(user_traits).where(user_traits.c.updated_at < cutoff)  # not heard of since
                                      .returning(user_traits.c.identity)).scalars().all()
            shredded = self.sealer.shred_unused(conn, now=now)
        plain = [table for table, values in ((invitations, [value for row in ids for value in row]),
                                             (user_traits, identities)) if _an_address_among(values)]
        self.compacted = self.sealer.compact(rewrite=plain) if shredded or plain else True
        return len(ids)

    def backfill(self) -> int:
        """Give every stored address that has no address key yet (rows stored before there were any) its key; how
        many rows were given one."""
        given = 0
        with self.database.engine.begin() as conn:
            rows = conn.execute(select(invitations.c.id, invitations.c.email).where(
                invitations.c.email.is_not(None), invitations.c.address_key.is_(None))).all()
            for row in rows:
                conn.execute(update(invitations).where(invitations.c.id == row.id)
                             .values(address_key=self.database.address_key(row.email)))
            traits = conn.execute(select(user_traits.c.identity, user_traits.c.value).where(
                user_traits.c.name == EMAIL_TRAIT, user_traits.c.address_key.is_(None))).all()
            for trait in traits:
                if isinstance(trait.value, str) and (key := self.database.address_key(trait.value)):
                    conn.execute(update(user_traits).where(user_traits.c.identity == trait.identity,
                                                           user_traits.c.name == EMAIL_TRAIT).values(address_key=key))
                    given += 1
        return given + len(rows)

    def keys_of(self, identities: Iterable[str]) -> list[str]:
        """The address keys these customer ids are known by: of their stored ``email`` traits, and of the id itself
        when it is an address (a ``userId`` that is the customer's email)."""
        wanted = sorted(set(identities))
        keys = {self.database.address_key(_id_of(identity)) for identity in wanted if "@" in identity}
        with self.database.reading() as conn:
            for chunk in chunks(wanted):
                keys.update(conn.execute(select(user_traits.c.address_key).where(
                    user_traits.c.identity.in_(chunk), user_traits.c.address_key.is_not(None))).scalars())
        return sorted(key for key in keys if key)

    def forget(self, keys: Iterable[str], *, identities: Iterable[str] = (), now: datetime) -> Forgotten:
        """Erase the customers of these address keys (and these customer ids, ``user:<userId>``): the address, name,
        customer ids and ``last_error`` of every invitation with one of the keys, unsent ones ``suppressed``
        (``forgotten``); every stored trait of every customer id that carried one of the keys, or whose id is such an
        address, or that was named, and their orders still waiting for an email (``suppressed`` too); and the keys
        put on the suppression list, so that a replay of their orders mails no one."""
        wanted = sorted({key for key in keys if key})
        self.backfill()  # rows from before address keys must not escape an erasure
        with self.database.engine.begin() as conn:
            named = self._identities(conn, wanted) | set(identities)
            ids = self._erase_invitations(conn, wanted, now)
            stopped = [row_id for row_id, unsent in ids if unsent]
            erased: set[str] = set()  # the ids that had traits
            for chunk in chunks(sorted(named)):
                erased.update(conn.execute(delete(user_traits).where(user_traits.c.identity.in_(chunk))
                                           .returning(user_traits.c.identity)).scalars())
            waited = self._suppress_waiting(conn, sorted(named), wanted, now)
            list_keys(self.database, conn, wanted, FORGOTTEN, now)
            self.sealer.shred(conn, [*wanted, *(self.sealer.identity_subject(identity) for identity in named)])
        # an id that is the address itself is stored plain (it is looked up and joined on): the tables that held it
        # are rewritten, so that none of their old row versions keeps it
        as_id = any(self.database.address_key(_id_of(identity)) in wanted for identity in named if "@" in identity)
        self.compacted = self.sealer.compact(rewrite=(user_traits, invitations) if as_id or waited else ())
        return Forgotten(invitations=sorted({row_id for row_id, _ in ids} | set(waited)),
                         stopped=sorted({*stopped, *waited}), identities=len(erased), listed=len(wanted))

    def _identities(self, conn: Connection, keys: list[str]) -> set[str]:
        """The customer ids that carry one of ``keys``: by a stored ``email`` trait, or as their own id."""
        found: set[str] = set()
        for chunk in chunks(keys):
            found.update(conn.execute(select(user_traits.c.identity).where(user_traits.c.address_key.in_(chunk))
                                      .distinct()).scalars())
        wanted = set(keys)
        like_addresses = select(user_traits.c.identity).where(user_traits.c.identity.contains("@")).distinct()
        found.update(identity for identity in conn.execute(like_addresses).scalars()
                     if self.database.address_key(_id_of(identity)) in wanted)
        return found

    @staticmethod
    def _erase_invitations(conn: Connection, keys: list[str], now: datetime) -> list[tuple[int, bool]]:
        """Each invitation with one of ``keys``, erased: its id, and whether it was stopped unsent."""
        found: list[tuple[int, bool]] = []
        for chunk in chunks(keys):
            theirs = invitations.c.address_key.in_(chunk)
            rows = conn.execute(select(invitations.c.id, invitations.c.state).where(theirs)).all()
            if not rows:
                continue
            ids = [row.id for row in rows]
            _clear_attempt_errors(conn, ids)
            conn.execute(update(invitations).where(invitations.c.id.in_(ids))
                         .values(email=None, name=None, user_id=None, anonymous_id=None, last_error=None,
                                 updated_at=now))
            conn.execute(update(invitations).where(invitations.c.id.in_(ids),
                                                   invitations.c.state.in_((*QUEUED, WAITING)))
                         .values(state=SUPPRESSED, last_error=FORGOTTEN, lease_token=None, wait_until=None,
                                 recheck_from=None))
            found += [(row.id, row.state in (*QUEUED, WAITING)) for row in rows]
        return found

    def _suppress_waiting(self, conn: Connection, identities: list[str], keys: list[str], now: datetime) -> list[int]:
        """The waiting orders of these customer ids, or whose customer id is one of the keys' addresses,
        ``suppressed`` and stripped of the ids and the name; their row ids."""
        users = {_id_of(identity) for identity in identities if identity.startswith("user:")}
        anonymous = {_id_of(identity) for identity in identities if identity.startswith("anon:")}
        wanted = set(keys)
        columns = (invitations.c.id, invitations.c.user_id, invitations.c.anonymous_id)
        waiting = [row for row in conn.execute(select(*columns).where(invitations.c.state == WAITING))
                   if row.user_id in users or row.anonymous_id in anonymous
                   or any("@" in (value or "") and self.database.address_key(value) in wanted
                          for value in (row.user_id, row.anonymous_id))]
        ids = [row.id for row in waiting]
        for chunk in chunks(ids):
            conn.execute(update(invitations).where(invitations.c.id.in_(chunk), invitations.c.state == WAITING)
                         .values(state=SUPPRESSED, last_error=FORGOTTEN, name=None, user_id=None, anonymous_id=None,
                                 wait_until=None, recheck_from=None, updated_at=now))
        return ids


def _clear_attempt_errors(conn: Connection, ids: Any) -> None:
    """Clear the error texts of the delivery attempts of the invitations ``ids`` (a list, or a SELECT of ids)."""
    conn.execute(update(deliveries).where(deliveries.c.invitation_id.in_(ids), deliveries.c.error.is_not(None))
                 .values(error=None))
