"""app.json's ``env``, made from ``config.SETTINGS``: every setting an operator sets on Heroku, with its
description and whether the app needs it (``scripts/app-json`` writes it into app.json; a test compares them).

Left out are the settings the platform sets (``SET_BY_THE_PLATFORM``); ``SENDER``, which the worker needs, is
required. A sender's own settings are required only
with that sender, so app.json marks them optional and says so. The secrets this service makes up for itself get
Heroku's ``generator: secret`` (64 hexadecimal digits, which ``DATA_KEY`` takes as its 32 bytes too)."""

from __future__ import annotations

import re
from typing import Any

from .config import HTTP, SETTINGS, SMTP
from .declare import Setting

SET_BY_THE_PLATFORM = {
    "PORT": "the router's port, set by Heroku",
    "DATABASE_URL": "set by the heroku-postgresql add-on",
    "PROMETHEUS_MULTIPROC_DIR": "set by receiver serve",
}
GENERATED = ("SEGMENT_API_KEYS", "DATA_KEY", "SECRET_KEY", "METRICS_TOKEN")  # made up at deploy: copy the API key
ON_HEROKU = {"LOG_FORMAT": "json"}  # where a Heroku app wants other than the default: its log drains read JSON
SENDER_GROUPS = {SMTP: "smtp", HTTP: "http"}
WORKER_NEEDS = ("SENDER",)  # not required by every command, but by the worker, which app.json's formation runs
LINK = re.compile(r"\[([^\]]+)\]\([^)]*\)")


def plain(text: str) -> str:
    """A README cell as plain text: ``[Senders](#senders)`` -> ``Senders``, no backticks, no emphasis."""
    return LINK.sub(r"\1", text).replace("`", "").replace("*", "")


def description(setting: Setting) -> str:
    parts = [plain(setting.description)]
    sender = SENDER_GROUPS.get(setting.group)
    if sender and setting.required:
        parts.append(f"Required with SENDER={sender}.")
    if setting.default:
        parts.append(f"Default: {setting.default}.")
    if setting.name in GENERATED:
        parts.append("Made up at deploy.")
    return " ".join(parts)


def env() -> dict[str, dict[str, Any]]:
    """app.json's ``env`` object, in the order of ``SETTINGS``."""
    entries: dict[str, dict[str, Any]] = {}
    for setting in SETTINGS:
        if setting.name in SET_BY_THE_PLATFORM:
            continue
        entry: dict[str, Any] = {"description": description(setting),
                                 "required": setting.name in WORKER_NEEDS
                                 or (setting.required and setting.group not in SENDER_GROUPS)}
        if setting.name in GENERATED:
            entry["generator"] = "secret"
        if setting.name in ON_HEROKU:
            entry["value"] = ON_HEROKU[setting.name]
        entries[setting.name] = entry
    return entries
