"""The worker: claim due invitations -> build each link -> hand it to the sender -> record the outcome."""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from . import bgl
from .clock import Clock, utcnow
from .config import Settings
from .locales import host_for
from .senders import ReadyInvitation, Sender, SendFailure
from .store import Job, Store

log = logging.getLogger("receiver.worker")

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
    dead: int = 0
    lost: int = 0

    @property
    def handled(self) -> int:
        return self.sent + self.retrying + self.dead + self.lost


class Worker:
    def __init__(
        self,
        store: Store,
        settings: Settings,
        sender: Sender,
        *,
        clock: Clock = utcnow,
        rand: Callable[[], float] = random.random,
        iv_source: bgl.IvSource | None = None,
        backoff: Backoff = Backoff(),
        stop: threading.Event | None = None,
    ):
        self.store = store
        self.settings = settings
        self.sender = sender
        self.clock = clock
        self.rand = rand
        self.iv_source = iv_source
        self.backoff = backoff
        self.stop = stop or threading.Event()

    def ready(self, job: Job) -> ReadyInvitation:
        payload = {"email": job.email, "name": job.name, "ref": job.ref}
        if job.skus:
            payload["skus"] = list(job.skus)
        if job.tags:
            payload["tags"] = list(job.tags)
        link = bgl.build_link(payload, self.settings.keys, self.settings.domain,
                              host=host_for(job.locale, self.settings), iv_source=self.iv_source)
        return ReadyInvitation(id=job.id, message_id=job.message_id, email=job.email, name=job.name, ref=job.ref,
                               skus=job.skus, tags=job.tags, locale=job.locale, link=link)

    def deliver(self, job: Job, tally: Tally) -> None:
        try:
            self.sender.send(self.ready(job))
        except SendFailure as failure:
            self._failed(job, str(failure), failure.transient, failure.retry_after, tally)
        except Exception as exc:  # a sender bug or an unexpected library error: retry, keep no details
            log.exception("invitation %s: the sender raised %s", job.id, type(exc).__name__)
            self._failed(job, f"unexpected {type(exc).__name__} in the sender", True, None, tally)
        else:
            if self.store.mark_sent(job, now=self.clock()):
                tally.sent += 1
                log.info("invitation %s sent (attempt %s)", job.id, job.attempts)
            else:
                tally.lost += 1
                log.warning("invitation %s sent, but its lease had run out: it may be sent twice", job.id)

    def _failed(self, job: Job, error: str, transient: bool, retry_after: float | None, tally: Tally) -> None:
        now = self.clock()
        if transient and job.attempts < self.settings.max_attempts:
            wait = max(self.backoff.delay(job.attempts, self.rand), retry_after or 0.0)
            if self.store.mark_retry(job, now=now, at=now + timedelta(seconds=wait), error=error):
                tally.retrying += 1
            log.warning("invitation %s: attempt %s failed (%s); retrying in %.0fs", job.id, job.attempts, error, wait)
        else:
            why = "permanent failure" if not transient else f"gave up after {job.attempts} attempts"
            if self.store.mark_dead(job, now=now, error=f"{error} ({why})"):
                tally.dead += 1
            log.error("invitation %s is dead: %s (%s)", job.id, error, why)

    def run_batch(self) -> Tally:
        """Claim one batch and deliver it; jobs not started when asked to stop are released."""
        tally = Tally()
        jobs = self.store.claim(now=self.clock(), limit=self.settings.worker_batch,
                                lease_seconds=self.settings.lease_seconds)
        for index, job in enumerate(jobs):
            if self.stop.is_set():
                self.store.release(jobs[index:], now=self.clock())
                break
            self.deliver(job, tally)
        return tally

    def drain(self) -> Tally:
        """Deliver everything due now, then return (``receiver worker --once``)."""
        total = Tally()
        while not self.stop.is_set():
            tally = self.run_batch()
            for name in ("sent", "retrying", "dead", "lost"):
                setattr(total, name, getattr(total, name) + getattr(tally, name))
            if tally.handled == 0:
                break
        return total

    def run_forever(self) -> None:
        """Poll until ``stop`` is set; an unreachable database is waited out, not fatal."""
        from .store import StoreUnavailable

        while not self.stop.is_set():
            try:
                busy = self.run_batch().handled > 0
            except StoreUnavailable:
                log.warning("the database is unavailable; trying again in %ss", self.settings.poll_seconds)
                busy = False
            if not busy:
                self.stop.wait(self.settings.poll_seconds)
