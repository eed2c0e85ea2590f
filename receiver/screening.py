"""Which claimed invitations may be sent: none to an address on the suppression list, and none to a customer invited
within ``INVITE_COOLDOWN`` (the frequency cap), decided by address key when the worker claims them.

Among one customer's invitations being sent at once (two orders in one batch, or in the batches of two workers) the
one with the lowest id goes and the others are ``suppressed`` (``invited recently``): each worker looks after its
claim has committed, so of two concurrent claims the later one sees the other's rows, and the lowest id wins on
both sides. The permanent refusal of a recipient by an SMTP server (``5.1.x``) puts the address on the list
(``bounced``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from .store import BOUNCED, Job, Store

INVITED_RECENTLY = "invited recently"
# the enhanced codes (RFC 3463) that say the recipient's address is bad: not the sender's own (5.1.7, 5.1.8)
_BOUNCE = re.compile(r"smtp 5\d\d 5\.1\.(?:1|2|3|6|10)")


def bounced(code: str | None) -> bool:
    """Whether a permanent failure's ``code`` (``smtp 550 5.1.1``) says the recipient's address does not exist."""
    return bool(code and _BOUNCE.fullmatch(code))


@dataclass(frozen=True)
class Screened:
    """A claimed batch, split: the jobs to send, and the others with why not."""

    send: list[Job]
    held: list[tuple[Job, str]]


def screen(store: Store, jobs: Sequence[Job], *, now: datetime, cooldown_seconds: float) -> Screened:
    """Split a claimed batch into what may be sent and what is suppressed (by the list, then by the cooldown)."""
    keys = [job.address_key for job in jobs if job.address_key]
    if not keys:
        return Screened(list(jobs), [])
    listed = store.suppressions.reason_for(keys)
    invited = store.outbox.invited(keys, since=now - timedelta(seconds=cooldown_seconds)) if cooldown_seconds else {}
    send, held = [], []
    for job in jobs:
        key = job.address_key
        if key in listed:
            held.append((job, listed[key]))
            continue
        seen = invited.get(key or "")
        if seen and (seen.sent or (seen.first_sending is not None and seen.first_sending < job.id)):
            held.append((job, INVITED_RECENTLY))
        else:
            send.append(job)
    return Screened(send, held)


def note_bounce(store: Store, job: Job, code: str | None, *, now: datetime) -> bool:
    """Put the address of a job refused as unknown on the list (``bounced``); whether it was added."""
    return bool(job.address_key and bounced(code) and store.suppressions.add(job.address_key, BOUNCED, now=now))
