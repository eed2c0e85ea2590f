"""The one place where the console reads the app's services and its own state out of ``app.extensions``: the rest
of the console calls these functions, so a change of how the app holds its services is a change here alone."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from flask import Flask, current_app

from ..clock import Clock
from ..config import Settings
from ..intake import Intake
from ..store import Store

if TYPE_CHECKING:
    from .limiter import LoginLimiter

CONSOLE = "receiver.console"  # the console's own entry


@dataclass(frozen=True)
class ConsoleState:
    """What the console keeps per app (per process)."""

    limiter: LoginLimiter


def settings() -> Settings:
    return current_app.extensions["receiver.settings"]


def store() -> Store:
    return current_app.extensions["receiver.store"]


def intake() -> Intake:
    return current_app.extensions["receiver.intake"]


def clock(app: Flask | None = None) -> Clock:
    return (current_app if app is None else app).extensions["receiver.clock"]


def now() -> datetime:
    return clock()()


def limiter() -> LoginLimiter:
    state: ConsoleState = current_app.extensions[CONSOLE]
    return state.limiter


def keep(app: Flask, state: ConsoleState) -> None:
    app.extensions[CONSOLE] = state
