"""Whose stored traits an order may use, and the invitation rules the settings ask for: shared by intake (at the
order's arrival) and the worker's settling of waiting orders (when its customer's traits arrive), so that both
decide alike."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .config import TrustpilotSettings
from .invitation import Rules
from .segment import snake_key
from .store import StoredTrait, identity_key


def identities(user_id: str | None, anonymous_id: str | None) -> list[str]:
    """The keys under which a customer's traits are stored: userId first, then anonymousId."""
    keys = []
    if user_id:
        keys.append(identity_key("user", user_id))
    if anonymous_id:
        keys.append(identity_key("anon", anonymous_id))
    return keys



def customer_traits(user_id: str | None, anonymous_id: str | None,
                    recalled: Mapping[str, Mapping[str, StoredTrait]]) -> dict[str, Any]:
    """The stored traits an order of this customer may use, so that they never cross customers.

    Its userId's own traits first; then those of its anonymousId that were set by a message with the same userId,
    or with none. An order without a userId uses only anonymousId traits set with none. A shared browser, a kiosk
    or a server-side constant anonymousId so never hands one customer's address to another.
    """
    return {name: value for name, (_identity, value) in traits_and_owners(user_id, anonymous_id, recalled).items()}


def traits_and_owners(user_id: str | None, anonymous_id: str | None,
                      recalled: Mapping[str, Mapping[str, StoredTrait]]) -> dict[str, tuple[str, Any]]:
    """``customer_traits``, each value with the identity it is stored under (``user:u-1``): the console's preview
    says whose stored traits it used."""
    known: dict[str, tuple[str, Any]] = {}
    if anonymous_id:
        anon = identity_key("anon", anonymous_id)
        for name, trait in recalled.get(anon, {}).items():
            if trait.value is not None and (trait.user_id is None or (bool(user_id) and trait.user_id == user_id)):
                known[name] = (anon, trait.value)
    if user_id:
        user = identity_key("user", user_id)
        known.update({name: (user, trait.value) for name, trait in recalled.get(user, {}).items()
                      if trait.value is not None})
    return known


def rules_of(settings: TrustpilotSettings) -> Rules:
    """The invitation rules the settings ask for (names of properties and traits in snake_case)."""
    return Rules(
        tags=settings.tags,
        default_name=settings.default_name,
        sku_map=settings.sku_map,
        tag_properties=tuple(dict.fromkeys(snake_key(name) for name in settings.tag_properties)),
        suppress=tuple(dict.fromkeys(snake_key(name) for name in settings.suppress_audiences)),
        order_events=settings.order_events,
        max_skus=settings.max_skus,
    )
