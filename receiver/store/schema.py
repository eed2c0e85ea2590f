"""The tables, the names of the states, and the column type that keeps every stored time in UTC.

The Alembic migrations in ``receiver/migrations`` build exactly these tables (a test compares them).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

WAITING, PENDING, SENDING, SENT, RETRYING, DEAD, SUPPRESSED, EXPIRED = (
    "waiting", "pending", "sending", "sent", "retrying", "dead", "suppressed", "expired",
)
# ``waiting``: an order without an email, waiting (until ``wait_until``) for an identify call to give one
STATES = (WAITING, PENDING, SENDING, SENT, RETRYING, DEAD, SUPPRESSED, EXPIRED)
QUEUED = (PENDING, RETRYING, SENDING)  # a SENDING row is due again once its lease (next_attempt_at) ran out
FINISHED = (SENT, DEAD, SUPPRESSED, EXPIRED)
MAX_ERROR = 500
MAX_IDENTITY = 300
MAX_TRAIT_NAME = 255
MAX_ID = 255  # a Segment userId or anonymousId
MAX_CODE = 64  # a delivery attempt's code (``http 503``, ``smtp 550 5.1.1``)
MAX_SENDER = 64
# What a delivery attempt came to: delivered, failed worth retrying, failed for good, or the sender raised
DELIVERED, TRANSIENT, PERMANENT, ERROR = "sent", "transient", "permanent", "error"
OUTCOMES = (DELIVERED, TRANSIENT, PERMANENT, ERROR)
UNDELIVERED = (WAITING, PENDING, RETRYING, SENDING)  # not sent yet, and still meant to be
ADDRESS_KEY = 64  # hex HMAC-SHA256 of a normalised address (``privacy.address_key``)
MAX_REASON = MAX_TRAIT_NAME + len("audience:")  # a suppression's reason: ``audience:<trait>`` at the longest


class UTCDateTime(TypeDecorator[datetime]):
    """An aware UTC ``datetime`` in Python, stored as a naive UTC ``DATETIME``/``TIMESTAMP`` (what the
    migrations created, so no data moves). A naive time is refused: it could be any zone."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("a stored time must be timezone-aware (UTC)")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC)


metadata = MetaData()

invitations = Table(
    "invitations",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("message_id", String(255), nullable=False),
    Column("domain", String(253), nullable=False),
    Column("ref", String(255), nullable=False),
    Column("order_key", String(300), nullable=False),
    Column("email", Text),  # sealed (store/sealed.py), like ``name``
    Column("name", Text),
    Column("skus", JSON, nullable=False, default=list),
    Column("tags", JSON, nullable=False, default=list),
    Column("locale", String(35)),
    Column("state", String(16), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", UTCDateTime, nullable=False),
    Column("lease_token", String(32)),
    Column("last_error", String(MAX_ERROR)),
    Column("ordered_at", UTCDateTime),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("sent_at", UTCDateTime),
    # A waiting order: its customer, whose stored traits may yet give its email; how long it may wait for them; and
    # from when on a stored trait of the customer is news worth another look (``next_attempt_at`` stays the time
    # it becomes due once it has its email).
    Column("user_id", String(MAX_ID)),
    Column("anonymous_id", String(MAX_ID)),
    Column("wait_until", UTCDateTime),
    Column("recheck_from", UTCDateTime),
    # the address key of ``email`` (``privacy.address_key``): how erasure, suppression and the frequency cap find a
    # customer's rows whatever the casing or the form of the domain; kept after ``email`` is erased (the cap needs it)
    Column("address_key", String(ADDRESS_KEY)),
    UniqueConstraint("message_id", name="uq_invitations_message_id"),
    UniqueConstraint("domain", "order_key", name="uq_invitations_domain_order"),
)
queued = invitations.c.state.in_(QUEUED)  # the rows a worker may claim once due; the partial index covers them
Index("ix_invitations_due", invitations.c.next_attempt_at, postgresql_where=queued, sqlite_where=queued)
# by state, and within a state by when it is due: the counts by state and the due gauges of /metrics read this index
# alone on both databases (SQLite cannot match the partial index above to a query whose states are parameters)
Index("ix_invitations_state_due", invitations.c.state, invitations.c.next_attempt_at)
Index("ix_invitations_address_key", invitations.c.address_key)

# A few named rows the processes share: ``queue``, the gauges of /metrics with when they were computed and who is
# computing the next (store/gauges.py); ``probe``, the row /readyz writes to prove the database takes writes.
service_state = Table(
    "service_state",
    metadata,
    Column("name", String(32), primary_key=True),
    Column("taken_at", UTCDateTime),
    Column("refreshing_until", UTCDateTime),
    Column("payload", JSON(none_as_null=True)),
)

# One row per (identity, trait): ``identity`` is ``user:<userId>`` or ``anon:<anonymousId>``. ``user_id``: the
# userId of the message that set the value (None: it had none; '' for rows older than the column: not known).
user_traits = Table(
    "user_traits",
    metadata,
    Column("identity", String(MAX_IDENTITY), nullable=False),
    Column("name", String(MAX_TRAIT_NAME), nullable=False),
    Column("value", JSON(none_as_null=True)),
    Column("observed_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("user_id", Text),  # sealed (store/sealed.py), like ``value``
    Column("address_key", String(ADDRESS_KEY)),  # of an ``email`` trait's value: whose identities carry an address
    PrimaryKeyConstraint("identity", "name", name="pk_user_traits"),
)
Index("ix_user_traits_address_key", user_traits.c.address_key)

# The suppression list: addresses never to be mailed, by address key only (no address is stored for it), one row
# per (key, reason): ``unsubscribed``, ``forgotten``, ``bounced``, ``audience:<trait>`` (an Engage opt-out trait,
# removed again when the trait turns false).
suppression_list = Table(
    "suppressions",
    metadata,
    Column("address_key", String(ADDRESS_KEY), nullable=False),
    Column("reason", String(MAX_REASON), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    PrimaryKeyConstraint("address_key", "reason", name="pk_suppressions"),
)

# The key of each *subject* (an address key, or a keyed hash of an identity) that the personal columns above are
# sealed under (store/sealed.py): erasure deletes a subject's key, so that every copy of its values left on disk
# is ciphertext without a key.
customer_keys = Table(
    "customer_keys",
    metadata,
    Column("subject", String(64), nullable=False),
    Column("secret", LargeBinary, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    PrimaryKeyConstraint("subject", name="pk_customer_keys"),
)

# One row per signed-in console session: the SHA-256 of the token its cookie carries (so that a copy of the table
# signs no one in), deleted when it signs out; a cookie whose row is gone is signed out, wherever it was copied.
console_sessions = Table(
    "console_sessions",
    metadata,
    Column("token_hash", String(64), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    PrimaryKeyConstraint("token_hash", name="pk_console_sessions"),
)

# One row per delivery attempt the worker made: when, with which sender, what came of it, the failure's code and
# fixed text (a ``SendFailure``'s, which hold no personal data) and how long the sender took. Its rows go with their
# invitation (ON DELETE CASCADE, which PostgreSQL enforces; SQLite's foreign keys are left off, as Alembic's batch
# migrations need: nothing deletes invitations today). The indexes serve an invitation's history, and the
# metrics' windows and last success by outcome and time.
_ID = BigInteger().with_variant(Integer, "sqlite")
deliveries = Table(
    "deliveries",
    metadata,
    Column("id", _ID, primary_key=True, autoincrement=True),
    Column("invitation_id", _ID, ForeignKey("invitations.id", ondelete="CASCADE", name="fk_deliveries_invitation"),
           nullable=False),
    Column("attempted_at", UTCDateTime, nullable=False),
    Column("sender", String(MAX_SENDER), nullable=False),
    Column("outcome", String(16), nullable=False),
    Column("code", String(MAX_CODE)),
    Column("error", String(MAX_ERROR)),
    Column("duration_seconds", Float, nullable=False),
)
Index("ix_deliveries_invitation", deliveries.c.invitation_id, deliveries.c.attempted_at)
Index("ix_deliveries_outcome_at", deliveries.c.outcome, deliveries.c.attempted_at)

# The attempts counted by (sender, outcome), for ``receiver_deliveries_total``: each attempt adds one to a row in the
# statement (or transaction) that records it, so that a scrape sums a few rows instead of counting ``deliveries``.
# ``shard``: each worker adds to one of ``COUNT_SHARDS`` rows per (sender, outcome), drawn at random when it
# starts, so that workers seldom wait for one another's row lock.
COUNT_SHARDS = 16
delivery_counts = Table(
    "delivery_counts",
    metadata,
    Column("sender", String(MAX_SENDER), nullable=False),
    Column("outcome", String(16), nullable=False),
    Column("shard", Integer, nullable=False),
    Column("count", BigInteger, nullable=False),
    PrimaryKeyConstraint("sender", "outcome", "shard", name="pk_delivery_counts"),
)
