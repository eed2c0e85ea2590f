"""The suppression list and the frequency cap at the worker's claim (issue 14 §2, §4), on SQLite and PostgreSQL:
``receiver suppress``/``unsuppress``, Engage opt-out traits, bounces and ``INVITE_COOLDOWN``, by address key."""

from datetime import timedelta

import pytest
from click.testing import CliRunner

from receiver.cli import main
from receiver.invitation import Invitation
from receiver.screening import screen
from receiver.senders import SendFailure
from receiver.store import NewInvitation, Store
from support.data import DATA_KEY_BYTES, base_env, basic_auth
from support.workers import ScriptedSender, make_worker

ORDER_ENV = {"SUPPRESS_AUDIENCES": "vip_optout"}


def add(store, clock, message_id, email="Ann.Lee@Example.com"):
    store.outbox.add([NewInvitation(Invitation(message_id=message_id, email=email, name="Ann", ref=message_id))],
                     domain="example.com", now=clock())


def run(database_url, *args):
    result = CliRunner().invoke(main, list(args), env={"DATABASE_URL": database_url, "DATA_KEY": base_env()["DATA_KEY"]})
    assert result.exit_code == 0, result.output
    return result.output


def outcome(store, message_id):
    row = store.reports.find(message_id=message_id)
    return row.state, row.last_error


@pytest.mark.both_databases
def test_suppress_and_unsuppress_need_no_trustpilot_keys_and_say_what_changed(store, clock, database_url):
    assert run(database_url, "suppress", "ANN.LEE@example.com") == "A***@example.com: added to the suppression list\n"
    assert "already on the suppression list" in run(database_url, "suppress", "ann.lee@EXAMPLE.com")
    add(store, clock, "m-1")
    sender = ScriptedSender()
    worker, _ = make_worker(store, clock, sender)
    assert "suppressed 1" in str(worker.drain())
    assert sender.delivered == [] and outcome(store, "m-1") == ("suppressed", "operator")
    assert run(database_url, "unsuppress", "Ann.Lee@example.com") == (
        "A***@example.com: removed from the suppression list (operator)\n")
    assert "not on the suppression list" in run(database_url, "unsuppress", "Ann.Lee@example.com")
    add(store, clock, "m-2")
    worker.drain()
    assert [ready.message_id for ready in sender.delivered] == ["m-2"]


def test_suppress_refuses_what_is_no_address(database_url):
    result = CliRunner().invoke(main, ["suppress", "not-an-address"],
                                env={"DATABASE_URL": database_url, "DATA_KEY": base_env()["DATA_KEY"]})
    assert result.exit_code == 2 and "Invalid email address" in result.output


@pytest.mark.both_databases
@pytest.mark.env(**ORDER_ENV)
def test_an_engage_opt_out_suppresses_the_address_everywhere_until_it_turns_false(store, clock, client):
    def identify(number, value):
        return {"type": "identify", "messageId": f"i-{number}", "userId": "u-1",
                "traits": {"email": "ann.lee@example.com", "vip_optout": value}}

    def guest_order(number):  # another device, no userId: only the address links it to the customer
        return {"type": "track", "event": "Order Completed", "messageId": f"o-{number}", "anonymousId": f"g-{number}",
                "properties": {"order_id": f"G-{number}", "email": "ANN.LEE@example.com"}}

    key = store.address_key("ann.lee@example.com")
    client.post("/segment", json=identify(1, True), headers=basic_auth())
    assert store.suppressions.reason_for([key]) == {key: "audience:vip_optout"}
    client.post("/segment", json=guest_order(1), headers=basic_auth())
    sender = ScriptedSender()
    worker, _ = make_worker(store, clock, sender, **ORDER_ENV)
    worker.drain()
    assert sender.delivered == [] and outcome(store, "o-1") == ("suppressed", "audience:vip_optout")
    client.post("/segment", json=identify(2, False), headers=basic_auth())
    assert store.suppressions.reason_for([key]) == {}
    client.post("/segment", json=guest_order(2), headers=basic_auth())
    worker.drain()
    assert [ready.message_id for ready in sender.delivered] == ["o-2"]


@pytest.mark.both_databases
@pytest.mark.env(**ORDER_ENV)
def test_an_order_suppressed_by_its_own_opt_out_trait_lists_its_address(store, client):
    order = {"type": "track", "event": "Order Completed", "messageId": "o-1", "userId": "u-2",
             "context": {"traits": {"vip_optout": True}}, "properties": {"order_id": "A-1", "email": "bo@example.com"}}
    assert client.post("/segment", json=order, headers=basic_auth()).json["status"] == "suppressed"
    assert list(store.suppressions.reason_for([store.address_key("BO@example.com")]).values()) == [
        "audience:vip_optout"]


@pytest.mark.both_databases
def test_a_permanent_5_1_1_lists_the_address_as_bounced_and_other_failures_do_not(store, clock):
    add(store, clock, "m-1", "gone@example.com")
    add(store, clock, "m-2", "full@example.com")
    sender = ScriptedSender(SendFailure("refused", transient=False, code="smtp 550 5.1.1"),
                            SendFailure("refused", transient=False, code="smtp 552 5.2.2"))
    worker, _ = make_worker(store, clock, sender)
    worker.drain()
    listed = store.suppressions.reason_for([store.address_key("gone@example.com"), store.address_key("full@example.com")])
    assert list(listed.values()) == ["bounced"] and store.address_key("gone@example.com") in listed
    add(store, clock, "m-3", "Gone@Example.com")
    worker.drain()
    assert sender.delivered == [] and outcome(store, "m-3") == ("suppressed", "bounced")


@pytest.mark.both_databases
def test_a_waiting_order_whose_address_is_listed_is_suppressed_when_it_gets_it(store, clock, client):
    store.suppressions.add(store.address_key("ann.lee@example.com"), "unsubscribed", now=clock())
    order = {"type": "track", "event": "Order Completed", "messageId": "w-1", "userId": "u-3",
             "properties": {"order_id": "W-1"}}
    client.post("/segment", json=order, headers=basic_auth())
    client.post("/segment", json={"type": "identify", "messageId": "i-1", "userId": "u-3",
                                  "traits": {"email": "Ann.Lee@example.com"}}, headers=basic_auth())
    sender = ScriptedSender()
    make_worker(store, clock, sender)[0].drain()
    assert sender.delivered == [] and outcome(store, "w-1") == ("suppressed", "unsubscribed")


@pytest.mark.both_databases
def test_the_cooldown_makes_one_email_of_two_orders_in_a_batch_and_holds_later_ones(store, clock):
    add(store, clock, "m-1", "ann.lee@example.com")
    add(store, clock, "m-2", "ANN.LEE@example.com")
    add(store, clock, "m-3", "bo@example.com")
    sender = ScriptedSender()
    worker, _ = make_worker(store, clock, sender, INVITE_COOLDOWN="30d")
    worker.drain()
    assert sorted(ready.message_id for ready in sender.delivered) == ["m-1", "m-3"]
    assert outcome(store, "m-2") == ("suppressed", "invited recently")
    clock.advance(days=29)
    add(store, clock, "m-4", "ann.lee@example.com")
    worker.drain()
    assert outcome(store, "m-4") == ("suppressed", "invited recently")
    clock.advance(days=2)  # 31 days after the first was sent
    add(store, clock, "m-5", "Ann.Lee@example.com")
    worker.drain()
    assert sorted(ready.message_id for ready in sender.delivered) == ["m-1", "m-3", "m-5"]


@pytest.mark.both_databases
def test_the_cooldown_is_off_at_zero(store, clock):
    add(store, clock, "m-1")
    add(store, clock, "m-2")
    sender = ScriptedSender()
    make_worker(store, clock, sender, INVITE_COOLDOWN="0")[0].drain()
    assert len(sender.delivered) == 2


@pytest.mark.both_databases
def test_two_workers_claiming_one_customers_orders_at_once_send_one(store, clock, database_url):
    add(store, clock, "m-1")
    add(store, clock, "m-2")
    other = Store(database_url, data_key=DATA_KEY_BYTES)  # a second worker's own engine
    try:
        [first] = store.outbox.claim(now=clock(), limit=1, lease_seconds=60)
        [second] = other.outbox.claim(now=clock(), limit=1, lease_seconds=60)
        # both claims committed before either looks: each sees the other's row, the lowest id goes
        now = clock() + timedelta(seconds=1)
        mine = screen(store, [first], now=now, cooldown_seconds=30 * 86400)
        theirs = screen(other, [second], now=now, cooldown_seconds=30 * 86400)
    finally:
        other.close()
    low, high = sorted([first, second], key=lambda job: job.id)
    sent = [job.id for result in (mine, theirs) for job in result.send]
    held = [(job.id, why) for result in (mine, theirs) for job, why in result.held]
    assert sent == [low.id] and held == [(high.id, "invited recently")]


@pytest.mark.both_databases
@pytest.mark.env(**ORDER_ENV)
def test_an_opt_out_listed_from_an_orders_address_is_released_when_the_trait_turns_false(store, clock, client):
    def identify(number, value):  # no email: Engage's audience sync names only the trait
        return {"type": "identify", "messageId": f"i-{number}", "userId": "u-5", "traits": {"vip_optout": value}}

    key = store.address_key("cy@example.com")
    client.post("/segment", json=identify(1, True), headers=basic_auth())
    order = {"type": "track", "event": "Order Completed", "messageId": "o-1", "userId": "u-5",
             "properties": {"order_id": "C-1", "email": "Cy@example.com"}}
    assert client.post("/segment", json=order, headers=basic_auth()).json["status"] == "suppressed"
    assert store.suppressions.reason_for([key]) == {key: "audience:vip_optout"}
    assert store.traits.known(["user:u-5"]) == {"user:u-5": {"vip_optout": True}}  # the address itself not kept
    client.post("/segment", json=identify(2, False), headers=basic_auth())
    assert store.suppressions.reason_for([key]) == {}
