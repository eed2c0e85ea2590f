"""The worker: claim due invitations -> build each link -> hand it to the sender -> record the outcome.

Its log lines carry ids and codes only (``http 503``, ``smtp 550 5.1.1``, an exception's type and where it was
raised), never a failure's message: a plug-in sender's message, or an exception's, may name the customer.
While a send runs, ``LeaseKeeper`` renews its lease, so that no other worker takes it however long the send takes.

Longer than 300 lines on purpose: the delivery loop with its stop flag, backoff and lease keeper, which only
make sense together (the ``StopFlag`` and ``Backoff`` values are kept as the issue asked).
"""

from __future__ import annotations

import logging
import os
import random
import select
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Protocol

from . import bgl, metrics
from .clock import Clock, utcnow
from .config import WorkerSettings
from .links import LinkBuilder
from .screening import note_bounce, screen
from .senders import ReadyInvitation, Sender, SendFailure
from .store import DELIVERED, ERROR, PERMANENT, TRANSIENT, Attempt, Job, Store, StoreUnavailable
from .unsubscribe import UnsubscribeLinks
from .waiting import Settled, Waiting

log = logging.getLogger("receiver.worker")
PURGE_EVERY = 3600.0  # seconds between two retention sweeps of one worker


class StopFlag:
    """A stop request that a signal handler may raise, unlike ``threading.Event``.

    ``Event.set()`` takes the lock that ``Event.wait()`` holds for a moment on each call; a SIGTERM landing in
    that moment runs the handler on the same thread, which then waits for its own lock: the worker hangs until
    SIGKILL. Here ``set`` flips a flag and writes a byte to a pipe, and ``wait`` sleeps in ``select`` on that
    pipe (the self-pipe trick, as gunicorn's arbiter does): no lock anywhere, and a waiter wakes at once.
    Any thread may call ``set`` as well.
    """

    def __init__(self) -> None:
        self._raised = False
        self._read, self._write = os.pipe()
        os.set_blocking(self._write, False)

    def set(self) -> None:
        self._raised = True
        try:
            os.write(self._write, b"!")  # never drained: once raised, every wait returns at once
        except OSError:  # the pipe is full (it wakes waiters all the same) or already closed
            pass

    def is_set(self) -> bool:
        return self._raised

    def wait(self, timeout: float | None = None) -> bool:
        if not self._raised:
            select.select([self._read], [], [], timeout)  # retried after a signal (PEP 475), woken by set()
        return self._raised

    def close(self) -> None:
        for fd in (self._read, self._write):
            os.close(fd)


class Stop(Protocol):
    def set(self) -> None: ...
    def is_set(self) -> bool: ...
    def wait(self, timeout: float | None = None) -> bool: ...


@dataclass(frozen=True)
class Backoff:
    """Exponential backoff with jitter: attempt n waits between half and all of ``base * 2**(n-1)``."""

    base_seconds: float = 30.0
    cap_seconds: float = 6 * 3600.0

    def delay(self, attempts: int, rand: Callable[[], float]) -> float:
        ceiling = min(self.cap_seconds, self.base_seconds * 2 ** max(0, attempts - 1))
        return ceiling * (0.5 + rand() / 2)


@dataclass
class Tally:
    sent: int = 0
    retrying: int = 0
    dead: int = 0  # waited-out orders included
    expired: int = 0
    lost: int = 0
    resolved: int = 0  # waiting orders that got their email (then sent, or retried, like any other)
    suppressed: int = 0  # waiting orders whose customer turned out to be suppressed
    waited_out: int = 0  # waiting orders that never got their email (counted in ``dead`` too)
    held: int = 0  # claimed, then suppressed: the address is on the suppression list, or was invited recently

    @property
    def handled(self) -> int:
        return (self.sent + self.retrying + self.dead + self.expired + self.lost + self.resolved + self.suppressed
                + self.held)

    def add(self, other: Tally) -> None:
        for name in ("sent", "retrying", "dead", "expired", "lost", "resolved", "suppressed", "waited_out", "held"):
            setattr(self, name, getattr(self, name) + getattr(other, name))

    def add_settled(self, settled: Settled) -> None:
        self.resolved += settled.resolved
        self.suppressed += settled.suppressed
        self.dead += settled.dead
        self.waited_out += settled.dead

    def __str__(self) -> str:
        line = f"sent {self.sent}, retrying {self.retrying}, dead {self.dead}, expired {self.expired}"
        if self.held:
            line += f", suppressed {self.held} (suppression list or INVITE_COOLDOWN)"
        if self.resolved or self.suppressed or self.waited_out:
            line += (f"; waiting orders: {self.resolved} resolved, {self.suppressed} suppressed, "
                     f"{self.waited_out} waited out")
        return line


class LeaseKeeper:
    """Renews the lease of the job being sent every third of the lease (an UPDATE guarded by its lease token,
    ``Outbox.extend``), from one thread of its own, so that a send never outlives its lease; a worker's half-lease
    guard still gives back the rest of a slow batch."""

    def __init__(self, store: Store, lease_seconds: float):
        self.store, self.lease_seconds = store, lease_seconds
        self.every = lease_seconds / 3
        self._job: Job | None = None
        self._closed = False
        self._changed = threading.Condition()
        self._thread: threading.Thread | None = None

    @contextmanager
    def keeping(self, job: Job) -> Iterator[None]:
        """Renew ``job``'s lease for as long as the block runs."""
        with self._changed:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="lease-keeper", daemon=True)
                self._thread.start()
            self._job = job
            self._changed.notify_all()
        try:
            yield
        finally:
            with self._changed:
                self._job = None
                self._changed.notify_all()

    def _run(self) -> None:
        with self._changed:
            while not self._closed:
                job = self._job
                if job is None:
                    self._changed.wait()
                elif not self._changed.wait_for(lambda held=job: self._job is not held or self._closed, self.every):
                    self._changed.release()  # the send is still running: renew without holding up its end
                    try:
                        self._renew(job)
                    finally:
                        self._changed.acquire()

    def _renew(self, job: Job) -> None:
        try:
            if not self.store.outbox.extend(job, lease_seconds=self.lease_seconds):
                log.warning("invitation %s: its lease could not be renewed during the send", job.id)
        except StoreUnavailable as exc:
            log.warning("invitation %s: its lease could not be renewed: %s", job.id, exc)
        except Exception as exc:  # the thread must outlive one bad renewal; the send goes on either way
            log.error("invitation %s: renewing its lease raised %s at %s", job.id, type(exc).__name__,
                      raised_where(exc))

    def close(self) -> None:
        with self._changed:
            self._closed = True
            self._changed.notify_all()
        if self._thread is not None:
            self._thread.join(5)


def raised_where(exc: BaseException) -> str:
    """``file.py:42``: the innermost frame an exception came from, without its message."""
    frames = traceback.extract_tb(exc.__traceback__)
    return f"{Path(frames[-1].filename).name}:{frames[-1].lineno}" if frames else "?"


class Worker:
    def __init__(
        self,
        store: Store,
        settings: WorkerSettings,
        sender: Sender,
        *,
        links: LinkBuilder,
        clock: Clock = utcnow,
        rand: Callable[[], float] = random.random,
        iv_source: bgl.IvSource | None = None,
        backoff: Backoff = Backoff(),
        stop: Stop | None = None,
        waiting: Waiting | None = None,
        unsubscribe: UnsubscribeLinks | None = None,
    ):
        self.store = store
        self.settings = settings
        self.links = links
        self.sender = sender
        self.clock = clock
        self.rand = rand
        self.iv_source = iv_source
        self.backoff = backoff
        self.stop: Stop = stop or threading.Event()
        self.waiting = waiting  # settles the orders waiting for their email before each batch
        self.unsubscribe = unsubscribe  # the unsubscribe URL of each invitation; None: PUBLIC_URL is not set
        self._last_purge: datetime | None = None
        self.lease_keeper = LeaseKeeper(store, settings.lease_seconds)

    def ready(self, job: Job) -> ReadyInvitation:
        link = self.links.link(job.invitation, self.iv_source)
        unsubscribe = self.unsubscribe.url(job.id, job.invitation.message_id) if self.unsubscribe else None
        return ReadyInvitation(id=job.id, invitation=job.invitation, link=link, unsubscribe_url=unsubscribe)

    def too_old(self, job: Job, now: datetime) -> bool:
        age, ordered_at = self.settings.max_event_age, job.invitation.ordered_at
        return bool(age and ordered_at and now - ordered_at > timedelta(seconds=age))

    def deliver(self, job: Job, tally: Tally) -> None:
        if self.too_old(job, self.clock()):
            if self.store.outbox.mark_expired(job, now=self.clock(), error="expired: the order is older than MAX_EVENT_AGE"):
                tally.expired += 1
            log.info("invitation %s expired: the order is older than MAX_EVENT_AGE", job.id)
            return
        sender = self.settings.sender
        attempted_at, started = self.clock(), time.perf_counter()

        def attempt(outcome: str, code: str | None = None, error: str | None = None) -> Attempt:
            return Attempt(sender=sender, outcome=outcome, attempted_at=attempted_at, code=code, error=error,
                           duration_seconds=time.perf_counter() - started)

        try:
            with self.lease_keeper.keeping(job):
                self.sender.send(self.ready(job))
        except SendFailure as failure:
            outcome = TRANSIENT if failure.transient else PERMANENT
            code = failure.code or ("a transient failure" if failure.transient else "a permanent failure")
            if not failure.transient and note_bounce(self.store, job, failure.code, now=self.clock()):
                log.info("invitation %s: the recipient's address was refused (%s): on the suppression list as "
                         "bounced", job.id, code)
            self._failed(job, str(failure), code, failure.transient, failure.retry_after, tally,
                         attempt(outcome, failure.code, str(failure)))
        except Exception as exc:  # a sender bug or an unexpected library error: retry, keep no details
            # no traceback: the exception's message is in it, and may name the customer
            log.error("invitation %s: the sender raised %s at %s", job.id, type(exc).__name__, raised_where(exc))
            error = f"unexpected {type(exc).__name__} in the sender"
            self._failed(job, error, type(exc).__name__, True, None, tally, attempt(ERROR, type(exc).__name__, error))
        else:
            done = attempt(DELIVERED)
            metrics.DELIVERY_SECONDS.labels(sender).observe(done.duration_seconds)
            if self.store.outbox.mark_sent(job, now=self.clock(), attempt=done):
                tally.sent += 1
                log.info("invitation %s sent (attempt %s)", job.id, job.attempts)
            else:
                tally.lost += 1
                log.warning("invitation %s sent, but its lease had run out: it may be sent twice", job.id)

    def _failed(self, job: Job, error: str, code: str, transient: bool, retry_after: float | None,
                tally: Tally, attempt: Attempt) -> None:
        """Record the failure (``error``, the stored text, with its ``attempt``) and log its ``code``."""
        now = self.clock()
        if transient and job.attempts < self.settings.max_attempts:
            wait = max(self.backoff.delay(job.attempts, self.rand), retry_after or 0.0)
            if self.store.outbox.mark_retry(job, now=now, at=now + timedelta(seconds=wait), error=error,
                                            attempt=attempt):
                tally.retrying += 1
            log.warning("invitation %s: attempt %s failed (%s); retrying in %.0fs", job.id, job.attempts, code, wait)
        else:
            why = "permanent failure" if not transient else f"gave up after {job.attempts} attempts"
            if self.store.outbox.mark_dead(job, now=now, error=f"{error} ({why})", attempt=attempt):
                tally.dead += 1
            log.error("invitation %s is dead: %s (%s)", job.id, code, why)

    def run_batch(self) -> Tally:
        """Settle the waiting orders worth a look, then claim one batch and deliver it; jobs not started when asked
        to stop are released."""
        tally = Tally()
        if self.waiting is not None:
            tally.add_settled(self.waiting.settle(limit=self.settings.worker_batch))
        claimed_at = self.clock()
        jobs = self.hold_back(self.store.outbox.claim(now=claimed_at, limit=self.settings.worker_batch,
                                                      lease_seconds=self.settings.lease_seconds), tally)
        for index, job in enumerate(jobs):
            if self.stop.is_set():
                self.store.outbox.release(jobs[index:], now=self.clock())
                break
            if self._lease_half_gone(claimed_at):
                # slow sends: give the rest back before another worker may take them while we still hold them
                log.info("half the lease has gone on this batch; gave back %s invitation(s) to claim afresh",
                         len(jobs) - index)
                self.store.outbox.release(jobs[index:], now=self.clock())
                break
            self.deliver(job, tally)
        return tally

    def hold_back(self, jobs: list[Job], tally: Tally) -> list[Job]:
        """Record as ``suppressed`` the claimed jobs the suppression list or ``INVITE_COOLDOWN`` stop; the others."""
        now = self.clock()
        screened = screen(self.store, jobs, now=now, cooldown_seconds=self.settings.invite_cooldown)
        for job, reason in screened.held:
            if self.store.outbox.mark_suppressed(job, now=now, reason=reason):
                tally.held += 1
            log.info("invitation %s suppressed at claim: %s", job.id, reason)  # a reason names no one
        return screened.send

    def _lease_half_gone(self, claimed_at: datetime) -> bool:
        return (self.clock() - claimed_at).total_seconds() > self.settings.lease_seconds / 2

    def drain(self) -> Tally:
        """Deliver everything due now, then return (``receiver worker --once``)."""
        total = Tally()
        while not self.stop.is_set():
            tally = self.run_batch()
            total.add(tally)
            if tally.handled == 0:
                break
        return total

    def purge_if_due(self) -> int:
        """Erase personal data past ``RETENTION``, at most once per ``PURGE_EVERY``; rows erased."""
        now = self.clock()
        if self._last_purge is not None and (now - self._last_purge).total_seconds() < PURGE_EVERY:
            return 0
        self._last_purge = now
        erased = self.store.erasure.purge(now=now, older_than_seconds=self.settings.retention)
        if erased:
            log.info("erased the personal data of %s finished invitation(s) past the retention period", erased)
        if not self.store.erasure.compacted:
            log.warning("a reader kept the database from being compacted after the retention sweep; the next one "
                        "finishes it")
        return erased

    def close(self) -> None:
        """Stop the lease keeper's thread (the sender and the store are closed by whoever made them)."""
        self.lease_keeper.close()

    def run_forever(self) -> None:
        """Poll until ``stop`` is set; an unreachable database is waited out, not fatal: its cause is logged when it
        changes (and when the database answers again), not at every poll; at DEBUG every time, with the driver's
        exception."""
        outage: str | None = None  # the cause last logged
        while not self.stop.is_set():
            try:
                self.purge_if_due()
                busy = self.run_batch().handled > 0
            except StoreUnavailable as exc:
                outage = self._outage(exc, outage)
                busy = False
            else:
                if outage is not None:
                    log.info("the database answers again")
                    outage = None
            if not busy:
                self.stop.wait(self.settings.poll_seconds)

    def _outage(self, exc: StoreUnavailable, logged: str | None) -> str:
        """Log the outage ``exc`` if its cause is not the one ``logged`` last; the cause now logged."""
        cause = str(exc)
        if cause != logged:
            log.warning("the database is unavailable: %s; trying again every %ss until it answers", cause,
                        self.settings.poll_seconds)
        driver = exc.__cause__
        log.debug("the database is unavailable (%s): %s", exc.kind,
                  f"{type(driver).__name__}: {driver}" if driver is not None else "no driver exception")
        return cause
