"""The store: invitations as an outbox (a work queue), the traits of identify calls, erasure, and the reads of the
console, ``receiver status`` and the metrics, in SQLAlchemy Core on SQLite or PostgreSQL.

One module per job: ``schema`` (tables, states, the UTC time column), ``engine`` (the connection, and outages as
``StoreUnavailable``), ``migrations``, ``outbox`` (with ``dbclock``, the database's time its leases run on),
``waiting`` (orders waiting for their email), ``traits``, ``erasure``, ``reports``, ``deliveries`` (every delivery
attempt, and delivery health), ``gauges`` (the metrics' shared snapshot, the readiness write), ``sessions`` (the
console's), ``causes`` (why the database is unavailable, for ``StoreUnavailable``). A ``Store`` owns the
engine and hands out the parts, so that each caller names the part it uses::

    store = Store(url)
    store.outbox.claim(now=now, limit=10, lease_seconds=60)
    store.traits.known(["user:u-1"])
    store.reports.counts()
    store.erasure.forget("jane@example.com", now=now)
    store.sessions.is_open(token, now=now)
    store.deliveries.history(invitation_id)
    store.deliveries.summary(now)
"""

from __future__ import annotations

from sqlalchemy.engine import Engine

from . import migrations
from .deliveries import Attempt, Deliveries, DeliveryRow, DeliverySummary
from .engine import Database, StoreUnavailable, deadline, make_engine, reset_deadline, set_deadline
from .erasure import Erasure
from .gauges import Gauges, QueueGauges
from .outbox import Job, NewInvitation, Outbox
from .reports import ErrorRow, InvitationRow, Reports
from .schema import (
    DEAD,
    DELIVERED,
    ERROR,
    EXPIRED,
    FINISHED,
    MAX_ERROR,
    OUTCOMES,
    PENDING,
    PERMANENT,
    QUEUED,
    RETRYING,
    SENDING,
    SENT,
    STATES,
    SUPPRESSED,
    TRANSIENT,
    UNDELIVERED,
    WAITING,
    UTCDateTime,
    console_sessions,
    deliveries,
    delivery_counts,
    invitations,
    metadata,
    service_state,
    user_traits,
)
from .sessions import ConsoleSessions
from .traits import StoredTrait, Traits, TraitUpdate, identity_key
from .waiting import WaitingOrder, WaitingOrders

__all__ = [
    "DEAD", "DELIVERED", "ERROR", "EXPIRED", "FINISHED", "MAX_ERROR", "OUTCOMES", "PENDING", "PERMANENT", "QUEUED",
    "RETRYING", "SENDING", "SENT", "STATES", "SUPPRESSED", "TRANSIENT", "UNDELIVERED", "WAITING", "Attempt",
    "ConsoleSessions", "Database", "Deliveries", "DeliveryRow", "DeliverySummary", "Erasure", "ErrorRow", "Gauges",
    "InvitationRow", "Job", "NewInvitation", "Outbox", "QueueGauges", "Reports", "Store", "StoreUnavailable",
    "StoredTrait", "TraitUpdate", "Traits", "UTCDateTime", "WaitingOrder", "WaitingOrders", "console_sessions",
    "deadline", "deliveries", "delivery_counts", "identity_key", "invitations", "make_engine", "metadata", "reset_deadline",
    "service_state", "set_deadline", "user_traits",
]


class Store:
    """The database of one process: its parts share one engine (and on SQLite, one intake writer lock)."""

    def __init__(self, url: str, *, timeout_seconds: float = 5.0):
        self.database = Database(url, timeout_seconds=timeout_seconds)
        self.outbox = Outbox(self.database)
        self.traits = Traits(self.database)
        self.waiting = WaitingOrders(self.database)
        self.erasure = Erasure(self.database)
        self.reports = Reports(self.database)
        self.sessions = ConsoleSessions(self.database)  # the web console's signed-in sessions
        self.deliveries = Deliveries(self.database)  # every delivery attempt; delivery health
        self.gauges = Gauges(self.database, self.reports, self.deliveries)

    @property
    def engine(self) -> Engine:
        return self.database.engine

    @property
    def dialect(self) -> str:
        return self.database.dialect

    def upgrade(self) -> None:
        """Apply the migrations up to the newest (``receiver db upgrade``); safe to run concurrently."""
        migrations.upgrade(self.database.engine)

    def is_migrated(self) -> bool:
        """True when the database answers and carries the newest migration."""
        return migrations.is_migrated(self.database.engine)

    def close(self) -> None:
        self.database.close()
