"""Which invitations a console search names: a filter (state, creation dates, order ref or ``messageId``, an
address) and the one SQL condition it becomes, shared by the page that lists them and the retry that re-queues
them, so that "retry these" retries exactly the rows the list showed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, or_, true

from .schema import invitations


@dataclass(frozen=True)
class AddressLookup:
    """An address to look for, in the forms the store can compare: ``normal`` (``text.normal_address``) and its
    ``key`` (``privacy.address_key``). Neither is ever shown."""

    normal: str
    key: str

    def __repr__(self) -> str:  # never the address, in a log or a traceback
        return "AddressLookup(***)"


@dataclass(frozen=True)
class InvitationFilter:
    """Every field optional; the invitations matching all of those given. ``since`` and ``until`` bound
    ``created_at`` (from ``since`` included, up to ``until`` excluded)."""

    state: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    ref_or_message_id: str | None = None  # the order ref or the messageId, exactly
    address: AddressLookup | None = None


EVERYTHING = InvitationFilter()


def address_clause(lookup: AddressLookup) -> Any:
    """The invitations to ``lookup``'s address. Until the ``address_key`` column is stored this compares the stored
    address (kept in ``valid_email``'s form: IDNA domain, lower case) with its normal form, case-insensitively,
    which holds for every address whose local part is ASCII; with the column, it is
    ``invitations.c.address_key == lookup.key``."""
    return func.lower(invitations.c.email) == lookup.normal


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
    if found.address is not None:
        conditions.append(address_clause(found.address))
    return and_(true(), *conditions)
