"""Identity that never crosses customers (issue 13 §5), over real HTTP on SQLite and PostgreSQL.

Traits stored under an anonymousId remember the userId of the message that set them. An order with a userId uses
that userId's traits first, then the anonymousId's set with the same userId or with none; an order without a
userId uses only anonymousId traits set with none.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import requests
from alembic import command
from alembic.config import Config

from receiver.customers import customer_traits
from receiver.store import Store, StoredTrait
from receiver.store.migrations import MIGRATIONS
from support.data import DATA_KEY_BYTES, basic_auth

BROWSER = "browser-shared-1"


def post(base, body):
    return requests.post(f"{base}/v1/batch", json={"batch": [body]}, headers=basic_auth(), timeout=10)


def identify(number, email, user_id=None, anonymous_id=BROWSER, **traits):
    message = {"type": "identify", "messageId": f"identify-{number}", "traits": {"email": email, **traits}}
    return {**message, **({"userId": user_id} if user_id else {}), **({"anonymousId": anonymous_id} if anonymous_id
                                                                       else {})}


def order(ref, user_id=None, anonymous_id=BROWSER):
    message = {"type": "track", "event": "Order Completed", "messageId": f"order-{ref}", "properties": {"order_id": ref}}
    return {**message, **({"userId": user_id} if user_id else {}), **({"anonymousId": anonymous_id} if anonymous_id
                                                                       else {})}


def outcome(base, message):
    """The verdict of one message on /v1/batch (which answers 200 whatever it is)."""
    answer = post(base, message).json()
    assert answer["success"] is True
    return next(name for name in ("accepted", "rejected", "waiting", "ignored") if answer.get(name))


def email_of(store, ref):
    row = store.reports.find(message_id=f"order-{ref}")
    return row.email if row else None


@pytest.mark.env(EMAIL_WAIT="0")
def test_customer_b_never_gets_customer_a_s_address_from_a_shared_browser(live_app, store):
    post(live_app, identify(1, "alice@example.com", user_id="alice", first_name="Alice"))
    assert outcome(live_app, order("B-1", user_id="bob")) == "rejected"  # Missing email address, not Alice's
    assert email_of(store, "B-1") is None
    assert outcome(live_app, order("B-2")) == "rejected"  # no userId at all: only traits set with none count
    assert outcome(live_app, order("A-1", user_id="alice")) == "accepted"
    assert email_of(store, "A-1") == "alice@example.com"


@pytest.mark.env(EMAIL_WAIT="0")
def test_a_guest_s_traits_serve_the_guest_and_the_user_who_logs_in(live_app, store):
    post(live_app, identify(1, "guest@example.com", anonymous_id="guest-1"))
    assert outcome(live_app, order("G-1", anonymous_id="guest-1")) == "accepted"
    assert outcome(live_app, order("G-2", user_id="u-new", anonymous_id="guest-1")) == "accepted"
    assert (email_of(store, "G-1"), email_of(store, "G-2")) == ("guest@example.com", "guest@example.com")


@pytest.mark.env(EMAIL_WAIT="0")
def test_the_latest_message_decides_whose_an_anonymous_trait_is(live_app, store):
    post(live_app, identify(1, "guest@example.com"))  # set with no userId ...
    post(live_app, identify(2, "alice@example.com", user_id="alice"))  # ... then replaced by Alice's
    assert outcome(live_app, order("C-1", user_id="bob")) == "rejected"
    assert outcome(live_app, order("C-2")) == "rejected"
    post(live_app, identify(3, "bob@example.com", user_id="bob"))
    assert outcome(live_app, order("C-3", user_id="bob")) == "accepted"
    assert email_of(store, "C-3") == "bob@example.com"


@pytest.mark.env(EMAIL_WAIT="0")
def test_the_user_s_own_traits_win_over_the_anonymous_ones(live_app, store):
    post(live_app, identify(1, "guest@example.com", first_name="Guest"))
    post(live_app, identify(2, "dana@example.com", user_id="dana", anonymous_id=None))
    assert outcome(live_app, order("D-1", user_id="dana")) == "accepted"
    row = store.reports.find(message_id="order-D-1")
    assert (row.email, row.name) == ("dana@example.com", "Guest")  # the guest's name: set with no userId


def test_customer_traits_rules():
    recalled = {"user:u": {"email": StoredTrait("own@example.com", "u")},
                "anon:a": {"email": StoredTrait("anon@example.com", None), "name": StoredTrait("Same", "u"),
                           "surname": StoredTrait("Other", "v"), "first_name": StoredTrait("Old", ""),
                           "last_name": StoredTrait(None, None)}}
    assert customer_traits("u", "a", recalled) == {"email": "own@example.com", "name": "Same"}
    assert customer_traits("v", "a", recalled) == {"email": "anon@example.com", "surname": "Other"}
    assert customer_traits(None, "a", recalled) == {"email": "anon@example.com"}
    assert customer_traits(None, None, recalled) == {}


@contextmanager
def at_revision(store: Store, revision: str) -> Iterator[Any]:
    """``store``'s database migrated up to ``revision`` alone, and a connection to it in a transaction."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with store.engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, revision)
        yield conn


def test_anonymous_traits_stored_before_the_upgrade_serve_nobody(sqlite_url, tmp_path):
    """Rows older than the column cannot say whose message set them: the migration marks them unknown."""
    store = Store(sqlite_url, data_key=DATA_KEY_BYTES)
    with at_revision(store, "0002") as conn:
        conn.exec_driver_sql("INSERT INTO user_traits (identity, name, value, observed_at, updated_at) VALUES "
                             "('anon:old', 'email', '\"old@example.com\"', '2026-01-01', '2026-01-01'), "
                             "('user:old', 'email', '\"user@example.com\"', '2026-01-01', '2026-01-01')")
    store.upgrade()
    recalled = store.traits.recalled(["anon:old", "user:old"])
    # and the upgrade gave the address its key (a migration cannot: it has no DATA_KEY)
    assert recalled["anon:old"]["email"] == StoredTrait("old@example.com", "", store.address_key("OLD@example.com"))
    assert customer_traits(None, "old", recalled) == {} and customer_traits("x", "old", recalled) == {}
    assert customer_traits("old", None, recalled) == {"email": "user@example.com"}
    store.close()


def test_an_upgrade_made_without_data_key_leaves_the_keys_to_the_next_store_that_has_it(sqlite_url):
    """``db upgrade`` needs no DATA_KEY; the addresses stored before address keys get theirs from the next
    upgrade that has it (the worker's or a command's start on SQLite, the next release on PostgreSQL)."""
    old = Store(sqlite_url)
    with at_revision(old, "0005") as conn:
        conn.exec_driver_sql("INSERT INTO user_traits (identity, name, value, observed_at, updated_at, user_id) VALUES "
                             "('user:old', 'email', '\"Old@Example.com\"', '2026-01-01', '2026-01-01', 'old')")
    old.upgrade()  # without DATA_KEY: migrated, no key given
    assert old.is_migrated()
    old.close()
    keyed = Store(sqlite_url, data_key=DATA_KEY_BYTES)
    keyed.upgrade()
    assert keyed.traits.recalled(["user:old"])["user:old"]["email"].address_key == keyed.address_key("old@example.com")
    keyed.close()
