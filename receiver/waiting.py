"""Orders that wait for their email, settled by the worker (issue 13 §4).

A shop that calls ``identify()`` then ``track("Order Completed")`` without an email in the order sends them in
separate, concurrent requests; when the order is read first, intake stores it ``waiting`` (up to ``EMAIL_WAIT``).
Before each batch the worker looks at the waiting orders whose customer's stored traits changed, or whose wait is
over, and settles each by the rules of intake: the same traits (``intake.customer_traits``: they never cross
customers), the same email and name precedence (``invitation.completed``), suppression checked again. An order
that has its email becomes ``pending`` and is sent like any other; one whose wait ran out is ``dead`` with
``Missing email address``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from . import metrics
from .clock import utcnow
from .config import TrustpilotSettings
from .customers import customer_traits, identities, rules_of
from .invitation import MISSING_EMAIL, MissingEmail, Rejected, Rules, completed, first_true
from .store import Store, WaitingOrder

log = logging.getLogger("receiver.worker")


@dataclass
class Settled:
    """How many waiting orders one look settled, by how."""

    resolved: int = 0  # got their email: now pending
    suppressed: int = 0  # their customer is in a SUPPRESS_AUDIENCES audience now
    dead: int = 0  # waited out (or an invalid stored email): never sent

    @property
    def total(self) -> int:
        return self.resolved + self.suppressed + self.dead


class Waiting:
    def __init__(self, store: Store, rules: Rules, *, clock: Callable[[], datetime] = utcnow):
        self.store = store
        self.rules = rules
        self.clock = clock

    @classmethod
    def from_settings(cls, store: Store, settings: TrustpilotSettings, **options: Callable[[], datetime]) -> Waiting:
        return cls(store, rules_of(settings), **options)

    def settle(self, *, limit: int) -> Settled:
        """Look at up to ``limit`` waiting orders worth a look now, and settle those that can be settled."""
        now = self.clock()
        orders = self.store.waiting.worth_a_look(now=now, limit=limit)
        settled = Settled()
        if not orders:
            return settled
        wanted = [identity for order in orders for identity in identities(order.user_id, order.anonymous_id)]
        recalled = self.store.traits.recalled(wanted)
        unsettled = []
        for order in orders:
            outcome = self._settle(order, customer_traits(order.user_id, order.anonymous_id, recalled), now)
            if outcome is None:
                unsettled.append(order)
            else:
                setattr(settled, outcome, getattr(settled, outcome) + 1)
                metrics.WAITING_ORDERS.labels(outcome).inc()
        self.store.waiting.recheck_later(unsettled, now=now)
        return settled

    def _settle(self, order: WaitingOrder, known: dict[str, object], now: datetime) -> str | None:
        """What became of one order ("resolved", "suppressed", "dead"), or None: it waits on."""
        audience = first_true(self.rules.suppress, known)
        if audience:
            done = self.store.waiting.suppress(order, now=now, reason=f"suppressed: {audience}")
            log.info("waiting invitation %s suppressed: the customer is in %s", order.id, audience)
            return "suppressed" if done else None
        try:
            invitation = completed(order.invitation, known, self.rules)
        except MissingEmail:
            if order.wait_until > now:
                return None
            done = self.store.waiting.give_up(order, now=now, error=MISSING_EMAIL)
            log.info("waiting invitation %s is dead: no email within EMAIL_WAIT", order.id)
            return "dead" if done else None
        except Rejected as reason:
            done = self.store.waiting.give_up(order, now=now, error=str(reason))
            log.info("waiting invitation %s is dead: %s", order.id, reason)
            return "dead" if done else None
        key = self.store.address_key(invitation.email)
        listed = self.store.suppressions.reason_for([key] if key else [])
        if key in listed:  # the address it now has is on the suppression list
            done = self.store.waiting.suppress(order, now=now, reason=listed[key])
            log.info("waiting invitation %s suppressed: its address is on the suppression list (%s)", order.id,
                     listed[key])
            return "suppressed" if done else None
        done = self.store.waiting.resolve(order, invitation, now=now)
        log.info("waiting invitation %s has its email from the stored traits: pending", order.id)
        return "resolved" if done else None
