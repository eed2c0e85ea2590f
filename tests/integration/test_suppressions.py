"""The suppression list (``store.suppressions``): by address key only, one row per reason, on both databases."""

import pytest
from sqlalchemy import select

from receiver.privacy import address_key
from receiver.store import suppression_list
from support.data import DATA_KEY_BYTES

KEY = address_key(DATA_KEY_BYTES, "jörg.müller@example.com")
OTHER = address_key(DATA_KEY_BYTES, "åsa@example.com")


@pytest.mark.both_databases
def test_a_key_is_listed_once_per_reason_and_removed_by_reason_or_whole(store, clock):
    assert store.suppressions.add(KEY, "audience:vip_optout", now=clock())
    clock.advance(seconds=1)
    assert store.suppressions.add(KEY, "unsubscribed", now=clock())
    assert not store.suppressions.add(KEY, "unsubscribed", now=clock())  # there already
    assert store.suppressions.reason_for([KEY, OTHER, None]) == {KEY: "audience:vip_optout"}  # the oldest
    assert store.suppressions.remove(KEY, reason="audience:vip_optout") == ["audience:vip_optout"]
    assert store.suppressions.reason_for([KEY]) == {KEY: "unsubscribed"}
    assert store.suppressions.remove(KEY) == ["unsubscribed"]
    assert store.suppressions.remove(KEY) == []
    assert store.suppressions.reason_for([KEY]) == {}


@pytest.mark.both_databases
def test_the_list_holds_keys_and_reasons_only(store, clock):
    store.suppressions.add_many([KEY, OTHER, "not a key"], "forgotten", now=clock())
    with store.engine.connect() as conn:
        rows = conn.execute(select(suppression_list)).all()
    assert sorted((row.address_key, row.reason) for row in rows) == sorted([(KEY, "forgotten"), (OTHER, "forgotten")])
