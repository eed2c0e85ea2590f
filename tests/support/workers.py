"""A worker built the way the CLI builds one."""

from __future__ import annotations

from typing import Any

from receiver.config import Settings
from receiver.links import LinkBuilder
from receiver.store import Store
from receiver.waiting import Waiting
from receiver.worker import Worker


def worker_for(store: Store, settings: Settings, sender: Any, **options: Any) -> Worker:
    """The worker's own group of the settings, the link builder of the Trustpilot group, and the settler of waiting
    orders (on the worker's clock, when the test gives one)."""
    clock = {"clock": options["clock"]} if "clock" in options else {}
    options.setdefault("waiting", Waiting.from_settings(store, settings.trustpilot, **clock))
    return Worker(store, settings.worker, sender, links=LinkBuilder.from_settings(settings.trustpilot), **options)
