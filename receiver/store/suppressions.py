"""The suppression list: address keys never to be mailed, each with why (``unsubscribed``, ``forgotten``,
``bounced``, ``audience:<trait>``, ``operator``) and since when. No address is stored for it, only its key
(``privacy.address_key``), so the list itself names no one.

A key may be on the list for several reasons at once (one row each): an Engage opt-out that turns false removes its
own row (``remove(key, reason="audience:<trait>")``) and leaves an unsubscribe standing; ``receiver unsuppress``
removes them all.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import Connection, delete, select

from .engine import Database
from .schema import ADDRESS_KEY, MAX_REASON, suppression_list
from .traits import chunks

UNSUBSCRIBED, FORGOTTEN, BOUNCED = "unsubscribed", "forgotten", "bounced"
OPERATOR = "operator"  # ``receiver suppress EMAIL``


def audience_reason(trait: str) -> str:
    """The reason an Engage opt-out trait (a ``SUPPRESS_AUDIENCES`` name) is stored under: ``audience:<trait>``."""
    return f"audience:{trait}"[:MAX_REASON]


def _keys(keys: Iterable[str | None]) -> list[str]:
    return sorted({key for key in keys if key and len(key) == ADDRESS_KEY})


def list_keys(database: Database, conn: Connection, keys: Iterable[str | None], reason: str, now: datetime) -> int:
    """Put ``keys`` on the list for ``reason`` in the caller's transaction; how many were new for it."""
    rows = [{"address_key": key, "reason": reason[:MAX_REASON], "created_at": now} for key in _keys(keys)]
    if not rows:
        return 0
    statement = database.insert(suppression_list).on_conflict_do_nothing().returning(suppression_list.c.address_key)
    return len(conn.execute(statement, rows).all())


class Suppressions:
    def __init__(self, database: Database):
        self.database = database

    def add(self, key: str, reason: str, *, now: datetime) -> bool:
        """Put ``key`` on the list for ``reason``; False if it was there for that reason already (kept as it was)."""
        return self.add_many([key], reason, now=now) == 1

    def add_many(self, keys: Iterable[str | None], reason: str, *, now: datetime) -> int:
        """``add`` for several keys in one transaction; how many were new for ``reason``."""
        with self.database.engine.begin() as conn:
            return list_keys(self.database, conn, keys, reason, now)

    def remove(self, key: str, *, reason: str | None = None) -> list[str]:
        """Take ``key`` off the list: for ``reason`` only, or for every reason when None; the reasons removed."""
        return self.remove_many([key], reason=reason).get(key, [])

    def remove_many(self, keys: Iterable[str | None], *, reason: str | None = None) -> dict[str, list[str]]:
        """``remove`` for several keys in one transaction; per key that had any, the reasons removed."""
        removed: dict[str, list[str]] = {}
        with self.database.engine.begin() as conn:
            for chunk in chunks(_keys(keys)):
                statement = delete(suppression_list).where(suppression_list.c.address_key.in_(chunk))
                if reason is not None:
                    statement = statement.where(suppression_list.c.reason == reason)
                for row in conn.execute(statement.returning(suppression_list.c.address_key, suppression_list.c.reason)):
                    removed.setdefault(row.address_key, []).append(row.reason)
        return {key: sorted(reasons) for key, reasons in removed.items()}

    def reasons(self, keys: Iterable[str | None]) -> dict[str, list[str]]:
        """Every reason each key is on the list for, oldest first (keys not on it are left out)."""
        found: dict[str, list[str]] = {}
        columns = (suppression_list.c.address_key, suppression_list.c.reason)
        with self.database.reading() as conn:
            for chunk in chunks(_keys(keys)):
                statement = (select(*columns).where(suppression_list.c.address_key.in_(chunk))
                             .order_by(suppression_list.c.created_at, suppression_list.c.reason))
                for row in conn.execute(statement):
                    found.setdefault(row.address_key, []).append(row.reason)
        return found

    def reason_for(self, keys: Iterable[str | None]) -> dict[str, str]:
        """Why each key on the list is on it (its oldest reason); keys not on it are left out."""
        return {key: reasons[0] for key, reasons in self.reasons(keys).items()}
