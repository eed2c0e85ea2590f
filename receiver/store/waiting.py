"""Orders that wait for their email: the ``waiting`` rows of the outbox, and how each one ends.

An order without an email but with a customer id is stored ``waiting`` (``Outbox.add``), with its customer's ids,
the time it stops waiting (``wait_until``) and ``recheck_from``: a stored trait of its customer updated at or
after that time is news. ``worth_a_look`` finds the rows with news, or whose wait is over, in one query; the
worker reads their customers' traits and settles each one. Every write only touches a row still ``waiting``, so
two workers looking at the same order settle it once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import String, exists, literal, or_, select, update

from ..invitation import Invitation
from .engine import Database
from .schema import DEAD, MAX_ERROR, PENDING, SUPPRESSED, WAITING, invitations, user_traits
from .sealed import Keyring, Sealer

# A trait is stamped with the time its request began, and may commit up to a request's length later (seconds, on
# another machine's clock): a look at an order counts as having seen what was stamped up to this much before it.
RECHECK_MARGIN = timedelta(seconds=60)


@dataclass(frozen=True)
class WaitingOrder:
    """A waiting order: its invitation (``email`` '', ``name`` '' when the order named nobody), its customer's ids,
    when it stops waiting, and when it becomes due once it has its email."""

    id: int
    invitation: Invitation
    user_id: str | None
    anonymous_id: str | None
    wait_until: datetime
    due_at: datetime


_COLUMNS = ("id", "message_id", "name", "ref", "skus", "tags", "locale", "ordered_at", "user_id", "anonymous_id",
            "wait_until", "next_attempt_at")


def _order(row: Any, keys: Keyring) -> WaitingOrder:
    invitation = Invitation(message_id=row.message_id, email="", name=keys.open(row.name) or "", ref=row.ref,
                            skus=tuple(row.skus or ()), tags=tuple(row.tags or ()), locale=row.locale,
                            ordered_at=row.ordered_at, user_id=row.user_id, anonymous_id=row.anonymous_id)
    return WaitingOrder(id=row.id, invitation=invitation, user_id=row.user_id, anonymous_id=row.anonymous_id,
                        wait_until=row.wait_until, due_at=row.next_attempt_at)


def _customer_identity(kind: str, column: Any) -> Any:
    """``'user:' || invitations.user_id``: the identity (``traits.identity_key``) under which its traits are."""
    return literal(f"{kind}:", String) + column


_FORGOTTEN = {"user_id": None, "anonymous_id": None, "recheck_from": None}  # a settled order needs no ids


class WaitingOrders:
    def __init__(self, database: Database, sealer: Sealer):
        self.database = database
        self.sealer = sealer

    def worth_a_look(self, *, now: datetime, limit: int) -> list[WaitingOrder]:
        """Up to ``limit`` waiting orders whose wait is over or whose customer's stored traits changed since they
        were last looked at, those looked at longest ago first."""
        news = exists().where(
            user_traits.c.identity.in_([_customer_identity("user", invitations.c.user_id),
                                        _customer_identity("anon", invitations.c.anonymous_id)]),
            user_traits.c.updated_at >= invitations.c.recheck_from)
        statement = (select(*(invitations.c[name] for name in _COLUMNS))
                     .where(invitations.c.state == WAITING, or_(invitations.c.wait_until <= now, news))
                     .order_by(invitations.c.recheck_from, invitations.c.id).limit(limit))
        with self.database.reading() as conn:
            rows = conn.execute(statement).all()
            keys = self.sealer.opener(conn, [row.name for row in rows])
        return [_order(row, keys) for row in rows]

    def _settle(self, order: WaitingOrder, now: datetime, **values: Any) -> bool:
        statement = (update(invitations).where(invitations.c.id == order.id, invitations.c.state == WAITING)
                     .values(updated_at=now, **_FORGOTTEN, **values))
        with self.database.writing(one_statement=True) as conn:
            return conn.execute(statement).rowcount == 1

    def resolve(self, order: WaitingOrder, invitation: Invitation, *, now: datetime) -> bool:
        """The order has its email: ``pending``, due when it would have been (never in the past)."""
        address = self.database.address_key(invitation.email)
        subject = self.sealer.invitation_subject(invitation, address)
        keys = self.sealer.keyring([subject], now=now)
        return self._settle(order, now, state=PENDING, email=keys.seal(subject, invitation.email),
                            name=keys.seal(subject, invitation.name or None), address_key=address,
                            next_attempt_at=max(order.due_at, now), last_error=None)

    def suppress(self, order: WaitingOrder, *, now: datetime, reason: str) -> bool:
        return self._settle(order, now, state=SUPPRESSED, last_error=reason[:MAX_ERROR])

    def give_up(self, order: WaitingOrder, *, now: datetime, error: str) -> bool:
        """The wait is over (or the stored email is invalid): ``dead``, never sent."""
        return self._settle(order, now, state=DEAD, last_error=error[:MAX_ERROR])

    def recheck_later(self, orders: Sequence[WaitingOrder], *, now: datetime) -> None:
        """Looked at, still no email: only traits stored from now on (less ``RECHECK_MARGIN``) are news."""
        if not orders:
            return
        statement = (update(invitations)
                     .where(invitations.c.id.in_([order.id for order in orders]), invitations.c.state == WAITING)
                     .values(recheck_from=now - RECHECK_MARGIN))
        with self.database.engine.begin() as conn:
            conn.execute(statement)
