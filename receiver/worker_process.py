"""The delivery worker as a process (``receiver worker``, and ``replay --deliver``): built from the settings,
stopped by SIGTERM or SIGINT."""

from __future__ import annotations

import logging
import signal
import threading

import click

from .config import Settings
from .links import LinkBuilder
from .startup import open_store, sender_or_exit
from .unsubscribe import UnsubscribeLinks
from .waiting import Waiting
from .worker import Stop, StopFlag, Worker

log = logging.getLogger("receiver")
NO_PUBLIC_URL = ("PUBLIC_URL is not set: invitations go out without an unsubscribe link or List-Unsubscribe header "
                 "(set it to this service's https address)")


def unsubscribe_links(settings: Settings) -> UnsubscribeLinks | None:
    """The unsubscribe links of the settings; None, and the one warning, without ``PUBLIC_URL``."""
    links = UnsubscribeLinks.from_settings(settings.worker.public_url, settings.database.data_key)
    if links is None:
        log.warning(NO_PUBLIC_URL)
    return links


def build_worker(settings: Settings, stop: Stop) -> Worker:
    """The worker with the configured sender (its problems exit 2) on the store (see ``startup.open_store``)."""
    sender = sender_or_exit(settings)
    links = LinkBuilder.from_settings(settings.trustpilot)
    store = open_store(settings.database)
    if settings.worker.sender == "log" and not settings.demo:
        log.warning("SENDER=log: invitations are only written to the log and marked sent; nobody is mailed")
    return Worker(store, settings.worker, sender, links=links, stop=stop,
                  waiting=Waiting.from_settings(store, settings.trustpilot), unsubscribe=unsubscribe_links(settings))


def run(settings: Settings, *, once: bool) -> None:
    """Deliver until SIGTERM or SIGINT (the invitation in hand is finished, the rest of the batch given back);
    with ``once``, deliver what is due now and print the tally."""
    stop = StopFlag()  # not threading.Event: its set() may deadlock inside a signal handler
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    runner = build_worker(settings, stop)
    try:
        if once:
            click.echo(str(runner.drain()))
        else:
            log.info("worker started with sender %r", settings.worker.sender)
            runner.run_forever()
            log.info("worker stopped")
    finally:
        runner.close()
        runner.sender.close()
        runner.store.close()  # the stop flag's pipe stays open: a late SIGTERM must not write to a reused fd


def deliver_due(settings: Settings) -> None:
    """Deliver what is due now and print the tally (``replay --deliver``: no signal handlers of its own)."""
    runner = build_worker(settings, threading.Event())
    try:
        click.echo(str(runner.drain()))
    finally:
        runner.close()
        runner.sender.close()
        runner.store.close()
