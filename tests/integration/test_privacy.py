"""Retention and erasure requests."""

import pytest
from click.testing import CliRunner

from receiver.cli import main
from receiver.invitation import Invitation
from receiver.store import DEAD, PENDING, SENT, SUPPRESSED, NewInvitation, TraitUpdate
from support.data import base_env
from support.workers import ScriptedSender, make_worker
from support.workers import add_invitation as add

pytestmark = pytest.mark.both_databases  # erasure is the store's


def test_retention_erases_finished_invitations_only_after_the_period(store, clock):
    add(store, clock, "R-1")
    add(store, clock, "R-2")
    worker, settings = make_worker(store, clock, ScriptedSender(), RETENTION="30d", WORKER_BATCH="1")
    worker.run_batch()  # R-1 sent; R-2 still pending
    clock.advance(days=30)
    assert worker.purge_if_due() == 0  # exactly 30 days: not yet
    clock.advance(seconds=3600)
    assert worker.purge_if_due() == 1
    sent, pending = store.reports.get(1), store.reports.get(2)
    assert (sent.state, sent.email, sent.name, sent.ref) == (SENT, None, None, "R-1")
    assert (pending.state, pending.email) == (PENDING, "ann@example.com")
    assert store.reports.counts()[SENT] == 1  # the row stays for the counts
    clock.advance(seconds=60)
    assert worker.purge_if_due() == 0  # at most once an hour


def test_an_erased_dead_invitation_cannot_be_brought_back(store, clock):
    from receiver.senders import SendFailure

    add(store, clock)
    worker, _ = make_worker(store, clock, ScriptedSender(SendFailure("550", transient=False)))
    worker.drain()
    clock.advance(days=31)
    store.erasure.purge(now=clock(), older_than_seconds=30 * 86400)
    assert store.outbox.retry(now=clock(), dead=True) == 0
    assert store.reports.get(1).state == DEAD


def test_forget_erases_an_address_everywhere_and_stops_unsent_invitations(store, clock, database_url):
    add(store, clock, "R-1")
    add(store, clock, "R-2")
    add(store, clock, "R-3")
    worker, _ = make_worker(store, clock, ScriptedSender(), WORKER_BATCH="1")
    worker.run_batch()
    store.outbox.add([NewInvitation(Invitation(message_id="other", email="bob@example.com", name="Bob", ref="R-9"))],
                     domain="example.com", now=clock())
    store.traits.remember([TraitUpdate("user:ann", {"email": "Ann@Example.com", "name": "Ann Lee"}, clock()),
                           TraitUpdate("anon:a1", {"email": "ann@example.com"}, clock()),
                           TraitUpdate("user:bob", {"email": "bob@example.com", "name": "Bob"}, clock())], now=clock())
    result = CliRunner().invoke(main, ["forget", "ANN@example.com"], env=base_env(DATABASE_URL=database_url))
    assert result.exit_code == 0
    assert result.output.strip() == ("A***@example.com: erased from 3 invitation(s) (#1, #2, #3), 2 of them stopped "
                                     "unsent, and the stored traits of 2 customer id(s); on the suppression list "
                                     "(forgotten)")
    assert store.traits.known(["user:ann", "anon:a1", "user:bob"]) == {
        "user:bob": {"email": "bob@example.com", "name": "Bob"}}
    assert [store.reports.get(i).state for i in (1, 2, 3)] == [SENT, SUPPRESSED, SUPPRESSED]
    assert {store.reports.get(i).email for i in (1, 2, 3)} == {None}
    assert store.reports.get(4).email == "bob@example.com"
    assert worker.drain().sent == 1  # only Bob's: nothing is left for the forgotten address


def test_purge_command(store, clock, database_url):
    add(store, clock)
    store.traits.remember([TraitUpdate("user:ann", {"email": "ann@example.com"}, clock())], now=clock())
    worker, _ = make_worker(store, clock, ScriptedSender())
    worker.drain()
    env = base_env(DATABASE_URL=database_url, RETENTION="0")
    result = CliRunner().invoke(main, ["purge"], env=env)
    assert result.output.strip() == "erased the personal data of 1 invitation(s)"
    assert store.reports.get(1).email is None
    assert store.traits.known(["user:ann"]) == {}
