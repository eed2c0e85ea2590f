"""Erasure of personal data: the retention sweep (``purge``) and an erasure request for one address (``forget``).

Both clear an invitation's ``last_error`` with its email and name: error texts hold no personal data now, but a
row stored by an older release, or by a plug-in sender that quoted its peer, might. Both then delete the keys the
erased values were sealed under and leave no copy of them in the database files (``sealed``): ``compacted`` says
whether the last one could finish that (a busy reader may hold SQLite's WAL or PostgreSQL's key table)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Connection, delete, func, or_, select, update

from ..text import normal_address
from .engine import Database
from .schema import FINISHED, QUEUED, SUPPRESSED, WAITING, invitations, user_traits
from .sealed import PREFIX, Sealer, subject_of
from .traits import chunks


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
        statement = (
            update(invitations)
            .where(invitations.c.state.in_(FINISHED), invitations.c.updated_at < cutoff, personal)
            .values(email=None, name=None, user_id=None, anonymous_id=None, last_error=None)
        )
        with self.database.engine.begin() as conn:
            erased = conn.execute(statement).rowcount
            conn.execute(delete(user_traits).where(user_traits.c.updated_at < cutoff))  # traits not heard of since
            self.sealer.shred_unused(conn, now=now)
        self.compacted = self.sealer.compact()
        return erased

    def forget(self, email: str, *, now: datetime) -> tuple[list[int], int]:
        """Erase one address from every invitation (any casing; unsent ones become ``suppressed``) and every
        stored trait of each customer id that carried it; the orders of those ids still waiting for an email are
        ``suppressed`` too. The ids of the invitations changed, and how many customer ids lost their traits."""
        wanted = email.strip().lower()
        subject = self.sealer.address_subject(email)
        match = func.lower(invitations.c.email) == wanted  # a row stored before sealing
        if subject is not None:
            match = or_(match, invitations.c.email.like(f"{PREFIX}{subject}.%"))
        with self.database.engine.begin() as conn:
            ids = [row.id for row in conn.execute(select(invitations.c.id).where(match).order_by(invitations.c.id))]
            if ids:
                conn.execute(update(invitations).where(invitations.c.id.in_(ids))
                             .values(email=None, name=None, last_error=None, updated_at=now))
                conn.execute(update(invitations).where(invitations.c.id.in_(ids), invitations.c.state.in_(QUEUED))
                             .values(state=SUPPRESSED, last_error="erased on request", lease_token=None))
            emails = select(user_traits.c.identity, user_traits.c.value).where(user_traits.c.name == "email")
            identities = sorted({row.identity for row in conn.execute(emails) if _carries(row.value, wanted, subject)})
            for chunk in chunks(identities):
                conn.execute(delete(user_traits).where(user_traits.c.identity.in_(chunk)))
            ids += self._suppress_waiting(conn, identities, now)
            self.sealer.shred(conn, [*filter(None, [subject]),
                                     *(self.sealer.identity_subject(identity) for identity in identities)])
        self.compacted = self.sealer.compact()
        return sorted(set(ids)), len(identities)

    @staticmethod
    def _suppress_waiting(conn: Connection, identities: list[str], now: datetime) -> list[int]:
        """The waiting orders of these customer ids, ``suppressed`` and stripped of the ids; their row ids."""
        users = [identity.removeprefix("user:") for identity in identities if identity.startswith("user:")]
        anonymous = [identity.removeprefix("anon:") for identity in identities if identity.startswith("anon:")]
        if not users and not anonymous:
            return []
        theirs = or_(invitations.c.user_id.in_(users), invitations.c.anonymous_id.in_(anonymous))
        waiting = [row.id for row in conn.execute(select(invitations.c.id).where(invitations.c.state == WAITING,
                                                                                   theirs))]
        if waiting:
            conn.execute(update(invitations).where(invitations.c.id.in_(waiting), invitations.c.state == WAITING)
                         .values(state=SUPPRESSED, last_error="erased on request", user_id=None, anonymous_id=None,
                                 recheck_from=None, updated_at=now))
        return waiting


def _carries(value: object, wanted: str, subject: str | None) -> bool:
    """Whether a stored ``email`` trait is the address: sealed under its key, or (stored before sealing) equal."""
    if subject_of(value) is not None:
        return subject_of(value) == subject
    if not isinstance(value, str):
        return False
    normal = normal_address(wanted)
    return value.strip().lower() == wanted or (normal is not None and normal_address(value) == normal)
