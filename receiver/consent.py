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
from .invitation import Invitation, first_true
from .store import ADDRESS_MARK, EMAIL_TRAIT, Forgotten, Store, StoredTrait, TraitUpdate, audience_reason


def _address(traits: Mapping[str, StoredTrait]) -> StoredTrait | None:
    """The identity's known address: its stored ``email`` trait, else the mark an order of it left."""
    for name in (EMAIL_TRAIT, ADDRESS_MARK):
        if (trait := traits.get(name)) is not None and trait.address_key:
            return trait
    return None


def _changes(traits: Mapping[str, StoredTrait], names: Sequence[str]) -> Iterable[tuple[str, bool]]:
    """Each opt-out trait this identity has that goes with its known address: its name, and whether it is true."""
    email = _address(traits)
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
    releases: dict[str, list[str]] = {}
    for identity, traits in recalled.items():
        if identity.startswith("user:"):  # one customer: its traits go together whoever set them
            traits = {name: StoredTrait(trait.value, "", trait.address_key) for name, trait in traits.items()}
        known = _address(traits)
        if known is None or known.address_key is None:
            continue
        key = known.address_key
        for name, opted_out in _changes(traits, names):
            (adds if opted_out else releases).setdefault(audience_reason(name), []).append(key)
    for reason, keys in releases.items():  # one statement per reason, as for the adds
        store.suppressions.remove_many(keys, reason=reason)
    for reason, keys in adds.items():
        store.suppressions.add_many(keys, reason, now=now)


def note_suppressed_order(store: Store, invitation: Invitation, audience: str, *, now: datetime) -> None:
    """An order suppressed by an opt-out trait carried its address: that address goes on the list too, and its
    customer ids keep its key (``ADDRESS_MARK``), so that the trait turning false takes it off again."""
    store.traits.mark_address(identities(invitation.user_id, invitation.anonymous_id), invitation.email,
                              user_id=invitation.user_id, now=now)
    store.suppressions.add_many([store.address_key(invitation.email)], audience_reason(audience), now=now)


def delete_user(store: Store, user_id: str, *, now: datetime) -> Forgotten:
    """Segment's deletion of a user: every address it is known by is forgotten, its traits and orders erased."""
    named = identities(user_id, None)
    return store.erasure.forget(store.erasure.keys_of(named), identities=named, now=now)
