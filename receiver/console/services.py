"""The one place where the console reads the app's services (``receiver.web.services``): the rest of the console
calls these functions, so a change of how the app holds its services is a change here alone."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING

from flask import Flask

from ..clock import Clock
from ..config import Settings
from ..intake import Intake
from ..store import Store
from ..web.services import SERVICES, services

if TYPE_CHECKING:
    from .limiter import LoginLimiter


def settings() -> Settings:
    return services().settings


def store() -> Store:
    return services().store


def intake() -> Intake:
    return services().intake


def clock(app: Flask | None = None) -> Clock:
    return services(app).clock


def now() -> datetime:
    return clock()()


def limiter() -> LoginLimiter:
    found = services().login_limiter
    assert found is not None, "the console is registered by init_app, which sets the limiter"
    return found


def keep(app: Flask, login_limiter: LoginLimiter) -> None:
    """The app's services with the console's login limiter (one per process)."""
    app.extensions[SERVICES] = replace(services(app), login_limiter=login_limiter)
