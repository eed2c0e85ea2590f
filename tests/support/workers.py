"""A worker built the way the CLI builds one."""

from __future__ import annotations

from typing import Any

from receiver.config import Settings
from receiver.links import LinkBuilder
from receiver.store import Store
from receiver.worker import Worker


def worker_for(store: Store, settings: Settings, sender: Any, **options: Any) -> Worker:
    """The worker's own group of the settings, and the link builder of the Trustpilot group."""
    return Worker(store, settings.worker, sender, links=LinkBuilder.from_settings(settings.trustpilot), **options)
