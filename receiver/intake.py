"""Intake: decoded Segment messages -> verdicts, with the accepted invitations stored in one transaction.

No HTTP here: the web layer decodes the request and turns verdicts into a response; ``receiver replay``
goes through the web layer too, so both take exactly this path.

A batch is handled in three steps, whatever its size: the traits of its ``identify`` calls are
merged into the stored ones (one transaction), the stored traits of the customers of its orders are
read (one query), then its invitations are stored (one transaction).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from .config import TrustpilotSettings
from .consent import delete_user, note_suppressed_order, sync_audiences
from .customers import customer_traits, identities, rules_of
from .invitation import NOTE, Invitation, Rejected, invitation_and_sources, needs_stored_traits, suppressed_by
from .segment import (
    DELETE,
    EMAIL_KEYS,
    KNOWN_TYPES,
    Message,
    MessageProblem,
    audience_change,
    is_order,
    lookup,
    parse_message,
    routed_to_us,
)
from .setting_types import human_duration
from .store import PENDING, SUPPRESSED, WAITING, NewInvitation, Store, StoredTrait, TraitUpdate
from .text import has_uncarriable, uncarriable_in

ACCEPTED, DUPLICATE, IGNORED, REJECTED = "accepted", "duplicate", "ignored", "rejected"
SUPPRESSED_VERDICT = SUPPRESSED  # "suppressed": an order of a customer in a SUPPRESS_AUDIENCES audience
WAITING_VERDICT = WAITING  # "waiting": an order stored without an email, waiting for an identify call to give one
OUTCOMES = (ACCEPTED, WAITING_VERDICT, DUPLICATE, SUPPRESSED_VERDICT, IGNORED, REJECTED)
DELETION_WITHOUT_USER = "Ignored: a user-deletion request without a userId names no one to erase"
DELETION_PREVIEW = "Would erase this user's stored data and suppress its addresses (a preview changes nothing)"

# The traits an order may need from an earlier identify call; only these (and the SUPPRESS_AUDIENCES
# traits) are stored, so that the receiver keeps no more personal data than it uses.
CUSTOMER_TRAITS = ("email", "name", "surname", "first_name", "last_name")
TRAIT_KEYS = {"email": EMAIL_KEYS}  # a trait's other spellings; each stored under its own name
MAX_TRAIT = 1000
ROUTED_ELSEWHERE = "Ignored: its integrations turn this destination off (DESTINATION_NAMES)"


@dataclass(frozen=True)
class Verdict:
    outcome: str
    message: str
    message_id: str | None = None
    call_type: str = "unknown"  # for metrics: the Segment call type, when the message was readable

    def as_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"status": self.outcome, "message": self.message}
        if self.message_id:
            body["messageId"] = self.message_id
        if self.outcome == DUPLICATE:
            body["duplicate"] = True
        return body


@dataclass(frozen=True)
class Preview:
    """What ``process`` would do with one message, with nothing stored: the verdict and, when the message
    makes an invitation, the invitation and where each of its fields came from."""

    verdict: Verdict
    invitation: Invitation | None = None
    sources: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class _ToStore:
    invitation: Invitation
    audience: str | None = None  # the SUPPRESS_AUDIENCES trait that suppresses it
    sources: Mapping[str, str] = field(default_factory=dict, compare=False)  # field -> where its value came from

    @property
    def state(self) -> str:
        return SUPPRESSED if self.audience else WAITING if not self.invitation.email else PENDING

    @property
    def reason(self) -> str | None:
        """Stored as the row's ``last_error``: the trait's name, nothing about the customer."""
        return f"suppressed: {self.audience}" if self.audience else None


def _message_id_of(raw: Any) -> str | None:
    if isinstance(raw, dict):
        for key in ("messageId", "message_id", "MessageId", "messageID"):
            if isinstance(raw.get(key), str) and not has_uncarriable(raw[key]):
                return raw[key][:255]
    return None


def _storable(value: Any) -> bool:
    """A trait value worth keeping: a JSON scalar, and no essay."""
    return value is None or isinstance(value, bool | int | float) or (isinstance(value, str) and len(value) <= MAX_TRAIT)


def _identities(message: Message) -> list[str]:
    return identities(message.user_id, message.anonymous_id)


def waiting_message(seconds: float) -> str:
    return f"Waiting up to {human_duration(seconds)} for the customer's email from an identify call"


class Intake:
    def __init__(self, settings: TrustpilotSettings, store: Store, clock: Callable[[], datetime]):
        self.settings = settings
        self.store = store
        self.clock = clock
        self.rules = rules_of(settings)
        self.kept_traits = tuple(dict.fromkeys((*CUSTOMER_TRAITS, *self.rules.suppress)))

    def parse(self, raw: Any, *, as_api: bool = False) -> Message | Verdict:
        """The message, or the verdict for one that is unreadable or not meant for us (``as_api``: it came to
        ``/v1/*``, where Segment's whole routing rule applies; see ``segment.routed_to_us``)."""
        try:
            message = parse_message(raw)
        except MessageProblem as problem:
            return Verdict(REJECTED, str(problem), _message_id_of(raw))
        if not routed_to_us(message.integrations, self.settings.destination_names, as_api=as_api):
            return Verdict(IGNORED, ROUTED_ELSEWHERE, message.message_id)
        spoilt = next((name for name, value in self.remembered(message).items() if uncarriable_in(value)), None)
        if spoilt is not None:  # a trait we would store that no store can carry
            return Verdict(REJECTED, f"Invalid traits.{spoilt}: it holds NUL or a lone surrogate", message.message_id)
        return message

    def remembered(self, message: Message) -> dict[str, Any]:
        """The traits a message sets that we keep: an ``identify`` call's, or the audience trait of an Engage
        ``Audience Entered`` / ``Audience Exited`` event (the same trait Engage's identify would set)."""
        if message.type == "identify":
            kept = {}
            for name in self.kept_traits:  # an explicit null is kept: it clears what was stored
                found = lookup(message.traits, TRAIT_KEYS.get(name, (name,)), keep_null=True)
                if found is not None and _storable(found[1]):
                    kept[name] = found[1]
            return kept
        change = audience_change(message)
        if change is not None and change[0] in self.kept_traits:
            return {change[0]: change[1]}
        return {}

    def trait_updates(self, message: Message, now: datetime) -> list[TraitUpdate]:
        """What a message tells us to remember (``remembered``), under each of its ids."""
        kept = self.remembered(message)
        if not kept:
            return []
        observed = min(message.timestamp or now, now)  # a clock ahead of ours must not pin a value
        return [TraitUpdate(identity, kept, observed, message.user_id) for identity in _identities(message)]

    def classify(self, item: Message | Verdict, stored: Mapping[str, Mapping[str, StoredTrait]]) -> _ToStore | Verdict:
        """An invitation to store (maybe as suppressed), or the verdict for a message that makes none."""
        if isinstance(item, Verdict):
            return item
        message = item
        if message.type == DELETE:
            if not message.user_id:
                return Verdict(IGNORED, DELETION_WITHOUT_USER, message.message_id)
            return Verdict(ACCEPTED, DELETION_PREVIEW, message.message_id)
        if message.type not in ("track", "identify"):
            calls = f"{message.type} calls" if message.type in KNOWN_TYPES else "calls of this type"  # no client text
            return Verdict(IGNORED, f"Ignored: {calls} make no invitation", message.message_id)
        if message.type == "identify":
            noted = "traits noted, " if self.remembered(message) else ""
            return Verdict(IGNORED, f"Ignored: {noted}identify calls make no invitation", message.message_id)
        if audience_change(message) is not None:
            noted = "audience noted, " if self.remembered(message) else ""
            return Verdict(IGNORED, f"Ignored: {noted}audience events make no invitation", message.message_id)
        if not is_order(message, self.rules.order_events):
            return Verdict(IGNORED, "Ignored: only Order Completed events make invitations (ORDER_EVENTS)",
                           message.message_id)
        known = customer_traits(message.user_id, message.anonymous_id, stored)
        try:
            invitation, sources = invitation_and_sources(message, self.rules, known_traits=known,
                                                         may_wait=self.may_wait(message))
        except Rejected as reason:
            return Verdict(REJECTED, str(reason), message.message_id)
        return _ToStore(invitation, suppressed_by(message, self.rules.suppress, known), sources)

    def may_wait(self, message: Message) -> bool:
        """An order without an email waits for one (``EMAIL_WAIT``) when an identify call could give it one."""
        return bool(self.settings.email_wait and (message.user_id or message.anonymous_id))

    def _stored_verdict(self, item: _ToStore) -> Verdict:
        if item.audience:
            return Verdict(SUPPRESSED_VERDICT, f"Suppressed: the customer is in {item.audience}",
                           item.invitation.message_id)
        if item.state == WAITING:
            return Verdict(WAITING_VERDICT, waiting_message(self.settings.email_wait), item.invitation.message_id)
        note = item.sources.get(NOTE)
        return Verdict(ACCEPTED, f"Invitation stored ({note})" if note else "Invitation stored", item.invitation.message_id)

    def preview(self, raw: Any) -> Preview:
        """``process`` for one message without writing anything: stored traits are read, nothing is stored.

        A message whose ``messageId`` or order is stored already gets the verdict ``duplicate``, as the endpoint
        would answer, and still shows the invitation it would make.
        """
        item = self.parse(raw)
        stored: Mapping[str, Mapping[str, StoredTrait]] = {}
        if isinstance(item, Message) and is_order(item, self.rules.order_events) and _identities(item):
            stored = self.store.traits.recalled(_identities(item))
        classified = self.classify(item, stored)
        call_type = item.type_label if isinstance(item, Message) else "unknown"
        if isinstance(classified, Verdict):
            return Preview(replace(classified, call_type=call_type))
        verdict = self._stored_verdict(classified)
        invitation = classified.invitation
        held_by = self.store.outbox.holder(message_id=invitation.message_id, domain=self.settings.domain,
                                           order_key=self.order_key(invitation))
        if held_by is not None:
            verdict = Verdict(DUPLICATE, f"Duplicate: invitation #{held_by} already holds this message or order, so "
                                         "nothing would be stored; shown is what this message would make",
                              invitation.message_id)
        elif verdict.outcome == ACCEPTED:
            verdict = replace(verdict, message="Would be stored as an invitation (a preview stores nothing)")
        if not invitation.email:  # waiting for its email (or suppressed before it had one): no link to show yet
            return Preview(replace(verdict, call_type=call_type))
        return Preview(replace(verdict, call_type=call_type), classified.invitation, classified.sources)

    def order_key(self, invitation: Invitation) -> str:
        """What makes a second order the same order: its ref (``DEDUPE_ORDERS``, the default), else its message."""
        return invitation.ref if self.settings.dedupe_orders else f"message:{invitation.message_id}"

    def due_at(self, invitation: Invitation, now: datetime) -> datetime:
        """The order's own time plus ``INVITATION_DELAY`` (never in the past)."""
        if not self.settings.invitation_delay:
            return now
        return max(now, (invitation.ordered_at or now) + timedelta(seconds=self.settings.invitation_delay))

    def new_row(self, item: _ToStore, now: datetime) -> NewInvitation:
        waits = item.state == WAITING
        return NewInvitation(item.invitation, order_key=self.order_key(item.invitation), state=item.state,
                             due_at=self.due_at(item.invitation, now), reason=item.reason,
                             wait_until=now + timedelta(seconds=self.settings.email_wait) if waits else None)

    def _deleted(self, item: Message | Verdict, verdict: Verdict, now: datetime) -> Verdict:
        """A user-deletion request's verdict once it is done (the batch's own orders and traits stored first)."""
        if not (isinstance(item, Message) and item.type == DELETE and item.user_id and verdict.outcome == ACCEPTED):
            return verdict
        done = delete_user(self.store, item.user_id, now=now)
        return replace(verdict, message=f"User deleted: erased from {len(done.invitations)} invitation(s) and the "
                                        f"stored traits of {done.identities} customer id(s); its addresses suppressed")

    def process(self, messages: Sequence[Any], *, as_api: bool = False) -> list[Verdict]:
        """One verdict per message, in order; traits and accepted invitations are stored before this returns.

        ``as_api``: the messages came to ``/v1/*`` (Segment's own API, which routes by ``integrations``)."""
        now = self.clock()
        parsed = [self.parse(raw, as_api=as_api) for raw in messages]
        readable = [item for item in parsed if isinstance(item, Message)]
        updates = [update for message in readable for update in self.trait_updates(message, now)]
        if updates:
            self.store.traits.remember(updates, now=now)
            sync_audiences(self.store, updates, self.rules.suppress, now=now)
        wanted = [identity for message in readable
                  if is_order(message, self.rules.order_events) and needs_stored_traits(message, self.rules)
                  for identity in _identities(message)]
        stored = self.store.traits.recalled(wanted) if wanted else {}
        classified = [self.classify(item, stored) for item in parsed]
        fresh = [item for item in classified if isinstance(item, _ToStore)]
        added = iter(self.store.outbox.add([self.new_row(item, now) for item in fresh], domain=self.settings.domain,
                                           now=now))
        verdicts = []
        for item in classified:
            if isinstance(item, Verdict):
                verdicts.append(item)
            elif (stored := next(added)) is None:
                verdicts.append(Verdict(REJECTED, "Rejected: the database refused this message's invitation",
                                        item.invitation.message_id))
            elif not stored:
                verdicts.append(Verdict(DUPLICATE, "Duplicate: this message or order is already stored",
                                        item.invitation.message_id))
            else:
                verdicts.append(self._stored_verdict(item))
                if item.audience and item.invitation.email:
                    note_suppressed_order(self.store, item.invitation, item.audience, now=now)
        verdicts = [self._deleted(item, verdict, now) for item, verdict in zip(parsed, verdicts, strict=True)]
        return [replace(verdict, call_type=item.type_label) if isinstance(item, Message) else verdict
                for verdict, item in zip(verdicts, parsed, strict=True)]
