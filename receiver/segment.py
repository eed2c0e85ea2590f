"""Segment messages: shapes, casing and envelopes, turned into one plain ``Message``.

The casing rule is decided once: every key is folded to snake_case (``orderId``, ``OrderID``,
``ORDER_ID`` and ``order-id`` all become ``order_id``), everywhere but inside ``integrations``,
whose keys are destination names. A known field is then found by ``lookup``, which compares keys without case
or any separator (``E-Mail``, ``eMail`` and ``e_mail`` are one key) and knows its aliases (``EMAIL_KEYS``,
``SKU_KEYS``); event names compare the same way (``is_order``).

Longer than 300 lines on purpose: Segment's shapes (the schema, envelopes, casing, key aliases, routing,
audience events) change together when Segment changes; split by kind they would import each other.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from marshmallow import EXCLUDE, Schema, ValidationError, fields, pre_load, validate

from .text import has_uncarriable, is_absent, parse_locale

CALL_TYPES = ("track", "identify", "page", "screen", "group", "alias")
ORDER_EVENTS = ("Order Completed", "Completed Order")  # spec v2, and spec v1 (Segment's Magento extension)
EMAIL_KEYS = ("email", "e_mail", "email_address")  # in this order; any casing and separators
SKU_KEYS = ("sku", "product_id", "id")
DELETE = "delete"  # Segment's user-deletion notice, as Webhooks (Classic) forwards it
KNOWN_TYPES = (*CALL_TYPES, DELETE)
DESTINATION = "Trustpilot"  # our name in a message's ``integrations``

_ACRONYM_WORD = re.compile(r"([A-Z]+)([A-Z][a-z])")
_WORD_BOUNDARY = re.compile(r"([a-z0-9])([A-Z])")
_SEPARATORS = re.compile(r"[\s\-.]+")
_ANY_SEPARATOR = re.compile(r"[\s_\-.]+")
_MAX_DEPTH = 32
# The span of order times read at all: what both databases store, with room for the delay arithmetic
# (``timestamp`` + ``INVITATION_DELAY`` up to its ten years) inside Python's ``datetime``; a timestamp outside it is
# read as unreadable (the receipt time stands in).
EARLIEST_TIMESTAMP = datetime(1, 1, 2, tzinfo=UTC)
LATEST_TIMESTAMP = datetime(9980, 1, 1, tzinfo=UTC)


class MessageProblem(ValueError):
    """A message we cannot read; ``str()`` is the client-facing reason."""


class DuplicateKey(ValueError):
    """An object in the JSON names one key twice: parsers disagree on which value wins, so it is refused."""


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        raise DuplicateKey("The JSON has a duplicate key")
    return result


def loads(text: str) -> Any:
    """``json.loads`` as ``POST /segment`` and the console's preview read a body: duplicate keys refused
    (``DuplicateKey``); otherwise ``ValueError`` or ``RecursionError`` as ``json.loads`` raises them."""
    return json.loads(text, object_pairs_hook=_no_duplicate_keys)


@lru_cache(maxsize=8192)  # the same few hundred keys come in every message of a batch
def snake_key(key: str) -> str:
    """``orderId`` / ``OrderID`` / ``ORDER_ID`` / ``order-id`` -> ``order_id``."""
    key = _ACRONYM_WORD.sub(r"\1_\2", key.strip())
    key = _WORD_BOUNDARY.sub(r"\1_\2", key)
    return _SEPARATORS.sub("_", key).lower()


def normalise_keys(value: Any, depth: int = 0) -> Any:
    """A copy of ``value`` with every dict key in snake_case (``integrations`` left as sent).

    Where two spellings of one key meet in one object, the first one sent wins.
    """
    if depth > _MAX_DEPTH:
        raise MessageProblem("The message is nested too deeply")
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, item in value.items():
            name = snake_key(key) if isinstance(key, str) else key
            if name in out:
                continue
            out[name] = item if name == "integrations" else normalise_keys(item, depth + 1)
        return out
    if isinstance(value, list):
        return [normalise_keys(item, depth + 1) for item in value]
    return value


def event_key(name: str) -> str:
    """Event names compared loosely: ``Order Completed``, ``order_completed`` -> ``order completed``."""
    return " ".join(re.split(r"[\s_]+", name.strip().lower()))


@lru_cache(maxsize=8192)
def squash(text: str) -> str:
    """``Order Completed``, ``order_completed``, ``OrderCompleted``, ``order.completed`` -> ``ordercompleted``;
    ``E-Mail``, ``e_mail`` -> ``email``: names and keys compared without case or any separator."""
    return _ANY_SEPARATOR.sub("", text).lower()


def is_order(message: Message, names: Iterable[str] = ORDER_EVENTS) -> bool:
    """A track event named one of ``names`` (``ORDER_EVENTS``), in any casing and with any separators."""
    return (message.type == "track" and message.event is not None
            and squash(message.event) in {squash(name) for name in names})


@lru_cache(maxsize=1024)
def _ranks(names: tuple[str, ...]) -> dict[str, int]:
    """Each of ``names`` squashed, with its place in the order they are tried (two that squash alike: the first)."""
    ranks: dict[str, int] = {}
    for name in names:
        ranks.setdefault(squash(name), len(ranks))
    return ranks


def _first(item: tuple[int, str, Any]) -> int:
    return item[0]


def lookup(source: Mapping[str, Any], names: Iterable[str], *, keep_null: bool = False) -> tuple[str, Any] | None:
    """The first value in ``source`` under one of ``names``, tried in their order, keys compared without case or
    separators; with the key it was under. A value that says nothing (``text.is_absent``: null, blank,
    ``undefined``, ``n/a``...) is skipped, so the next name is tried. None when no name has a value, or with
    ``keep_null`` the first explicit null, when there is one (an identify's null clears a stored trait)."""
    ranks = _ranks(names if isinstance(names, tuple) else tuple(names))
    ranked = []
    for key, value in source.items():  # one pass, each key squashed once (cached): called a score of times a message
        rank = ranks.get(squash(key)) if isinstance(key, str) else None
        if rank is not None:
            ranked.append((rank, key, value))
    ranked.sort(key=_first)  # stable: within one name, the keys in the order sent
    found = [(key, value) for _, key, value in ranked]
    given = next((hit for hit in found if not is_absent(hit[1])), None)
    if given is None and keep_null:
        return next((hit for hit in found if hit[1] is None), None)
    return given


def lookup_each(source: Mapping[str, Any], names: tuple[str, ...]) -> dict[str, tuple[str, Any]]:
    """``lookup(source, (name,))`` for each of ``names``, in one pass over ``source``: each name that has a value,
    with its hit (a name's several keys tried in the order sent, a value that says nothing skipped)."""
    ranks = _ranks(names)
    hits: dict[str, tuple[str, Any]] = {}
    for key, value in source.items():
        if isinstance(key, str) and (squashed := squash(key)) in ranks and squashed not in hits \
                and not is_absent(value):
            hits[squashed] = (key, value)
    return {name: hits[squashed] for name in names if (squashed := squash(name)) in hits}


def _message_id_for(raw: dict[str, Any]) -> str:
    """A stable id for a message that came without one: the same body always gets the same id."""
    canonical = json.dumps(raw, sort_keys=True, separators=(",", ":"), default=str)
    return "sha256:" + hashlib.sha256(canonical.encode("utf-8")).hexdigest()


class _ContextSchema(Schema):
    class Meta:
        unknown = EXCLUDE

    # Cosmetic to us: an odd value is dropped rather than costing the customer an invitation.
    traits = fields.Raw(load_default=dict)
    locale = fields.Raw(load_default=None, allow_none=True)
    personas = fields.Raw(load_default=dict)  # Engage's: which audience or journey sent the message


class MessageSchema(Schema):
    """One Segment message, after key normalisation. Unknown fields are kept out of the result."""

    class Meta:
        unknown = EXCLUDE

    # Any type is read (one we do not use is ignored, not refused: Webhooks retry every 5xx); none is a problem.
    type = fields.String(
        required=True,
        validate=validate.Length(min=1, error="Missing message type"),
        error_messages={"required": "Missing message type", "invalid": "Invalid message type"},
    )
    message_id = fields.String(
        load_default=None, allow_none=True, validate=validate.Length(max=255),
        error_messages={"invalid": "Invalid messageId"},
    )
    event = fields.String(load_default=None, allow_none=True, error_messages={"invalid": "Invalid event"})
    user_id = fields.Raw(load_default=None, allow_none=True)
    anonymous_id = fields.Raw(load_default=None, allow_none=True)
    timestamp = fields.Raw(load_default=None, allow_none=True)
    properties = fields.Dict(load_default=dict, error_messages={"invalid": "Invalid properties"})
    traits = fields.Dict(load_default=dict, error_messages={"invalid": "Invalid traits"})
    context = fields.Nested(_ContextSchema, load_default=dict, error_messages={"type": "Invalid context"})

    @pre_load
    def _lowercase_type(self, data: dict[str, Any], **_: Any) -> dict[str, Any]:
        if isinstance(data.get("type"), str):
            data = {**data, "type": data["type"].strip().lower()}
        if data.get("properties") is None:
            data = {**data, "properties": {}}
        return data


_SCHEMA = MessageSchema()


@dataclass(frozen=True)
class Message:
    type: str
    message_id: str
    event: str | None = None
    user_id: str | None = None
    anonymous_id: str | None = None
    timestamp: datetime | None = None
    properties: dict[str, Any] = field(default_factory=dict)
    traits: dict[str, Any] = field(default_factory=dict)
    context_traits: dict[str, Any] = field(default_factory=dict)
    locale: str | None = None
    integrations: dict[str, Any] = field(default_factory=dict)
    personas: dict[str, Any] = field(default_factory=dict)

    @property
    def type_label(self) -> str:
        """The call type as metrics count it: one of ``KNOWN_TYPES``, else ``other`` (no label from the client)."""
        return self.type if self.type in KNOWN_TYPES else "other"

    @property
    def is_order_completed(self) -> bool:
        """An order event by the default ``ORDER_EVENTS`` (intake asks ``is_order`` with the configured ones)."""
        return is_order(self)


def _first_error(errors: Any) -> str:
    """The first human message in marshmallow's nested error dict."""
    while isinstance(errors, dict):
        errors = next(iter(errors.values()))
    if isinstance(errors, list):
        return _first_error(errors[0]) if errors else "Invalid message"
    return str(errors)


def parse_timestamp(value: Any) -> datetime | None:
    """An ISO-8601 timestamp as an aware UTC datetime; None when absent or unreadable.

    An unreadable timestamp does not cost the customer an invitation: the receipt time stands in.
    """
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        moment = datetime.fromisoformat(value.strip())
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        moment = moment.astimezone(UTC)  # OverflowError at the ends of the calendar (9999-12-31T23:59:59-14:00)
    except (ValueError, OverflowError):
        return None
    return moment if EARLIEST_TIMESTAMP <= moment <= LATEST_TIMESTAMP else None


def _optional_id(value: Any, name: str) -> str | None:
    if value is None or isinstance(value, bool) or isinstance(value, dict | list):
        return None
    text = str(value).strip()
    return _carriable(text, name) or None


def _carriable(text: str, name: str) -> str:
    """``text``, unless it holds what no store or sender can carry (NUL, a lone surrogate): then the message is
    refused, the field named."""
    if has_uncarriable(text):
        raise MessageProblem(f"Invalid {name}: it holds NUL or a lone surrogate")
    return text


def parse_message(raw: Any) -> Message:
    """One Segment message (a decoded JSON value) -> ``Message``; ``MessageProblem`` says why not."""
    if not isinstance(raw, dict):
        raise MessageProblem("A message must be a JSON object")
    normal = normalise_keys(raw)
    try:
        data = _SCHEMA.load(normal)
    except ValidationError as exc:
        raise MessageProblem(_first_error(exc.messages)) from None
    integrations = normal.get("integrations")
    context = data["context"]
    message_id = _carriable((data["message_id"] or "").strip(), "messageId") or _message_id_for(raw)
    return Message(
        type=data["type"],
        message_id=message_id,
        event=data["event"],
        user_id=_optional_id(data["user_id"], "userId"),
        anonymous_id=_optional_id(data["anonymous_id"], "anonymousId"),
        timestamp=parse_timestamp(data["timestamp"]),
        properties=data["properties"],
        traits=data["traits"],
        context_traits=context["traits"] if isinstance(context.get("traits"), dict) else {},
        locale=parse_locale(context.get("locale")),
        integrations=integrations if isinstance(integrations, dict) else {},
        personas=context["personas"] if isinstance(context.get("personas"), dict) else {},
    )


# -- Engage ------------------------------------------------------------------------------------------

AUDIENCE_EVENTS = {"audience entered": True, "audience exited": False}


def as_flag(value: Any) -> bool | None:
    """A trait's yes or no: ``true``/``false``, or the strings ``"true"``/``"false"`` (any case); else None."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    return None


def audience_change(message: Message) -> tuple[str, bool] | None:
    """What an Engage ``Audience Entered`` / ``Audience Exited`` track event says: (the audience's trait name in
    snake_case, whether the customer is in it); None for any other message.

    The audience is ``properties.audience_key``, else (a Journeys step, which names none) the
    ``context.personas.computation_key`` that the properties carry. Membership is ``properties.<audience_key>``
    (a boolean, or the string ``"true"``/``"false"``), else what the event's name says.
    """
    if message.type != "track" or message.event is None:
        return None
    entered = AUDIENCE_EVENTS.get(event_key(message.event))
    if entered is None:
        return None
    properties = message.properties
    key = properties.get("audience_key")
    if not isinstance(key, str) or not key.strip():
        computed = message.personas.get("computation_key")
        key = computed if isinstance(computed, str) and snake_key(computed) in properties else None
    if key is None or not key.strip():
        return None
    name = snake_key(key)
    member = as_flag(properties.get(name))
    return name, entered if member is None else member


# -- envelopes and routing -------------------------------------------------------------------------

def messages_in(body: Any) -> tuple[list[Any], bool]:
    """The messages in a request body, and whether it was a batch.

    One message (an object with ``type``), a JSON array of messages (Webhooks (Actions) batches), or
    ``{"batch": [...]}`` (the Tracking API's ``/v1/batch``, with ``sentAt``, ``writeKey`` and, optionally,
    ``context`` and ``integrations`` that apply to every message; a message's own keys win).
    ``MessageProblem`` when the body is none of these.
    """
    if isinstance(body, list):
        return body, True
    if isinstance(body, dict) and "type" not in body and isinstance(body.get("batch"), list):
        shared = {key: body[key] for key in ("context", "integrations") if isinstance(body.get(key), dict)}
        return [_with_shared(message, shared) for message in body["batch"]], True
    if isinstance(body, dict):
        return [body], False
    raise MessageProblem("The body must be a JSON object (one message) or an array of messages")


def _with_shared(message: Any, shared: dict[str, dict[str, Any]]) -> Any:
    if not shared or not isinstance(message, dict):
        return message
    merged = dict(message)
    for key, values in shared.items():
        own = merged.get(key)
        merged[key] = {**values, **own} if isinstance(own, dict) else (own if key in merged else dict(values))
    return merged


def with_call_type(raw: Any, call: str) -> Any:
    """A message posted to ``/v1/<call>``: the path says its type, whatever (or if) the body says."""
    if not isinstance(raw, dict):
        return raw
    return {**{key: value for key, value in raw.items() if snake_key(str(key)) != "type"}, "type": call}


def routed_to_us(integrations: dict[str, Any], names: Iterable[str] = (DESTINATION,), *, as_api: bool = False) -> bool:
    """Whether a message whose ``integrations`` object is this one is for us (``names``: ours, any case).

    Delivered by Segment (``/segment``), the message was routed to us already: only an explicit
    ``{"<one of names>": false}`` turns it away (``{"All": false}`` alone does not, which is how Engage sends).
    Standing in for Segment's own API (``as_api``: ``/v1/*``), the whole routing rule applies, as Segment reads
    it: an explicit false for one of our names turns it away, an explicit true (or an object of settings) lets
    it through, and otherwise ``All`` decides (true when absent).
    """
    flags = {str(name).strip().lower(): _switched_on(value) for name, value in integrations.items() if value is not None}
    ours = [flags[name] for name in {name.strip().lower() for name in names} if name in flags]
    if not all(ours):
        return False
    if not as_api:
        return True
    return bool(ours) or flags.get("all", True)


def _switched_on(value: Any) -> bool:
    return isinstance(value, dict) or bool(value)
