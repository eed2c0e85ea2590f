"""No personal data in errors (issue 17 §5): the SMTP sender keeps codes and a fixed text (no echo of the server, so
no scrubber misses), the worker logs ids and codes only, and `forget` and `purge` clear `last_error` too."""

from __future__ import annotations

import logging
import re
from datetime import timedelta

import pytest

from receiver import bgl
from receiver.config import load_settings
from receiver.invitation import Invitation
from receiver.senders import ReadyInvitation, SendFailure
from receiver.senders.smtp import SmtpSender, _Scrubber, describe_reply, settings_from_environ
from receiver.store import DEAD, RETRYING, SUPPRESSED, NewInvitation
from support.data import AUTH_KEY, ENCRYPT_KEY, base_env
from support.servers import smtp_server
from support.workers import worker_for

KEYS = bgl.Keys.from_base64(ENCRYPT_KEY, AUTH_KEY)
EMAIL, NAME = "jane.doe+shop@example.com", "Jane Doe"
_PERSONAL = re.compile(r"\b(jane|doe)\b|\+shop", re.IGNORECASE)


def mentions(text: str) -> list[str]:
    """The customer's name, mailbox or tag wherever they appear in ``text``."""
    return _PERSONAL.findall(text)


def ready(email: str = EMAIL, name: str = NAME) -> ReadyInvitation:
    invitation = Invitation(message_id="m-1", email=email, name=name, ref="A-1")
    return ReadyInvitation(id=1, invitation=invitation, link=bgl.build_link({"email": email}, KEYS, "example.com"))


def smtp_sender(port: int) -> SmtpSender:
    return SmtpSender(settings_from_environ({"SMTP_URL": f"smtp://127.0.0.1:{port}", "SMTP_TIMEOUT": "5s",
                                             "MAIL_FROM": "Shop <shop@example.com>"}))


# the replies that beat the old scrubber: the mailbox without its +tag, the name split over reply lines
ECHOES = [
    "550 5.1.1 Mailbox jane.doe does not exist here",
    "550-5.2.2 The mailbox of Jane\r\n550 5.2.2 Doe is full",
    "452-4.2.2 Over quota: Jane\r\n452-4.2.2 Doe <jane.doe@example.com>\r\n452 4.2.2 try later",
    "550 No such user jane.doe (Doe, Jane)",
]


@pytest.mark.parametrize("reply", ECHOES)
def test_an_smtp_refusal_keeps_the_codes_and_a_fixed_text_and_logs_it_scrubbed(reply, caplog):
    with smtp_server() as (mailbox, port):
        mailbox.rcpt_replies.append(reply)
        sender = smtp_sender(port)
        with caplog.at_level(logging.DEBUG), pytest.raises(SendFailure) as failure:
            sender.send(ready())
        sender.close()
    code = int(reply[:3])
    assert str(failure.value) == f"the SMTP server refused the recipient: {describe_reply(code, reply[4:])}"
    assert not mentions(str(failure.value))
    assert not mentions(caplog.text), caplog.text  # the DEBUG line too
    assert "SMTP: the recipient refused: " in caplog.text  # the server's words are there, scrubbed


def test_describe_reply():
    assert describe_reply(550, "5.1.1 <x@y>: no") == "550 5.1.1 (permanent negative completion: addressing status)"
    assert describe_reply(451, b"4.7.1 greylisted") == ("451 4.7.1 (transient negative completion: security or "
                                                        "policy status)")
    assert describe_reply(550, "4.1.1 class disagrees") == "550 (permanent negative completion)"
    assert describe_reply(550, "Jane Doe is unknown") == "550 (permanent negative completion)"
    assert describe_reply(354, "go ahead") == "354 (unexpected reply)"


def test_the_scrubber_still_masks_what_the_old_one_missed():
    scrub = _Scrubber(ready())
    assert scrub(b"Mailbox jane.doe unknown") == "Mailbox *** unknown"
    assert scrub(b"The mailbox of Jane\nDoe is full") == "The mailbox of *** is full"
    assert scrub(b"Doe, Jane: no such user") == "***, ***: no such user"
    assert scrub("to <jane.doe@example.com>") == "to <j***@example.com>"


# -- the worker's log lines -----------------------------------------------------------------------------

class Failing:
    """A plug-in sender that fails with personal data in its words."""

    def __init__(self, error: Exception):
        self.error = error

    def send(self, invitation: ReadyInvitation) -> None:
        raise self.error

    def close(self) -> None:
        pass


def _one_invitation(store, clock):
    invitation = Invitation(message_id="m-1", email=EMAIL, name=NAME, ref="A-1")
    store.outbox.add([NewInvitation(invitation)], domain="example.com", now=clock())
    return store.reports.find(message_id="m-1").id


@pytest.mark.parametrize(("error", "logged"), [
    (SendFailure(f"the mailbox of {NAME} <{EMAIL}> is full", transient=True), "(a transient failure); retrying"),
    (SendFailure(f"{NAME} <{EMAIL}> unknown", transient=False, code="acme 550"), "is dead: acme 550 (permanent"),
    (KeyError(EMAIL), "the sender raised KeyError at test_errors_hold_no_personal_data.py:"),
])
def test_the_worker_logs_ids_and_codes_only(store, clock, caplog, error, logged):
    row_id = _one_invitation(store, clock)
    worker = worker_for(store, load_settings(base_env()), Failing(error), clock=clock, rand=lambda: 0.0)
    with caplog.at_level(logging.DEBUG):
        worker.run_batch()
    assert logged in caplog.text
    assert not mentions(caplog.text), caplog.text
    assert "Traceback" not in caplog.text
    assert store.reports.get(row_id).state in (RETRYING, DEAD)


# -- erasure clears last_error ----------------------------------------------------------------------------

def _failed_once(store, clock, error: str) -> int:
    row_id = _one_invitation(store, clock)
    worker = worker_for(store, load_settings(base_env()), Failing(SendFailure(error, transient=False)), clock=clock)
    worker.run_batch()
    assert store.reports.get(row_id).last_error.startswith(error)
    return row_id


def test_forget_clears_last_error(store, clock):
    row_id = _failed_once(store, clock, f"an old text naming {NAME} <{EMAIL}>")
    store.erasure.forget([store.address_key(EMAIL)], now=clock())
    row = store.reports.get(row_id)
    assert (row.state, row.email, row.name, row.last_error) == (DEAD, None, None, None)


def test_forget_still_says_why_an_unsent_invitation_was_stopped(store, clock):
    row_id = _one_invitation(store, clock)
    store.erasure.forget([store.address_key(EMAIL)], now=clock())
    assert (store.reports.get(row_id).state, store.reports.get(row_id).last_error) == (SUPPRESSED, "forgotten")


def test_purge_clears_last_error(store, clock):
    row_id = _failed_once(store, clock, f"an old text naming {NAME} <{EMAIL}>")
    clock.advance(days=31)
    assert store.erasure.purge(now=clock(), older_than_seconds=timedelta(days=30).total_seconds()) == 1
    row = store.reports.get(row_id)
    assert (row.email, row.name, row.last_error) == (None, None, None)
