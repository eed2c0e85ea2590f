"""Erasure of personal data: the retention sweep (``purge``) and an erasure request for one address (``forget``).

Both clear an invitation's ``last_error`` with its email and name, and the error texts of its delivery attempts:
error texts hold no personal data now, but a row stored by an older release, or by a plug-in sender that quoted
its peer, might (the attempts' codes, times and outcomes stay, for the history and the metrics)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, delete, func, or_, select, update

from .engine import Database
from .schema import FINISHED, QUEUED, SUPPRESSED, WAITING, deliveries, invitations, user_traits
from .traits import chunks


class Erasure:
    def __init__(self, database: Database):
        self.database = database

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
            erased = conn.execute(statement).rowcount
            conn.execute(delete(user_traits).where(user_traits.c.updated_at < cutoff))  # traits not heard of since
        return erased

    def forget(self, email: str, *, now: datetime) -> tuple[list[int], int]:
        """Erase one address from every invitation (any casing; unsent ones become ``suppressed``) and every
        stored trait of each customer id that carried it; the orders of those ids still waiting for an email are
        ``suppressed`` too. The ids of the invitations changed, and how many customer ids lost their traits."""
        wanted = email.strip().lower()
        match = func.lower(invitations.c.email) == wanted
        with self.database.engine.begin() as conn:
            ids = [row.id for row in conn.execute(select(invitations.c.id).where(match).order_by(invitations.c.id))]
            if ids:
                _clear_attempt_errors(conn, ids)
                conn.execute(update(invitations).where(invitations.c.id.in_(ids))
                             .values(email=None, name=None, last_error=None, updated_at=now))
                conn.execute(update(invitations).where(invitations.c.id.in_(ids), invitations.c.state.in_(QUEUED))
                             .values(state=SUPPRESSED, last_error="erased on request", lease_token=None))
            emails = select(user_traits.c.identity, user_traits.c.value).where(user_traits.c.name == "email")
            identities = sorted({row.identity for row in conn.execute(emails)
                                 if isinstance(row.value, str) and row.value.strip().lower() == wanted})
            for chunk in chunks(identities):
                conn.execute(delete(user_traits).where(user_traits.c.identity.in_(chunk)))
            ids += self._suppress_waiting(conn, identities, now)
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


def _clear_attempt_errors(conn: Connection, ids: Any) -> None:
    """Clear the error texts of the delivery attempts of the invitations ``ids`` (a list, or a SELECT of ids)."""
    conn.execute(update(deliveries).where(deliveries.c.invitation_id.in_(ids), deliveries.c.error.is_not(None))
                 .values(error=None))
