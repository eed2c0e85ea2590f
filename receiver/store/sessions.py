"""The console's signed-in sessions, kept in the database so that every web process sees a sign-out at once.

The cookie carries a random token; the table keeps only its SHA-256. ``open`` makes one (and deletes the
expired), ``is_open`` is the check on each console request, ``close`` is signing out.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from sqlalchemy import delete, select

from .engine import Database
from .schema import console_sessions


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()


class ConsoleSessions:
    def __init__(self, database: Database):
        self.database = database

    def open(self, *, now: datetime, lifetime: timedelta) -> str:
        """A new session's token, good until ``now + lifetime`` or until closed."""
        token = secrets.token_urlsafe(32)
        with self.database.engine.begin() as conn:
            conn.execute(delete(console_sessions).where(console_sessions.c.expires_at <= now))
            conn.execute(console_sessions.insert().values(token_hash=_hash(token), created_at=now,
                                                          expires_at=now + lifetime))
        return token

    def is_open(self, token: str, *, now: datetime) -> bool:
        statement = select(console_sessions.c.token_hash).where(console_sessions.c.token_hash == _hash(token),
                                                                console_sessions.c.expires_at > now)
        with self.database.reading() as conn:
            return conn.execute(statement).first() is not None

    def close(self, token: str) -> None:
        with self.database.writing(one_statement=True) as conn:
            conn.execute(delete(console_sessions).where(console_sessions.c.token_hash == _hash(token)))
