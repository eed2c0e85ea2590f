"""The store: invitations as an outbox (a work queue), the traits of identify calls, erasure, and the reads of the
console, ``receiver status`` and the metrics, in SQLAlchemy Core on SQLite or PostgreSQL.

One module per job: ``schema`` (tables, states, the UTC time column), ``engine`` (the connection, and outages as
``StoreUnavailable``), ``migrations``, ``outbox``, ``traits``, ``erasure``, ``reports``, ``gauges`` (the metrics'
shared snapshot, the readiness write). A ``Store`` owns the
engine and hands out the parts, so that each caller names the part it uses::

    store = Store(url)
    store.outbox.claim(now=now, limit=10, lease_seconds=60)
    store.traits.known(["user:u-1"])
    store.reports.counts()
    store.erasure.forget("jane@example.com", now=now)
"""

from __future__ import annotations

from sqlalchemy.engine import Engine

from . import migrations
from .engine import Database, StoreUnavailable, deadline, make_engine, reset_deadline, set_deadline
from .erasure import Erasure
from .gauges import Gauges, QueueGauges
from .outbox import Job, NewInvitation, Outbox
from .reports import ErrorRow, InvitationRow, Reports
from .schema import (
    DEAD,
    EXPIRED,
    FINISHED,
    MAX_ERROR,
    PENDING,
    QUEUED,
    RETRYING,
    SENDING,
    SENT,
    STATES,
    SUPPRESSED,
    UTCDateTime,
    invitations,
    metadata,
    service_state,
    user_traits,
)
from .traits import Traits, TraitUpdate, identity_key

__all__ = [
    "DEAD", "EXPIRED", "FINISHED", "MAX_ERROR", "PENDING", "QUEUED", "RETRYING", "SENDING", "SENT", "STATES",
    "SUPPRESSED", "Database", "Erasure", "ErrorRow", "Gauges", "InvitationRow", "Job", "NewInvitation", "Outbox",
    "QueueGauges", "Reports", "Store", "StoreUnavailable", "TraitUpdate", "Traits", "UTCDateTime", "identity_key",
    "deadline", "invitations", "make_engine", "metadata", "reset_deadline", "service_state", "set_deadline",
    "user_traits",
]


class Store:
    """The database of one process: its parts share one engine (and on SQLite, one intake writer lock)."""

    def __init__(self, url: str, *, timeout_seconds: float = 5.0):
        self.database = Database(url, timeout_seconds=timeout_seconds)
        self.outbox = Outbox(self.database)
        self.traits = Traits(self.database)
        self.erasure = Erasure(self.database)
        self.reports = Reports(self.database)
        self.gauges = Gauges(self.database, self.reports)

    @property
    def engine(self) -> Engine:
        return self.database.engine

    @property
    def dialect(self) -> str:
        return self.database.dialect

    def upgrade(self) -> None:
        """Apply the migrations up to the newest (``receiver db upgrade``); safe to run concurrently."""
        migrations.upgrade(self.database.engine)

    create_schema = upgrade

    def is_migrated(self) -> bool:
        """True when the database answers and carries the newest migration."""
        return migrations.is_migrated(self.database.engine)

    def close(self) -> None:
        self.database.close()
