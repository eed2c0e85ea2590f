"""Business rules: one ``Order Completed`` message -> one invitation, or a clear reason why not.

Pure: takes a parsed ``Message`` and plain settings, returns plain values.

Longer than 300 lines on purpose: every rule that turns a message into an invitation (ref, email, name,
SKUs, tags, suppression, the sources shown by the preview) is here, so that a rule and its exceptions are read together.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from .segment import EMAIL_KEYS, ORDER_EVENTS, SKU_KEYS, Message, lookup, lookup_each
from .text import (
    MAX_TAG,
    clean_text,
    has_letter,
    has_uncarriable,
    normal_ref,
    parse_locale,
    sanitise_tag,
    unique,
    valid_email,
)

MAX_NAME = 200
MAX_REF = 200
MAX_SKU = 200
MAX_SKUS = 100  # SKUs per invitation (MAX_SKUS): the link carries them all
NOTE = "note"  # the key in an invitation's sources of what was left out of it, for its verdict


class Rejected(ValueError):
    """The message cannot become an invitation; ``str()`` names the field, e.g. ``Missing email address``."""


class MissingEmail(Rejected):
    """No email anywhere (an order that may wait for one: see ``invitation_and_sources``)."""

    def __init__(self) -> None:
        super().__init__(MISSING_EMAIL)


MISSING_EMAIL = "Missing email address"
WAITING_FOR_EMAIL = "none yet: waiting for the customer's stored traits"


@dataclass(frozen=True)
class Rules:
    tags: tuple[str, ...] = ()
    default_name: str = "Customer"
    # Segment ``sku`` or ``product_id`` -> the SKU in the business's Trustpilot product catalogue (SKU_MAP).
    sku_map: Mapping[str, str] = field(default_factory=dict, hash=False)
    # Properties whose values become tags ``name:value`` (TAG_PROPERTIES), names in snake_case.
    tag_properties: tuple[str, ...] = ()
    # Trait names (snake_case) that, when true for the customer, mean: no invitation (SUPPRESS_AUDIENCES).
    suppress: tuple[str, ...] = ()
    # The track events that are orders (ORDER_EVENTS), compared in any casing and without separators.
    order_events: tuple[str, ...] = ORDER_EVENTS
    max_skus: int = MAX_SKUS  # SKUs per invitation; an order's further ones are dropped (MAX_SKUS)


@dataclass(frozen=True)
class Invitation:
    message_id: str
    email: str
    name: str
    ref: str
    skus: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    locale: str | None = None
    ordered_at: datetime | None = None
    user_id: str | None = None
    anonymous_id: str | None = None

    def payload(self) -> dict[str, Any]:
        return link_payload(self.email, self.name, self.ref, self.skus, self.tags)


def link_payload(email: str, name: str, ref: str, skus: Iterable[str] = (), tags: Iterable[str] = ()) -> dict[str, Any]:
    """The BGL plaintext: required fields, then ``skus`` and ``tags`` when there are any."""
    payload: dict[str, Any] = {"email": email, "name": name, "ref": ref}
    if skus:
        payload["skus"] = list(skus)
    if tags:
        payload["tags"] = list(tags)
    return payload


def order_ref(properties: Mapping[str, Any]) -> str:
    found = lookup(properties, ("order_id",))
    if found is None:
        raise Rejected("Missing order_id")
    value = found[1]
    if isinstance(value, bool | dict | list):
        raise Rejected("Invalid order_id")
    ref = clean_text(normal_ref(clean_text(value, 4 * MAX_REF)), MAX_REF + 1)  # the same order however it is spelt
    if not ref:
        raise Rejected("Missing order_id")
    if len(ref) > MAX_REF:
        raise Rejected("Invalid order_id: longer than 200 characters")
    return ref


def customer_email(*sources: Mapping[str, Any]) -> str:
    """The first email found in ``sources``, checked; ``Missing``/``Invalid email address`` otherwise."""
    return email_and_source([(str(index), source) for index, source in enumerate(sources)])[0]


def email_and_source(sources: Sequence[tuple[str, Mapping[str, Any]]]) -> tuple[str, str]:
    """``customer_email`` over named sources: the email and where it came from (``context.traits.email_address``).

    In each source, the keys of ``EMAIL_KEYS`` in any casing; a placeholder (``undefined``, ``n/a``...) counts as
    absent, so the next key and then the next source are tried; a value that is there and is no address rejects.
    """
    for label, source in sources:
        found = lookup(source, EMAIL_KEYS)
        if found is None:
            continue
        email = valid_email(found[1])
        if email is None:
            raise Rejected("Invalid email address")
        return email, f"{label}.{found[0]}"
    raise MissingEmail()


def _joined(*parts: Any) -> str:
    return clean_text(" ".join(clean_text(part, MAX_NAME) for part in parts), MAX_NAME)


def customer_name(properties: Mapping[str, Any], traits: Iterable[Mapping[str, Any]], default: str) -> str:
    """``first_name`` + ``last_name`` (or ``surname``), else ``name`` (+ ``surname``), else a lone first or last
    name, in the properties then each traits source."""
    named = [("properties", properties), *((str(index), source) for index, source in enumerate(traits))]
    return name_and_source(named, default)[0]


_NAME_KEYS = ("first_name", "last_name", "surname", "name")


def _name_part(found: tuple[str, Any] | None) -> tuple[str, str] | None:
    """(the key it was under, the text) of one part of a name; None when absent or a placeholder."""
    text = clean_text(found[1], MAX_NAME) if found else ""
    return (found[0], text) if found and text else None


def _name_candidates(source: Mapping[str, Any]) -> list[list[tuple[str, str]]]:
    """The ways one source names the customer, best first: ``first_name`` + ``last_name`` (or ``surname``) win
    over ``name`` (a WooCommerce ``name`` is the login), which wins over a lone first or last name."""
    parts = lookup_each(source, _NAME_KEYS)
    first = _name_part(parts.get("first_name"))
    surname = _name_part(parts.get("surname"))
    last = _name_part(parts.get("last_name")) or surname
    name = _name_part(parts.get("name"))
    candidates = []
    if first and last:
        candidates.append([first, last])
    if name:
        candidates.append([part for part in (name, surname) if part])
    if first or last:
        candidates.append([part for part in (first, last) if part])
    return candidates


def name_and_source(sources: Sequence[tuple[str, Mapping[str, Any]]], default: str) -> tuple[str, str]:
    """``customer_name`` over named sources: the name and where it came from (``DEFAULT_NAME`` when nowhere).

    A name without a letter in it (``#1002``, a Shopify order's name; ``12345``) names nobody: the next way, then
    the next source, is tried."""
    for label, source in sources:
        for parts in _name_candidates(source):
            name = _joined(*(text for _, text in parts))
            if has_letter(name):
                return name, " + ".join(f"{label}.{key}" for key, _ in parts)
    return default, "DEFAULT_NAME"


def product_skus(products: Any, sku_map: Mapping[str, str] | None = None) -> tuple[str, ...]:
    """Each product's SKU: the first of its ``sku``, ``product_id``, ``id`` (``SKU_KEYS``, placeholders skipped)
    that ``sku_map`` maps, as mapped; else the first of them there is."""
    if not isinstance(products, list):
        return ()
    sku_map = sku_map or {}
    skus = []
    for product in products:
        if isinstance(product, dict):
            candidates = [clean_text(found[1], MAX_SKU) for found in lookup_each(product, SKU_KEYS).values()]
            candidates = [candidate for candidate in candidates if candidate]
            mapped = next((sku_map[candidate] for candidate in candidates if candidate in sku_map), None)
            skus.append(mapped or (candidates[0] if candidates else ""))
    return unique(skus)


def property_tags(properties: Mapping[str, Any], names: Iterable[str]) -> list[str]:
    """``affiliation: "Google Store"`` -> ``affiliation:Google_Store`` for each name given; a list gives one tag each."""
    tags = []
    for name in names:
        value = properties.get(name)
        for item in value if isinstance(value, list) else [value]:
            text = clean_text(item, MAX_TAG)
            if text:
                tags.append(sanitise_tag(f"{name}:{text}"))
    return tags


def _is_true(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.strip().lower() == "true")


def suppressed_by(message: Message, names: Iterable[str], known_traits: Mapping[str, Any] | None = None) -> str | None:
    """The first of ``names`` (trait names, snake_case) that is true for the customer, in the event's
    traits or the stored ones; None if the customer may be invited."""
    return first_true(names, message.context_traits, message.traits, known_traits or {})


def first_true(names: Iterable[str], *sources: Mapping[str, Any]) -> str | None:
    """The first of ``names`` that is ``true`` (or ``"true"``) in any of ``sources``."""
    for name in names:
        if any(_is_true(source.get(name)) for source in sources):
            return name
    return None


def needs_stored_traits(message: Message, rules: Rules) -> bool:
    """Whether what earlier ``identify`` calls stored could change this order's invitation: it could only
    when ``SUPPRESS_AUDIENCES`` is set, or the order itself carries no email or no name. When False,
    ``invitation_from`` with or without ``known_traits`` gives the same answer, so intake skips the lookup."""
    if rules.suppress:
        return True
    present = [source for source in (message.properties, message.context_traits) if lookup(source, EMAIL_KEYS)]
    return not present or not customer_name(message.properties, (message.context_traits, message.traits), "")


def invitation_from(message: Message, rules: Rules, known_traits: Mapping[str, Any] | None = None) -> Invitation:
    """The invitation an ``Order Completed`` message asks for; ``Rejected`` names what is wrong.

    ``known_traits``: what earlier ``identify`` calls said about this customer (keys in snake_case),
    read after the properties and ``context.traits`` for the email and the name.
    """
    return invitation_and_sources(message, rules, known_traits)[0]


STORED_TRAITS = "stored traits"  # the label of ``known_traits`` in the sources of an invitation


def invitation_and_sources(
    message: Message, rules: Rules, known_traits: Mapping[str, Any] | None = None, *, may_wait: bool = False,
) -> tuple[Invitation, dict[str, str]]:
    """``invitation_from``, and for each field where its value came from (``email``: ``context.traits.email``).

    ``may_wait``: an order with no email anywhere is not rejected but comes back without one (``email`` '', and
    ``name`` '' when only ``DEFAULT_NAME`` would name it), to wait for an identify call (``completed``).
    """
    props = message.properties
    known = known_traits or {}
    ref = order_ref(props)
    try:
        email, email_source = email_and_source(
            [("properties", props), ("context.traits", message.context_traits), (STORED_TRAITS, known)])
    except MissingEmail:
        if not may_wait:
            raise
        email, email_source = "", WAITING_FOR_EMAIL
    name, name_source = name_and_source(
        [("properties", props), ("context.traits", message.context_traits), ("traits", message.traits),
         (STORED_TRAITS, known)], rules.default_name)
    if not email and name_source == "DEFAULT_NAME":
        name, name_source = "", WAITING_FOR_EMAIL + ", else DEFAULT_NAME"
    locale = message.locale or parse_locale(props.get("locale"))
    tag_sources = [label for label, present in (
        ("TRUSTPILOT_TAGS", rules.tags),
        ("TAG_PROPERTIES: " + ", ".join(f"properties.{n}" for n in rules.tag_properties if n in props),
         any(n in props for n in rules.tag_properties))) if present]
    sources = {
        "ref": "properties.order_id",
        "email": email_source,
        "name": name_source,
        "skus": "properties.products[].sku, else product_id, else id" + (" (mapped by SKU_MAP)" if rules.sku_map
                                                                          else ""),
        "tags": "; ".join(tag_sources) or "none configured",
        "locale": "context.locale" if message.locale else "properties.locale" if locale else "none (English)",
    }
    all_skus = product_skus(props.get("products"), rules.sku_map)
    invitation = Invitation(
        message_id=message.message_id,
        email=email,
        name=name,
        ref=ref,
        skus=all_skus[:rules.max_skus],
        tags=unique(sanitise_tag(tag) for tag in (*rules.tags, *property_tags(props, rules.tag_properties))),
        locale=locale,
        ordered_at=message.timestamp,
        user_id=message.user_id,
        anonymous_id=message.anonymous_id,
    )
    dropped = len(all_skus) - len(invitation.skus)
    if dropped:
        sources[NOTE] = f"{dropped} SKU{'s' if dropped > 1 else ''} over MAX_SKUS={rules.max_skus} dropped"
    _check_carriable(invitation)
    return invitation, sources


# The message's names of the fields of an invitation, as a refusal names them.
_FIELD_NAMES = {"email": "email", "name": "name", "ref": "order_id", "skus": "skus", "tags": "tags", "locale": "locale"}


def _check_carriable(invitation: Invitation) -> None:
    """``Rejected`` naming the first field holding what no store or sender can carry (NUL, a lone surrogate)."""
    for attr, name in _FIELD_NAMES.items():
        value = getattr(invitation, attr)
        texts = value if isinstance(value, tuple) else (value or "",)
        if any(has_uncarriable(text) for text in texts):
            raise Rejected(f"Invalid {name}: it holds NUL or a lone surrogate")


def completed(invitation: Invitation, known_traits: Mapping[str, Any], rules: Rules) -> Invitation:
    """A waiting invitation (no email yet) made whole from the customer's stored traits, by the rules of intake:
    the email from them (``MissingEmail`` while they give none, ``Rejected`` for an invalid one), and the name
    from them when the order itself named nobody (else ``DEFAULT_NAME``)."""
    email, _ = email_and_source([(STORED_TRAITS, known_traits)])
    name = invitation.name or name_and_source([(STORED_TRAITS, known_traits)], rules.default_name)[0]
    return replace(invitation, email=email, name=name)
