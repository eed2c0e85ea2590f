"""Which invitations a console search names: a filter (state, creation dates, order ref or ``messageId``, an
address by its address key) and the one SQL condition it becomes, shared by the page that lists them and the
retry that re-queues them, so that "retry these" retries exactly the rows the list showed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, or_, true

from .schema import invitations


@dataclass(frozen=True)
class InvitationFilter:
    """Every field optional; the invitations matching all of those given. ``since`` and ``until`` bound
    ``created_at`` (from ``since`` included, up to ``until`` excluded)."""

    state: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    ref_or_message_id: str | None = None  # the order ref or the messageId, exactly
    address_key: str | None = None  # an address, by its address key (``Store.address_key``)


EVERYTHING = InvitationFilter()


def filter_clause(found: InvitationFilter) -> Any:
    """The SQL condition of ``found``."""
    conditions = []
    if found.state is not None:
        conditions.append(invitations.c.state == found.state)
    if found.since is not None:
        conditions.append(invitations.c.created_at >= found.since)
    if found.until is not None:
        conditions.append(invitations.c.created_at < found.until)
    if found.ref_or_message_id is not None:
        given = found.ref_or_message_id
        conditions.append(or_(invitations.c.ref == given, invitations.c.message_id == given))
    if found.address_key is not None:  # the address in any casing, its domain in Unicode or punycode
        conditions.append(invitations.c.address_key == found.address_key)
    return and_(true(), *conditions)
