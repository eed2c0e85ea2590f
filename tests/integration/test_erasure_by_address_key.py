"""Erasure by address key (issue 14 §1, §5), on SQLite and PostgreSQL: ``receiver forget`` finds an address in any
casing and either form of its domain, erases the traits of every customer id that carried it or whose id it is,
stops the unsent invitations and puts the address on the suppression list, so a worker run or a replay afterwards
mails no one. Segment's ``"type": "delete"`` does the same for a userId."""

from types import SimpleNamespace

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from receiver.cli import main
from receiver.invitation import Invitation
from receiver.store import NewInvitation, TraitUpdate, invitations, user_traits
from support.data import base_env, basic_auth
from support.workers import ScriptedSender, make_worker


def add(store, clock, message_id, email, name="Jörg Müller"):
    store.outbox.add([NewInvitation(Invitation(message_id=message_id, email=email, name=name, ref=message_id))],
                     domain="example.com", now=clock())


def forget(database_url, email):
    result = CliRunner().invoke(main, ["forget", email], env=base_env(DATABASE_URL=database_url))
    assert result.exit_code == 0, result.output
    return result.output


def stored_addresses(store):
    """Every invitation's email, name, state and last_error, its sealed cells opened (store/sealed.py)."""
    with store.engine.connect() as conn:
        rows = conn.execute(select(invitations.c.email, invitations.c.name, invitations.c.state,
                                   invitations.c.last_error)).all()
        keys = store.sealer.opener(conn, [cell for row in rows for cell in (row.email, row.name)])
    return [SimpleNamespace(**{**row._asdict(), "email": keys.open(row.email), "name": keys.open(row.name)})
            for row in rows]


@pytest.mark.both_databases
@pytest.mark.parametrize("stored, asked", [
    (("jörg.müller@example.com", "JÖRG.MÜLLER@example.com"), "jörg.müller@example.com"),  # SQLite's lower(): ASCII
    (("Åsa@example.com",), "åsa@example.com"),
    (("jürgen@xn--bcher-kva.de",), "jürgen@bücher.de"),  # punycode stored, Unicode asked
    (("jürgen@bücher.de",), "JÜRGEN@XN--BCHER-KVA.DE"),  # and the other way round
])
def test_forget_erases_every_spelling_and_a_worker_run_then_sends_nothing(store, clock, database_url, stored, asked):
    for number, email in enumerate(stored):
        add(store, clock, f"m-{number}", email)
    add(store, clock, "other", "someone.else@example.com", name="Someone Else")
    output = forget(database_url, asked)
    assert f"erased from {len(stored)} invitation(s)" in output and f"{len(stored)} of them stopped unsent" in output
    assert "@" in output and asked not in output  # masked
    rows = {row.email: row for row in stored_addresses(store)}
    assert set(rows) == {None, "someone.else@example.com"}
    assert rows[None].name is None and rows[None].state == "suppressed" and rows[None].last_error == "forgotten"
    sender = ScriptedSender()
    worker, _ = make_worker(store, clock, sender)
    worker.drain()
    assert [ready.email for ready in sender.delivered] == ["someone.else@example.com"]
    # a replay of the same customer's order under a new message id is not mailed either
    add(store, clock, "replayed", stored[0].upper())
    worker.drain()
    assert [ready.email for ready in sender.delivered] == ["someone.else@example.com"]
    assert store.reports.find(message_id="replayed").state == "suppressed"
    assert store.reports.find(message_id="replayed").last_error == "forgotten"


@pytest.mark.both_databases
def test_forget_erases_the_traits_of_every_id_that_carried_the_address_or_is_it(store, clock, database_url):
    store.traits.remember([
        TraitUpdate("user:u-1", {"email": "JÖRG.Müller@Example.com", "name": "Jörg"}, clock(), "u-1"),
        TraitUpdate("anon:a-1", {"email": "jörg.müller@example.com", "first_name": "Jörg"}, clock(), None),
        TraitUpdate("user:Jörg.Müller@example.com", {"name": "Jörg Müller", "last_name": "Müller"}, clock(),
                    "Jörg.Müller@example.com"),
        TraitUpdate("user:u-2", {"email": "ann@example.com", "name": "Ann"}, clock(), "u-2"),
    ], now=clock())
    output = forget(database_url, "jörg.müller@example.com")
    assert "the stored traits of 3 customer id(s)" in output
    with store.engine.connect() as conn:
        left = sorted({row.identity for row in conn.execute(select(user_traits.c.identity))})
    assert left == ["user:u-2"]


@pytest.mark.both_databases
def test_a_waiting_order_of_a_forgotten_customer_is_stopped(store, clock, database_url, client):
    order = {"type": "track", "event": "Order Completed", "messageId": "w-1", "userId": "u-9",
             "properties": {"order_id": "W-1"}}
    identify = {"type": "identify", "messageId": "i-1", "userId": "u-9", "traits": {"email": "Åsa@Example.com"}}
    assert client.post("/segment", json=order, headers=basic_auth()).json["status"] == "waiting"
    assert client.post("/segment", json=identify, headers=basic_auth()).status_code == 200
    forget(database_url, "ÅSA@example.com")
    row = store.reports.find(message_id="w-1")
    assert (row.state, row.last_error) == ("suppressed", "forgotten")
    sender = ScriptedSender()
    make_worker(store, clock, sender)[0].drain()
    assert sender.delivered == []


@pytest.mark.both_databases
def test_a_segment_delete_erases_that_user_and_suppresses_its_addresses(store, clock, client):
    messages = [
        {"type": "identify", "messageId": "i-1", "userId": "u-7", "traits": {"email": "Ann@Example.com",
                                                                             "name": "Ann Lee"}},
        {"type": "track", "event": "Order Completed", "messageId": "o-1", "userId": "u-7",
         "properties": {"order_id": "A-1"}},
    ]
    assert client.post("/segment", json={"batch": messages}, headers=basic_auth()).status_code == 200
    assert store.reports.find(message_id="o-1").email == "Ann@example.com"  # the local part kept as given
    answer = client.post("/segment", json={"type": "delete", "userId": "u-7", "messageId": "d-1"}, headers=basic_auth())
    assert answer.status_code == 200 and answer.json["status"] == "accepted"
    assert answer.json["message"].startswith("User deleted: erased from 1 invitation(s)")
    row = store.reports.find(message_id="o-1")
    assert (row.email, row.name, row.state, row.last_error) == (None, None, "suppressed", "forgotten")
    assert store.traits.known(["user:u-7"]) == {}
    assert list(store.suppressions.reason_for([store.address_key("ann@example.com")]).values()) == ["forgotten"]
    # a guest order with the same address, later, is not mailed
    guest = {"type": "track", "event": "Order Completed", "messageId": "o-2", "anonymousId": "guest",
             "properties": {"order_id": "A-2", "email": "ANN@example.com"}}
    client.post("/segment", json=guest, headers=basic_auth())
    sender = ScriptedSender()
    make_worker(store, clock, sender)[0].drain()
    assert sender.delivered == [] and store.reports.find(message_id="o-2").last_error == "forgotten"
