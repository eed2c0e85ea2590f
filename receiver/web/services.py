"""What the app's views use, in one typed object under ``app.extensions``, built once by ``create_app``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from flask import Flask, current_app

from ..config import Settings
from ..intake import Intake
from ..ratelimit import RateLimiter
from ..store import Store

if TYPE_CHECKING:
    from ..console import LoginLimiter

SERVICES = "receiver"  # the key of the app's ``Services`` in ``app.extensions``


@dataclass(frozen=True)
class Services:
    """``login_limiter`` is the console's (None when the console is off); ``unsubscribe_limiter`` the unsubscribe
    page's."""

    settings: Settings
    store: Store
    intake: Intake
    clock: Callable[[], datetime]
    unsubscribe_limiter: RateLimiter
    login_limiter: LoginLimiter | None = None


def services(app: Flask | None = None) -> Services:
    """The services of ``app``, or of the app handling the current request."""
    return (app or current_app).extensions[SERVICES]
