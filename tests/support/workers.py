"""A worker built the way the CLI builds one, and what the worker tests drive it with."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from receiver.config import Settings, load_settings
from receiver.invitation import Invitation
from receiver.links import LinkBuilder
from receiver.senders import ReadyInvitation
from receiver.store import NewInvitation, Store
from receiver.unsubscribe import UnsubscribeLinks
from receiver.waiting import Waiting
from receiver.worker import Backoff, Worker
from support.data import base_env


def worker_for(store: Store, settings: Settings, sender: Any, **options: Any) -> Worker:
    """The worker's own group of the settings, the link builder of the Trustpilot group, the settler of waiting
    orders (on the worker's clock, when the test gives one) and the unsubscribe links (with PUBLIC_URL)."""
    clock = {"clock": options["clock"]} if "clock" in options else {}
    options.setdefault("waiting", Waiting.from_settings(store, settings.trustpilot, **clock))
    options.setdefault("unsubscribe", UnsubscribeLinks.from_settings(settings.worker.public_url,
                                                                     settings.database.data_key))
    return Worker(store, settings.worker, sender, links=LinkBuilder.from_settings(settings.trustpilot), **options)


class ScriptedSender:
    """A real sender that fails as scripted (raises each of ``failures`` in turn), then succeeds; keeps what it
    delivered."""

    def __init__(self, *failures: Exception) -> None:
        self.failures = list(failures)
        self.delivered: list[ReadyInvitation] = []

    def send(self, invitation: ReadyInvitation) -> None:
        if self.failures:
            raise self.failures.pop(0)
        self.delivered.append(invitation)

    def close(self) -> None:
        pass


def make_worker(store: Store, clock: Callable[[], datetime], sender: Any, **env: str) -> tuple[Worker, Settings]:
    """A worker on ``base_env`` (plus ``env``) with the test's clock, no jitter, a fixed IV and a 60 s backoff."""
    settings = load_settings(base_env(**env))
    return worker_for(store, settings, sender, clock=clock, rand=lambda: 1.0, iv_source=lambda: bytes(16),
                      backoff=Backoff(base_seconds=60, cap_seconds=3600)), settings


def add_invitation(store: Store, clock: Callable[[], datetime], ref: str = "R-1", **fields: Any) -> None:
    """Ann Lee's invitation for order ``ref`` (message ``m-<ref>``), stored as intake stores it."""
    invitation = Invitation(message_id=f"m-{ref}", email="ann@example.com", name="Ann Lee", ref=ref, **fields)
    store.outbox.add([NewInvitation(invitation)], domain="example.com", now=clock())
