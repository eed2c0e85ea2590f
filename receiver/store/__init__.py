"""The store: invitations as an outbox (a work queue), the traits of identify calls, erasure, and the reads of the
console, ``receiver status`` and the metrics, in SQLAlchemy Core on SQLite or PostgreSQL.

One module per job: ``schema`` (tables, states, the UTC time column), ``engine`` (the connection, and outages as
``StoreUnavailable``), ``migrations``, ``outbox`` (with ``dbclock``, the database's time its leases run on),
``waiting`` (orders waiting for their email), ``traits``, ``erasure``, ``reports`` (with ``search``, the console's
filter), ``deliveries`` (every delivery attempt, and delivery health), ``gauges`` (the metrics' shared snapshot, the
readiness write), ``sessions`` (the console's), ``causes`` (why the database is unavailable, for
``StoreUnavailable``). A ``Store`` owns the
engine and hands out the parts, so that each caller names the part it uses::

    store = Store(url)
    store.outbox.claim(now=now, limit=10, lease_seconds=60)
    store.traits.known(["user:u-1"])
    store.reports.counts()
    store.erasure.forget("jane@example.com", now=now)
    store.sessions.is_open(token, now=now)
    store.deliveries.history(invitation_id)
    store.deliveries.summary(now)
    store.suppressions.reason_for([key])

``data_key`` (``DATA_KEY``) gives every stored address its *address key* (``privacy.address_key``); a store opened
without one may read and migrate, but refuses to store an address (``MissingDataKey``).
"""

from __future__ import annotations

from sqlalchemy.engine import Engine

from . import migrations
from .deliveries import Attempt, Deliveries, DeliveryRow, DeliverySummary
from .engine import (
    Database,
    MissingDataKey,
    StoreUnavailable,
    deadline,
    make_engine,
    reset_deadline,
    set_deadline,
)
from .erasure import Erasure, Forgotten
from .gauges import Gauges, QueueGauges
from .outbox import Invited, Job, NewInvitation, Outbox
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
    customer_keys,
    deliveries,
    delivery_counts,
    invitations,
    metadata,
    service_state,
    suppression_list,
    user_traits,
)
from .sealed import Keyring, Sealer
from .search import EVERYTHING, InvitationFilter
from .sessions import ConsoleSessions
from .suppressions import BOUNCED, FORGOTTEN, OPERATOR, UNSUBSCRIBED, Suppressions, audience_reason
from .traits import ADDRESS_MARK, EMAIL_TRAIT, StoredTrait, Traits, TraitUpdate, identity_key
from .waiting import WaitingOrder, WaitingOrders

__all__ = [
    "ADDRESS_MARK", "BOUNCED", "DEAD", "DELIVERED", "EMAIL_TRAIT", "ERROR", "EVERYTHING", "EXPIRED", "FINISHED",
    "FORGOTTEN", "MAX_ERROR", "OPERATOR", "OUTCOMES", "PENDING", "PERMANENT", "QUEUED", "RETRYING", "SENDING",
    "SENT", "STATES", "SUPPRESSED", "TRANSIENT", "UNDELIVERED", "UNSUBSCRIBED", "WAITING", "Attempt",
    "audience_reason", "console_sessions", "ConsoleSessions", "customer_keys", "Database", "deadline", "deliveries",
    "Deliveries", "delivery_counts", "DeliveryRow", "DeliverySummary", "Erasure", "ErrorRow", "Forgotten", "Gauges",
    "identity_key", "InvitationFilter", "InvitationRow", "invitations", "Invited", "Job", "Keyring", "make_engine",
    "metadata", "MissingDataKey", "NewInvitation", "Outbox", "QueueGauges", "Reports", "reset_deadline", "Sealer",
    "service_state", "set_deadline", "Store", "StoredTrait", "StoreUnavailable", "suppression_list", "Suppressions",
    "Traits", "TraitUpdate", "user_traits", "UTCDateTime", "WaitingOrder", "WaitingOrders",
]


class Store:
    """The database of one process: its parts share one engine (and on SQLite, one intake writer lock)."""

    def __init__(self, url: str, *, timeout_seconds: float = 5.0, data_key: bytes | None = None):
        self.database = Database(url, timeout_seconds=timeout_seconds, data_key=data_key)
        self.sealer = Sealer(self.database)  # personal columns sealed under per-customer keys
        self.outbox = Outbox(self.database, self.sealer)
        self.traits = Traits(self.database, self.sealer)
        self.waiting = WaitingOrders(self.database, self.sealer)
        self.erasure = Erasure(self.database, self.sealer)
        self.reports = Reports(self.database, self.sealer)
        self.sessions = ConsoleSessions(self.database)  # the web console's signed-in sessions
        self.deliveries = Deliveries(self.database)  # every delivery attempt; delivery health
        self.gauges = Gauges(self.database, self.reports, self.deliveries)
        self.suppressions = Suppressions(self.database)  # address keys never to be mailed, and why

    @property
    def engine(self) -> Engine:
        return self.database.engine

    @property
    def dialect(self) -> str:
        return self.database.dialect

    def address_key(self, email: str | None) -> str | None:
        """The address key ``email`` is stored and looked up under (None when it is no address)."""
        return self.database.address_key(email)

    def upgrade(self) -> None:
        """Apply the migrations up to the newest (``receiver db upgrade``); safe to run concurrently. A store with
        ``DATA_KEY`` also gives the addresses stored without an address key theirs (a migration cannot:
        it has no ``DATA_KEY``)."""
        migrations.upgrade(self.database.engine)
        if self.database.has_data_key:  # also after an upgrade made without DATA_KEY: rows without a key are found
            self.erasure.backfill()

    def is_migrated(self) -> bool:
        """True when the database answers and carries the newest migration."""
        return migrations.is_migrated(self.database.engine)

    def close(self) -> None:
        self.database.close()
