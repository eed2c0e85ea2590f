"""Intake: decoded Segment messages -> verdicts, with the accepted invitations stored in one transaction.

No HTTP here: the web layer decodes the request and turns verdicts into a response; ``receiver replay``
goes through the web layer too, so both take exactly this path.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from .config import Settings
from .invitation import Invitation, Rejected, Rules, invitation_from
from .segment import MessageProblem, parse_message
from .store import Store

ACCEPTED, DUPLICATE, IGNORED, REJECTED, UNSUPPORTED = "accepted", "duplicate", "ignored", "rejected", "unsupported"


@dataclass(frozen=True)
class Verdict:
    outcome: str
    message: str
    message_id: str | None = None

    def as_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"status": self.outcome, "message": self.message}
        if self.message_id:
            body["messageId"] = self.message_id
        if self.outcome == DUPLICATE:
            body["duplicate"] = True
        return body


def _message_id_of(raw: Any) -> str | None:
    if isinstance(raw, dict):
        for key in ("messageId", "message_id", "MessageId", "messageID"):
            if isinstance(raw.get(key), str):
                return raw[key][:255]
    return None


class Intake:
    def __init__(self, settings: Settings, store: Store, clock: Callable[[], datetime]):
        self.settings = settings
        self.store = store
        self.clock = clock
        self.rules = Rules(tags=settings.tags, default_name=settings.default_name)

    def classify(self, raw: Any) -> Invitation | Verdict:
        """An invitation to store, or the verdict for a message that makes none."""
        try:
            message = parse_message(raw)
        except MessageProblem as problem:
            return Verdict(REJECTED, str(problem), _message_id_of(raw))
        if message.type in ("page", "screen", "group", "alias"):
            return Verdict(UNSUPPORTED, f"Unsupported message type: {message.type}", message.message_id)
        if message.type != "track":
            return Verdict(IGNORED, f"Ignored: {message.type} calls make no invitation", message.message_id)
        if not message.is_order_completed:
            return Verdict(IGNORED, "Ignored: only Order Completed events make invitations", message.message_id)
        try:
            return invitation_from(message, self.rules)
        except Rejected as reason:
            return Verdict(REJECTED, str(reason), message.message_id)

    def due_at(self, invitation: Invitation, now: datetime) -> datetime:
        """The order's own time plus ``INVITATION_DELAY`` (never in the past)."""
        if not self.settings.invitation_delay:
            return now
        return max(now, (invitation.ordered_at or now) + timedelta(seconds=self.settings.invitation_delay))

    def process(self, messages: Sequence[Any]) -> list[Verdict]:
        """One verdict per message, in order; the accepted ones are stored before this returns."""
        classified = [self.classify(raw) for raw in messages]
        fresh = [item for item in classified if isinstance(item, Invitation)]
        now = self.clock()
        stored = iter(self.store.add(
            fresh, domain=self.settings.domain, now=now,
            due_at=[self.due_at(item, now) for item in fresh],
            order_keys=[item.ref if self.settings.dedupe_orders else f"message:{item.message_id}" for item in fresh],
        ))
        verdicts = []
        for item in classified:
            if isinstance(item, Verdict):
                verdicts.append(item)
            elif next(stored):
                verdicts.append(Verdict(ACCEPTED, "Invitation stored", item.message_id))
            else:
                verdicts.append(Verdict(DUPLICATE, "Duplicate: this message or order is already stored",
                                        item.message_id))
        return verdicts
