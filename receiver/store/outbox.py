"""The outbox: invitations as rows of a work queue.

Every write is one statement in one transaction, so it is atomic on both databases:
- ``add`` inserts with ``ON CONFLICT DO NOTHING``: the unique ``message_id`` and unique
  ``(domain, order_key)`` make a retried or repeated message a no-op, even under concurrency;
- ``claim`` moves due rows to ``sending`` with a lease in one ``UPDATE ... RETURNING``
  (``FOR UPDATE SKIP LOCKED`` on PostgreSQL), so no row goes to two workers; a ``sending`` row
  whose lease ran out is due again;
- ``extend`` renews the lease of a job whose send is still running (the worker's heartbeat);
- ``mark_*`` only touch a row still held under the caller's lease token; given the ``Attempt`` that led to the
  outcome, they add its row to ``deliveries`` in the same transaction (recorded even when the lease was lost: the
  attempt was made all the same).

Leases are judged by the database's clock (``dbclock``), never a worker's: a lease runs until the database's
now plus ``lease_seconds``, and a ``sending`` row is due again only once the database's now has passed that, so
a worker whose clock runs minutes ahead cannot take an invitation another worker is still sending. When a
``pending`` or ``retrying`` row is due is the business's time (a delay, a backoff), read from the caller's clock.
"""

from __future__ import annotations

import functools
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import and_, bindparam, case, or_, select, update
from sqlalchemy.exc import DataError, IntegrityError, StatementError

from ..invitation import Invitation
from .dbclock import database_now, later_of_now
from .deliveries import Attempt, record, recorded, recorded_parameters
from .engine import Database, Prepared
from .schema import (
    COUNT_SHARDS,
    DEAD,
    EXPIRED,
    MAX_ERROR,
    MAX_ID,
    PENDING,
    RETRYING,
    SENDING,
    SENT,
    SUPPRESSED,
    customer_keys,
    invitations,
    queued,
)
from .sealed import Keyring, Sealer
from .search import InvitationFilter, filter_clause
from .traits import chunks
from .waiting import RECHECK_MARGIN


@dataclass(frozen=True)
class NewInvitation:
    """One invitation for ``Outbox.add``, with how it is to be stored.

    ``order_key``: what makes a second order the same order (None: the invitation's ``ref``); ``due_at``: when
    it may first be sent (None: now); ``state`` other than ``pending`` (e.g. ``suppressed``) with its ``reason``,
    stored as the row's ``last_error``. ``wait_until``: a ``waiting`` order (no email yet) stops waiting then;
    only such a row keeps the invitation's ``user_id`` and ``anonymous_id`` (see ``store.waiting``).
    """

    invitation: Invitation
    order_key: str | None = None
    state: str = PENDING
    due_at: datetime | None = None
    reason: str | None = None
    wait_until: datetime | None = None


@dataclass(frozen=True)
class Job:
    """A claimed invitation, held under ``lease_token`` until the worker records what happened."""

    id: int
    invitation: Invitation
    attempts: int
    lease_token: str
    address_key: str | None = None  # of the invitation's email: the suppression list's and the cooldown's key


@dataclass(frozen=True)
class Invited:
    """What the frequency cap needs to know of one address key (``Outbox.invited``)."""

    sent: bool = False  # an invitation to it was sent within the period asked about
    first_sending: int | None = None  # the lowest id of its invitations in ``sending``


_CLAIMED = ("id", "message_id", "email", "name", "ref", "skus", "tags", "locale", "attempts", "ordered_at",
            "address_key")


_SUBJECT = "_subject"  # in a row's values until it is sealed: what its email and name are sealed under


def _sealed(row: dict[str, Any], keys: Keyring) -> dict[str, Any]:
    """A row's values with its email and name sealed under its subject's key (and the subject left out)."""
    return {**{name: value for name, value in row.items() if name != _SUBJECT},
            "email": keys.seal(row[_SUBJECT], row["email"]), "name": keys.seal(row[_SUBJECT], row["name"])}


def _job(row: Any, token: str, keys: Keyring) -> Job:
    invitation = Invitation(message_id=row.message_id, email=keys.open(row.email) or "",
                            name=keys.open(row.name) or "", ref=row.ref,
                            skus=tuple(row.skus or ()), tags=tuple(row.tags or ()), locale=row.locale,
                            ordered_at=row.ordered_at)
    return Job(id=row.id, invitation=invitation, attempts=row.attempts, lease_token=token,
               address_key=row.address_key)


@functools.cache
def _finish_statement(columns: tuple[str, ...], with_attempt: bool = False) -> Any:
    """The UPDATE that records a job's outcome, setting ``columns``, built once per shape (the worker runs one
    per invitation, and building and caching-keying a fresh statement cost as much as the round trip); with
    ``with_attempt``, the attempt's INSERT rides in it (``deliveries.recorded``, PostgreSQL only)."""
    statement = (
        update(invitations)
        .where(invitations.c.id == bindparam("b_job_id"), invitations.c.lease_token == bindparam("b_lease_token"),
               invitations.c.state == SENDING)
        .values(lease_token=None, updated_at=bindparam("b_updated_at"),
                **{name: bindparam(f"b_new_{name}") for name in columns})
    )
    return statement.add_cte(*recorded()) if with_attempt else statement


def _waiting_values(row: NewInvitation, now: datetime) -> dict[str, Any]:
    if row.wait_until is None:
        return {"user_id": None, "anonymous_id": None, "wait_until": None, "recheck_from": None}
    invitation = row.invitation
    return {"user_id": (invitation.user_id or "")[:MAX_ID] or None,
            "anonymous_id": (invitation.anonymous_id or "")[:MAX_ID] or None,
            "wait_until": row.wait_until, "recheck_from": now - RECHECK_MARGIN}


def _refused(error: StatementError) -> bool:
    """The database refused a value of the statement: a row's fault (a NUL PostgreSQL's text cannot hold, a value
    too long, a missing one), not an outage nor a bug (a naive time), which fail the whole call as before."""
    return isinstance(error, DataError | IntegrityError)


class Outbox:
    def __init__(self, database: Database, sealer: Sealer):
        self.database = database
        self.sealer = sealer
        self.shard = secrets.randbelow(COUNT_SHARDS)  # this process's rows of delivery_counts (schema)

    def add(self, rows: Sequence[NewInvitation], *, domain: str, now: datetime) -> list[bool | None]:
        """Store each new invitation in one transaction; per row, True if stored, False if a duplicate, None if the
        database refused that row (its value, not the database, is at fault: see ``_refused``).

        A duplicate has the ``message_id`` of a stored invitation (or of an earlier row of the same call), or the
        same order key for the domain: Segment's retries and repeated orders make no second row. When the batch's
        insert is refused, its rows are tried again one by one, so that one bad row costs only itself.
        """
        if not rows:
            return []
        values = [self._values(row, domain, now) for row in rows]
        try:
            stored = self._insert(values)
        except StatementError as exc:
            if not _refused(exc):
                raise
            return [self._insert_one(row_values) for row_values in values]
        result: list[bool | None] = []
        for row in rows:
            result.append(row.invitation.message_id in stored)
            stored.discard(row.invitation.message_id)  # a second copy in the same batch is a duplicate
        return result

    @functools.cached_property
    def _insert_statement(self) -> Any:
        return self.database.insert(invitations).on_conflict_do_nothing().returning(invitations.c.message_id)

    @functools.cached_property
    def _insert_one_row(self) -> Prepared:
        """The single message's INSERT (most requests), compiled once: 0.03-0.04 ms less per request."""
        return self.database.prepared(self._insert_statement, self._columns)

    @functools.cached_property
    def _columns(self) -> tuple[str, ...]:
        """The columns a new invitation's row gives a value (``_values``)."""
        return tuple(name for name in self._values(NewInvitation(Invitation("", "", "", "")), "", datetime.now(UTC))
                     if name != _SUBJECT)

    def _insert(self, values: list[dict[str, Any]]) -> set[str]:
        """The message ids of the rows ``values`` stored (the others were duplicates), in one transaction with the
        keys their email and name are sealed under (``_SUBJECT``: whose), so that a new customer costs one commit;
        once more on a fresh connection if the first one turns out lost (``Database.once_more``: a repeat is a
        duplicate)."""
        return self.database.once_more(lambda: self._insert_once(values))

    def _insert_once(self, values: list[dict[str, Any]]) -> set[str]:
        if len(values) == 1:
            stored = self._insert_guarded(values[0])
            if stored is not None:
                return stored
        with self.database.intake_write(), self.database.writing(one_statement=False) as conn:
            keys = self.sealer.keyring([row[_SUBJECT] for row in values], now=values[0]["created_at"], conn=conn)
            sealed = [_sealed(row, keys) for row in values]
            if len(sealed) == 1:
                one = self._insert_one_row
                return {found[0] for found in conn.exec_driver_sql(one.sql, one.parameters(sealed[0]))}
            # executemany: SQLAlchemy sends the rows as pages of multi-row INSERTs ("insertmanyvalues"),
            # compiled once and well inside each database's limit on bound parameters.
            return {found.message_id for found in conn.execute(self._insert_statement, sealed)}

    @functools.cached_property
    def _guarded(self) -> tuple[Prepared, Prepared | None]:
        """A single message's INSERT that seals with a key it does not read first (``_insert_guarded``), compiled
        once: ``known``, sealed with a key this process has in memory, stores the row only if that key is still the
        stored one (never writes the key); ``fresh`` (PostgreSQL only: SQLite has no data-modifying CTE), sealed with
        a new key, stores the key and the row only if the customer had no key yet."""
        columns = self._columns
        subject = bindparam("subject", type_=customer_keys.c.subject.type)
        secret = bindparam("secret", type_=customer_keys.c.secret.type)
        row = select(*(bindparam(name, type_=invitations.c[name].type) for name in columns))
        insert = self.database.insert(invitations)

        def guarded(condition: Any) -> Any:
            return (insert.from_select(columns, row.where(condition))
                    .on_conflict_do_nothing().returning(invitations.c.message_id))

        names = (*columns, "subject", "secret")
        known = guarded(select(customer_keys.c.subject).where(
            customer_keys.c.subject == subject, customer_keys.c.secret == secret).exists())
        prepared_known = self.database.prepared(known, names, invitations, customer_keys)
        if self.database.dialect != "postgresql":
            return prepared_known, None
        made = (self.database.insert(customer_keys)
                .values(subject=subject, secret=secret,
                        created_at=bindparam("created_at", type_=customer_keys.c.created_at.type))
                .on_conflict_do_nothing().returning(customer_keys.c.subject).cte("made"))
        fresh = guarded(select(made.c.subject).exists()).add_cte(made)
        return prepared_known, self.database.prepared(fresh, names, invitations, customer_keys)

    def _insert_guarded(self, row: dict[str, Any]) -> set[str] | None:
        """One message stored in one statement, without reading its customer's key (None: not stored that way, for
        the general path to decide, e.g. a duplicate, or a key that changed). A returning customer's key is in this
        process's memory (``Sealer.recent``); on PostgreSQL a new customer's key is made in the same statement, so
        that either way the write is one autocommitted round trip where reading the key made it four (BEGIN, the
        key, the INSERT, COMMIT)."""
        subject = row[_SUBJECT]
        secret = self.sealer.recent.get(subject)
        known, fresh = self._guarded
        statement = known if secret is not None else fresh
        if statement is None:
            return None
        if secret is None:
            secret = AESGCM.generate_key(bit_length=256)
        parameters = {**_sealed(row, Keyring({subject: secret})), "subject": subject, "secret": secret}
        with self.database.intake_write(), self.database.writing(one_statement=True) as conn:
            found = conn.exec_driver_sql(statement.sql, statement.parameters(parameters)).scalar()
        if found is None:
            return None
        self.sealer.recent.put({subject: secret})
        return {found}

    def _insert_one(self, values: dict[str, Any]) -> bool | None:
        try:
            return bool(self._insert([values]))
        except StatementError as exc:
            if not _refused(exc):
                raise
            return None

    def _values(self, row: NewInvitation, domain: str, now: datetime) -> dict[str, Any]:
        invitation = row.invitation
        return {
            "message_id": invitation.message_id,
            "domain": domain,
            "ref": invitation.ref,
            "order_key": invitation.ref if row.order_key is None else row.order_key,
            "email": invitation.email or None,  # none yet: a waiting order, or one suppressed before it had one
            "address_key": (address := self.database.address_key(invitation.email or None)),
            "name": invitation.name or None,
            _SUBJECT: self.sealer.invitation_subject(invitation, address),
            "skus": list(invitation.skus),
            "tags": list(invitation.tags),
            "locale": invitation.locale,
            "state": row.state,
            "last_error": row.reason,
            "attempts": 0,
            "next_attempt_at": now if row.due_at is None else row.due_at,
            "ordered_at": invitation.ordered_at,
            "created_at": now,
            "updated_at": now,
            **_waiting_values(row, now),
        }

    def holder(self, *, message_id: str, domain: str, order_key: str) -> int | None:
        """The id of the stored invitation that ``add`` would find this one a duplicate of, if any."""
        statement = select(invitations.c.id).where(or_(
            invitations.c.message_id == message_id,
            and_(invitations.c.domain == domain, invitations.c.order_key == order_key),
        )).limit(1)
        with self.database.reading() as conn:
            return conn.execute(statement).scalar()

    def claim(self, *, now: datetime, limit: int, lease_seconds: float) -> list[Job]:
        """Take up to ``limit`` due invitations for one worker, leased until ``now + lease_seconds``."""
        token = secrets.token_hex(16)
        lease_over = and_(invitations.c.state == SENDING, invitations.c.next_attempt_at <= database_now())
        waited = and_(invitations.c.state != SENDING, invitations.c.next_attempt_at <= now)
        due = (
            select(invitations.c.id)
            # the first bound is implied by the other two: it keeps the due index a range scan
            .where(queued, invitations.c.next_attempt_at <= later_of_now(now), or_(waited, lease_over))
            .order_by(invitations.c.next_attempt_at)
            .limit(limit)
        )
        if self.database.dialect == "postgresql":
            due = due.with_for_update(skip_locked=True)
        statement = (
            update(invitations)
            .where(invitations.c.id.in_(due.scalar_subquery()))
            .values(
                state=SENDING,
                attempts=invitations.c.attempts + 1,
                next_attempt_at=database_now(lease_seconds),
                lease_token=token,
                updated_at=now,
            )
            .returning(*(invitations.c[name] for name in _CLAIMED))
        )
        with self.database.engine.begin() as conn:
            rows = conn.execute(statement).all()
            keys = self.sealer.opener(conn, [cell for row in rows for cell in (row.email, row.name)])
        return sorted((_job(row, token, keys) for row in rows), key=lambda job: job.id)

    def extend(self, job: Job, *, lease_seconds: float) -> bool:
        """Renew the lease of a job still being sent to the database's now plus ``lease_seconds``; False if it is
        no longer this job's (another worker took it, or its outcome is recorded)."""
        statement = (
            update(invitations)
            .where(invitations.c.id == job.id, invitations.c.lease_token == job.lease_token,
                   invitations.c.state == SENDING)
            .values(next_attempt_at=database_now(lease_seconds))
        )
        with self.database.writing(one_statement=True) as conn:
            return conn.execute(statement).rowcount == 1

    def _finish(self, job: Job, now: datetime, attempt: Attempt | None = None, **values: Any) -> bool:
        in_statement = attempt is not None and self.database.dialect == "postgresql"
        statement = _finish_statement(tuple(sorted(values)), in_statement)
        parameters = {f"b_new_{name}": value for name, value in values.items()}
        if attempt is not None and in_statement:
            parameters.update(recorded_parameters(job.id, attempt, self.shard))
        # one statement per invitation the worker sends, autocommitted on PostgreSQL (its attempt's INSERT in it);
        # on SQLite the UPDATE and the attempt's INSERT in one transaction
        with self.database.writing(one_statement=attempt is None or in_statement) as conn:
            result = conn.execute(statement, {"b_job_id": job.id, "b_lease_token": job.lease_token,
                                              "b_updated_at": now, **parameters})
            if attempt is not None and not in_statement:
                record(conn, job.id, attempt, self.shard)
            return result.rowcount == 1

    def mark_sent(self, job: Job, *, now: datetime, attempt: Attempt | None = None) -> bool:
        """Record a delivery; False if the lease had been lost to another worker meanwhile."""
        return self._finish(job, now, attempt, state=SENT, sent_at=now, last_error=None)

    def mark_retry(self, job: Job, *, now: datetime, at: datetime, error: str, attempt: Attempt | None = None) -> bool:
        return self._finish(job, now, attempt, state=RETRYING, next_attempt_at=at, last_error=error[:MAX_ERROR])

    def mark_dead(self, job: Job, *, now: datetime, error: str, attempt: Attempt | None = None) -> bool:
        return self._finish(job, now, attempt, state=DEAD, last_error=error[:MAX_ERROR])

    def mark_expired(self, job: Job, *, now: datetime, error: str) -> bool:
        """The order is too old to ask about (``MAX_EVENT_AGE``): never sent; the attempt not counted."""
        return self._finish(job, now, state=EXPIRED, attempts=job.attempts - 1, last_error=error[:MAX_ERROR])

    def mark_suppressed(self, job: Job, *, now: datetime, reason: str) -> bool:
        """Not to be sent (its address is on the suppression list, or was invited recently): the attempt not
        counted, ``reason`` kept as the row's ``last_error``."""
        return self._finish(job, now, state=SUPPRESSED, attempts=job.attempts - 1, last_error=reason[:MAX_ERROR])

    def invited(self, keys: Iterable[str], *, since: datetime) -> dict[str, Invited]:
        """For each address key that has any: whether an invitation to it was sent at or after ``since``, and the
        lowest id of its invitations being sent now (``sending``: this batch's and other workers')."""
        wanted = sorted(set(keys))
        found: dict[str, Invited] = {}
        recent = and_(invitations.c.state == SENT, invitations.c.sent_at >= since)
        columns = (invitations.c.address_key, invitations.c.id, invitations.c.state)
        with self.database.reading() as conn:
            for chunk in chunks(wanted):
                statement = select(*columns).where(invitations.c.address_key.in_(chunk),
                                                   or_(recent, invitations.c.state == SENDING))
                for row in conn.execute(statement):
                    was = found.get(row.address_key, Invited())
                    if row.state == SENT:
                        found[row.address_key] = Invited(True, was.first_sending)
                    else:
                        first = row.id if was.first_sending is None else min(was.first_sending, row.id)
                        found[row.address_key] = Invited(was.sent, first)
        return found

    def release(self, jobs: Iterable[Job], *, now: datetime) -> None:
        """Give claimed rows back untouched (a stopping worker): due now, the attempt not counted."""
        for job in jobs:
            self._finish(job, now, state=PENDING if job.attempts <= 1 else RETRYING,
                         attempts=job.attempts - 1, next_attempt_at=now)

    def retry(self, *, now: datetime, dead: bool = False, invitation_id: int | None = None) -> int:
        """Make ``retrying`` (and with ``dead``, ``dead``) invitations due now; how many were changed.

        With ``invitation_id``, just that one, in either state. A retried dead row gets a fresh attempt budget.
        """
        states = (RETRYING, DEAD) if dead or invitation_id is not None else (RETRYING,)
        where = invitations.c.id == invitation_id if invitation_id is not None else None
        return self._requeue(now=now, states=states, where=where)

    def requeue(self, *, now: datetime, states: tuple[str, ...], matching: InvitationFilter) -> int:
        """Make the invitations ``matching`` that are in one of ``states`` (``retrying``, ``dead``) due now, as
        ``retry`` does; how many were changed. The console's "Retry all dead" and "retry these"."""
        return self._requeue(now=now, states=tuple(set(states) & {RETRYING, DEAD}), where=filter_clause(matching))

    def _requeue(self, *, now: datetime, states: tuple[str, ...], where: Any) -> int:
        statement = update(invitations).where(invitations.c.state.in_(states), invitations.c.email.is_not(None))
        if where is not None:
            statement = statement.where(where)
        statement = statement.values(
            state=RETRYING,
            next_attempt_at=now,
            updated_at=now,
            attempts=case((invitations.c.state == DEAD, 0), else_=invitations.c.attempts),
        )
        with self.database.engine.begin() as conn:
            return conn.execute(statement).rowcount
