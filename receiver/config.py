"""Every setting, read from the environment and checked once at start.

``load_settings`` reports every problem at once (``ConfigError.problems``, one readable line each);
nothing else in the package reads the environment. Secrets never appear in a problem's text.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from .bgl import DEFAULT_HOST, KeyProblem, Keys, load_key

DEFAULT_DATABASE_URL = "sqlite:///receiver.db"
DEMO_DOMAIN = "example.com"
DEMO_API_KEY = "demo"
_DOMAIN = re.compile(r"^(?=.{1,253}$)([A-Za-z0-9\u00a0-\uffff]([A-Za-z0-9\-\u00a0-\uffff]*[A-Za-z0-9\u00a0-\uffff])?\.)+"
                     r"[A-Za-z0-9\u00a0-\uffff\-]{2,63}$")
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*$")
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*((?:[kKmM][bB]?)?)\s*$")
_SIZE_UNITS = {"": 1, "K": 1024, "KB": 1024, "M": 1024 ** 2, "MB": 1024 ** 2}
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def demo_keys() -> Keys:
    """Fixed, published, worthless keys: anyone can decode a demo link, which is the point."""
    return Keys(
        hashlib.sha256(b"receiver demo encryption key").digest(),
        hashlib.sha256(b"receiver demo authentication key").digest(),
    )


class ConfigError(Exception):
    def __init__(self, problems: list[str]):
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class Settings:
    domain: str
    keys: Keys = field(repr=False)
    api_keys: tuple[str, ...] = field(default=(), repr=False)
    database_url: str = DEFAULT_DATABASE_URL
    sender: str = "log"
    tags: tuple[str, ...] = ()
    default_name: str = "Customer"
    trustpilot_host: str = DEFAULT_HOST
    max_attempts: int = 8
    lease_seconds: float = 120.0
    poll_seconds: float = 1.0
    worker_batch: int = 50
    db_timeout: float = 5.0
    invitation_delay: float = 0.0
    max_event_age: float = 0.0  # 0: no limit
    dedupe_orders: bool = True
    retention: float = 30 * 86400.0
    max_body: int = 16 * 1024 * 1024
    max_batch: int = 4000
    demo: bool = False
    # Everything the process was started with, for senders (built in or plugged in) to read their own settings.
    environ: Mapping[str, str] = field(default_factory=dict, repr=False, compare=False)


def parse_list(value: str | None) -> tuple[str, ...]:
    """``"a, b,,c"`` -> ``("a", "b", "c")``."""
    return tuple(item.strip() for item in (value or "").split(",") if item.strip())


def parse_duration(value: str) -> float:
    """``"0"``, ``"90"``, ``"30s"``, ``"15m"``, ``"12h"``, ``"3d"``, ``"2w"`` -> seconds."""
    match = _DURATION.match(value or "")
    if not match:
        raise ValueError(f"{value!r} is not a duration such as 30s, 15m, 12h or 3d")
    return float(match.group(1)) * _UNITS[match.group(2)]


def parse_size(value: str) -> int:
    """``"1048576"``, ``"512KB"``, ``"16MB"`` -> bytes."""
    match = _SIZE.match(value or "")
    if not match:
        raise ValueError(f"{value!r} is not a size such as 512KB or 16MB")
    return int(float(match.group(1)) * _SIZE_UNITS[match.group(2).upper()])


def database_url(value: str | None) -> str:
    """Heroku's ``postgres://`` and plain ``postgresql://`` both mean psycopg 3."""
    url = (value or "").strip() or DEFAULT_DATABASE_URL
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


class _Reader:
    """Reads settings from one environment, collecting problems instead of stopping at the first."""

    def __init__(self, environ: Mapping[str, str]):
        self.environ = environ
        self.problems: list[str] = []

    def text(self, name: str, default: str = "") -> str:
        return (self.environ.get(name) or "").strip() or default

    def number(self, name: str, default: float, *, integer: bool = False, minimum: float = 0) -> float:
        raw = self.text(name)
        if not raw:
            return default
        try:
            value = int(raw) if integer else float(raw)
        except ValueError:
            self.problems.append(f"{name} must be a {'whole ' if integer else ''}number, not {raw!r}")
            return default
        if value < minimum:
            self.problems.append(f"{name} must be at least {minimum:g}")
            return default
        return value

    def duration(self, name: str, default: str) -> float:
        try:
            return parse_duration(self.text(name, default))
        except ValueError as exc:
            self.problems.append(f"{name}: {exc}")
            return parse_duration(default)

    def flag(self, name: str, default: bool) -> bool:
        raw = self.text(name).lower()
        if not raw:
            return default
        if raw in ("1", "true", "yes", "on"):
            return True
        if raw in ("0", "false", "no", "off"):
            return False
        self.problems.append(f"{name} must be true or false, not {raw!r}")
        return default

    def size(self, name: str, default: str) -> int:
        try:
            return parse_size(self.text(name, default))
        except ValueError as exc:
            self.problems.append(f"{name}: {exc}")
            return parse_size(default)

    def key(self, name: str) -> bytes:
        try:
            return load_key(self.text(name), name)
        except KeyProblem as exc:
            self.problems.append(str(exc))
            return b""


def load_settings(environ: Mapping[str, str], *, demo: bool = False, intake: bool = False) -> Settings:
    """All settings from ``environ``; ``ConfigError`` lists every problem.

    ``intake``: the process receives Segment messages, so it needs a way to authenticate them.
    ``demo``: throwaway keys, domain and API key stand in for the ones not set.
    """
    read = _Reader(environ)
    domain = read.text("TRUSTPILOT_DOMAIN", DEMO_DOMAIN if demo else "")
    if not domain:
        read.problems.append("TRUSTPILOT_DOMAIN is not set (your domain as registered on Trustpilot, e.g. example.com)")
    elif not _DOMAIN.match(domain):
        read.problems.append("TRUSTPILOT_DOMAIN must be a bare domain such as example.com (no scheme, no path)")

    if demo and not (read.text("TRUSTPILOT_ENCRYPT_KEY") or read.text("TRUSTPILOT_AUTH_KEY")):
        keys = demo_keys()
    else:
        keys = Keys(read.key("TRUSTPILOT_ENCRYPT_KEY"), read.key("TRUSTPILOT_AUTH_KEY"))

    api_keys = parse_list(read.text("SEGMENT_API_KEYS"))
    if demo and not api_keys:
        api_keys = (DEMO_API_KEY,)
    if intake and not api_keys:
        read.problems.append("SEGMENT_API_KEYS is not set: the API key(s) Segment sends, comma-separated")

    db_url = database_url(read.text("DATABASE_URL"))
    try:
        make_url(db_url)
    except ArgumentError:
        read.problems.append("DATABASE_URL is not a database URL (e.g. sqlite:///receiver.db or postgres://...)")

    host = read.text("TRUSTPILOT_HOST", DEFAULT_HOST)
    if not _DOMAIN.match(host):
        read.problems.append("TRUSTPILOT_HOST must be a host name such as www.trustpilot.com")

    settings = Settings(
        domain=domain,
        keys=keys,
        api_keys=api_keys,
        database_url=db_url,
        sender=read.text("SENDER", "log").lower(),
        tags=parse_list(read.text("TRUSTPILOT_TAGS")),
        default_name=read.text("DEFAULT_NAME", "Customer"),
        trustpilot_host=host,
        max_attempts=int(read.number("MAX_ATTEMPTS", 8, integer=True, minimum=1)),
        lease_seconds=read.duration("LEASE", "120s"),
        poll_seconds=read.duration("POLL_INTERVAL", "1s"),
        worker_batch=int(read.number("WORKER_BATCH", 50, integer=True, minimum=1)),
        db_timeout=read.duration("DB_TIMEOUT", "5s"),
        invitation_delay=read.duration("INVITATION_DELAY", "0"),
        max_event_age=read.duration("MAX_EVENT_AGE", "0"),
        dedupe_orders=read.flag("DEDUPE_ORDERS", True),
        retention=read.duration("RETENTION", "30d"),
        max_body=read.size("MAX_BODY", "16MB"),
        max_batch=int(read.number("MAX_BATCH", 4000, integer=True, minimum=1)),
        demo=demo,
        environ=dict(environ),
    )
    if read.problems:
        raise ConfigError(read.problems)
    return settings


def demo_banner(settings: Settings) -> str:
    lines = ["*** DEMO MODE: throwaway Trustpilot keys, NOT for real customers. ***",
             f"*** domain={settings.domain}, Segment API key {settings.api_keys[0]!r} ***"
             if settings.api_keys == (DEMO_API_KEY,) else f"*** domain={settings.domain} ***"]
    if settings.keys == demo_keys():  # published and worthless, so they may be shown
        lines.append(f"*** TRUSTPILOT_ENCRYPT_KEY={base64.b64encode(settings.keys.encrypt).decode()} ***")
        lines.append(f"*** TRUSTPILOT_AUTH_KEY={base64.b64encode(settings.keys.auth).decode()} ***")
    return "\n".join(lines)
