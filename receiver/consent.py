"""What intake tells the suppression list and erasure: Engage opt-out traits (``SUPPRESS_AUDIENCES``) of a customer
whose address is known put that address on the list as ``audience:<trait>`` and take it off again when the trait turns
false; a Segment user-deletion request (``"type": "delete"``) erases that user as ``receiver forget`` would.

An identity's stored ``email`` and its opt-out trait are paired only when they belong to one customer: any two of a
``user:`` identity, and of an ``anon:`` identity those set by messages with the same userId (a shared browser's
anonymousId never puts one customer's address on the list for another's opt-out).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime

from .customers import identities
from .invitation import first_true
from .store import EMAIL_TRAIT, Forgotten, Store, StoredTrait, TraitUpdate, audience_reason


def _changes(traits: Mapping[str, StoredTrait], names: Sequence[str]) -> Iterable[tuple[str, bool]]:
    """Each opt-out trait this identity has that goes with its stored email: its name, and whether it is true."""
    email = traits.get(EMAIL_TRAIT)
    if email is None:
        return
    for name in names:
        trait = traits.get(name)
        if trait is not None and trait.user_id == email.user_id:
            yield name, first_true([name], {name: trait.value}) is not None


def sync_audiences(store: Store, updates: Sequence[TraitUpdate], names: Sequence[str], *, now: datetime) -> None:
    """After a batch's traits are stored: the list entries of the opt-out traits of every identity whose email or
    opt-out traits the batch touched."""
    if not names:
        return
    touched = sorted({update.identity for update in updates
                      if EMAIL_TRAIT in update.traits or any(name in update.traits for name in names)})
    if not touched:
        return
    recalled = store.traits.recalled(touched)
    adds: dict[str, list[str]] = {}
    for identity, traits in recalled.items():
        if identity.startswith("user:"):  # one customer: its traits go together whoever set them
            traits = {name: StoredTrait(trait.value, "") for name, trait in traits.items()}
        email = traits.get(EMAIL_TRAIT)
        key = store.address_key(email.value) if email is not None and isinstance(email.value, str) else None
        if key is None:
            continue
        for name, opted_out in _changes(traits, names):
            if opted_out:
                adds.setdefault(audience_reason(name), []).append(key)
            else:
                store.suppressions.remove(key, reason=audience_reason(name))
    for reason, keys in adds.items():
        store.suppressions.add_many(keys, reason, now=now)


def note_suppressed_order(store: Store, email: str, audience: str, *, now: datetime) -> None:
    """An order suppressed by an opt-out trait carried its address: that address goes on the list too."""
    store.suppressions.add_many([store.address_key(email)], audience_reason(audience), now=now)


def delete_user(store: Store, user_id: str, *, now: datetime) -> Forgotten:
    """Segment's deletion of a user: every address it is known by is forgotten, its traits and orders erased."""
    named = identities(user_id, None)
    return store.erasure.forget(store.erasure.keys_of(named), identities=named, now=now)
