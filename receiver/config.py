"""Every setting, read from the environment and checked once at start.

``load_settings`` reports every problem at once (``ConfigError.problems``, one readable line each);
nothing else in the package reads the environment. Secrets never appear in a problem's text.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from .bgl import DEFAULT_HOST, KeyProblem, Keys, load_key
from .text import DOMAIN as _DOMAIN  # load_settings checks TRUSTPILOT_DOMAIN and TRUSTPILOT_HOST with it
from .text import is_domain, is_locale, normal_locale

DEFAULT_DATABASE_URL = "sqlite:///receiver.db"
DEMO_DOMAIN = "example.com"
DEMO_API_KEY = "demo"
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*$")
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*((?:[kKmM][bB]?)?)\s*$")
_SIZE_UNITS = {"": 1, "K": 1024, "KB": 1024, "M": 1024 ** 2, "MB": 1024 ** 2}
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_TRUE, _FALSE = ("true", "1", "yes", "on"), ("false", "0", "no", "off")
SKU_MAP_HEADER = ("segment_sku", "trustpilot_sku")
MAX_SKU = 200
MIN_SECRET_KEY = 16


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
    # -- Segment dialects (issue 5) --
    shared_secrets: tuple[str, ...] = field(default=(), repr=False)  # X-Signature: hex HMAC-SHA1 of the body
    bearer_tokens: tuple[str, ...] = field(default=(), repr=False)  # Authorization: Bearer <token>
    allow_unauthenticated: bool = False  # only matters when no way to authenticate is configured
    force_host: bool = False  # TRUSTPILOT_HOST was set: every link uses it, whatever the locale
    locale_hosts: tuple[tuple[str, str], ...] = ()  # LOCALE_HOSTS: (locale, host) overrides of the shipped table
    suppress_audiences: tuple[str, ...] = ()  # trait names; true for a user -> no invitation
    tag_properties: tuple[str, ...] = ()  # properties that become tags "name:value"
    sku_map: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}), hash=False)
    # -- the web console (issue 8): on when console_password is set; secret_key signs its session --
    console_password: str = field(default="", repr=False)
    secret_key: str = field(default="", repr=False)
    # Everything the process was started with, for senders (built in or plugged in) to read their own settings.
    environ: Mapping[str, str] = field(default_factory=dict, repr=False, compare=False)

    @property
    def open_to_anyone(self) -> bool:
        """No way to authenticate Segment is configured, and ALLOW_UNAUTHENTICATED=true allows that."""
        return self.allow_unauthenticated and not (self.api_keys or self.shared_secrets or self.bearer_tokens)


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


def parse_bool(value: str | None) -> bool:
    """``true``/``1``/``yes``/``on`` or ``false``/``0``/``no``/``off`` (any case); ``ValueError`` otherwise."""
    text = (value or "").strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE or not text:
        return False
    raise ValueError(f"{value!r} is not true or false")


def parse_locale_hosts(value: str | None) -> tuple[tuple[str, str], ...]:
    """``"de-AT=at.trustpilot.com, nl=nl.trustpilot.com"`` -> ``(("de-AT", "at.trustpilot.com"), ("nl", ...))``.

    ``ValueError`` names the first item that is not ``locale=host``.
    """
    pairs: list[tuple[str, str]] = []
    for number, item in enumerate(parse_list(value), start=1):
        locale, sep, host = (part.strip() for part in item.partition("="))
        if not sep or not is_locale(locale):
            raise ValueError(f"item {number} is not locale=host (e.g. de-AT=at.trustpilot.com)")
        if not is_domain(host):
            raise ValueError(f"item {number}: the host must be a host name such as at.trustpilot.com")
        pairs.append((normal_locale(locale), host.lower()))
    return tuple(pairs)


def parse_sku_map(text: str, name: str = "SKU_MAP") -> dict[str, str]:
    """A CSV of ``segment_sku,trustpilot_sku`` rows -> a dict; ``ValueError`` lists every bad line.

    One mapping per row: the Segment ``sku`` or ``product_id``, then the SKU of the Trustpilot product
    catalogue. An optional header row ``segment_sku,trustpilot_sku``; blank lines and lines starting
    with ``#`` are skipped. A row with another number of cells, an empty cell, a SKU over 200
    characters or a Segment SKU mapped twice is an error naming its line.
    """
    mapping: dict[str, str] = {}
    first_line: dict[str, int] = {}
    problems: list[str] = []
    seen_row = False
    reader = csv.reader(io.StringIO(text, newline=""), skipinitialspace=True)
    try:
        for row in reader:
            line = reader.line_num
            cells = [cell.strip() for cell in row]
            if not any(cells) or cells[0].startswith("#"):
                continue
            is_header = not seen_row and tuple(cell.lower() for cell in cells) == SKU_MAP_HEADER
            seen_row = True
            if is_header:
                continue
            if len(cells) != 2:
                problems.append(f"{name} line {line}: expected 2 cells (Segment SKU, Trustpilot SKU), found {len(cells)}")
            elif not all(cells):
                problems.append(f"{name} line {line}: an empty cell")
            elif any(len(cell) > MAX_SKU for cell in cells):
                problems.append(f"{name} line {line}: a SKU longer than {MAX_SKU} characters")
            elif cells[0] in first_line:
                problems.append(f"{name} line {line}: this Segment SKU is already mapped on line {first_line[cells[0]]}")
            else:
                mapping[cells[0]] = cells[1]
                first_line[cells[0]] = line
    except csv.Error as exc:
        problems.append(f"{name} line {reader.line_num}: not valid CSV ({exc})")
    if problems:
        raise ValueError("\n".join(problems))
    return mapping


def read_sku_map(path: str) -> dict[str, str]:
    """``parse_sku_map`` of the UTF-8 file at ``path``; ``ValueError`` says why it cannot be used."""
    try:
        with open(path, encoding="utf-8-sig", newline="") as handle:
            text = handle.read()
    except OSError as exc:
        raise ValueError(f"SKU_MAP: cannot read {path} ({exc.strerror or type(exc).__name__})") from None
    except UnicodeDecodeError:
        raise ValueError(f"SKU_MAP: {path} is not UTF-8 text") from None
    mapping = parse_sku_map(text)
    if not mapping:
        raise ValueError(f"SKU_MAP: {path} maps no SKU")
    return mapping


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

    def flag(self, name: str, default: bool = False) -> bool:
        raw = self.text(name)
        if not raw:
            return default
        try:
            return parse_bool(raw)
        except ValueError:
            self.problems.append(f"{name} must be true or false")
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

    ``intake``: the process receives Segment messages, so it needs a way to authenticate them (an API key,
    a shared secret or a bearer token), unless ``ALLOW_UNAUTHENTICATED=true`` says otherwise explicitly.
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
    shared_secrets = parse_list(read.text("SEGMENT_SHARED_SECRETS"))
    bearer_tokens = parse_list(read.text("SEGMENT_BEARER_TOKENS"))
    allow_unauthenticated = read.flag("ALLOW_UNAUTHENTICATED")
    if demo and not (api_keys or shared_secrets or bearer_tokens):
        api_keys = (DEMO_API_KEY,)
    if any(any(char.isspace() for char in token) for token in bearer_tokens):
        read.problems.append("SEGMENT_BEARER_TOKENS: a token contains whitespace")
    if intake and not (api_keys or shared_secrets or bearer_tokens or allow_unauthenticated):
        read.problems.append("No way to authenticate Segment is set: SEGMENT_API_KEYS, SEGMENT_SHARED_SECRETS or "
                             "SEGMENT_BEARER_TOKENS (or ALLOW_UNAUTHENTICATED=true to accept anyone)")

    db_url = database_url(read.text("DATABASE_URL"))
    try:
        make_url(db_url)
    except ArgumentError:
        read.problems.append("DATABASE_URL is not a database URL (e.g. sqlite:///receiver.db or postgres://...)")

    host = read.text("TRUSTPILOT_HOST", DEFAULT_HOST)
    if not _DOMAIN.match(host):
        read.problems.append("TRUSTPILOT_HOST must be a host name such as www.trustpilot.com")
    try:
        locale_hosts = parse_locale_hosts(read.text("LOCALE_HOSTS"))
    except ValueError as exc:
        read.problems.append(f"LOCALE_HOSTS: {exc}")
        locale_hosts = ()
    sku_map: dict[str, str] = {}
    if read.text("SKU_MAP"):
        try:
            sku_map = read_sku_map(read.text("SKU_MAP"))
        except ValueError as exc:
            read.problems.extend(str(exc).splitlines())

    console_password = read.text("CONSOLE_PASSWORD")
    secret_key = read.text("SECRET_KEY")
    if console_password and not secret_key:
        read.problems.append("SECRET_KEY is not set: it signs the console's session and is required when "
                             "CONSOLE_PASSWORD turns the console on (e.g. the output of: openssl rand -hex 32)")
    elif console_password and len(secret_key) < MIN_SECRET_KEY:
        read.problems.append(f"SECRET_KEY must be at least {MIN_SECRET_KEY} characters long")

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
        shared_secrets=shared_secrets,
        bearer_tokens=bearer_tokens,
        allow_unauthenticated=allow_unauthenticated,
        force_host=bool(read.text("TRUSTPILOT_HOST")),
        locale_hosts=locale_hosts,
        suppress_audiences=parse_list(read.text("SUPPRESS_AUDIENCES")),
        tag_properties=parse_list(read.text("TAG_PROPERTIES")),
        sku_map=MappingProxyType(sku_map),
        console_password=console_password,
        secret_key=secret_key,
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


# -- showing the configuration -----------------------------------------------------------------------

# Every setting a user can give, with the default shown when it is not given.
KNOWN_SETTINGS: tuple[tuple[str, str], ...] = (
    ("TRUSTPILOT_DOMAIN", ""), ("TRUSTPILOT_ENCRYPT_KEY", ""), ("TRUSTPILOT_AUTH_KEY", ""),
    ("SEGMENT_API_KEYS", ""), ("SEGMENT_SHARED_SECRETS", ""), ("SEGMENT_BEARER_TOKENS", ""),
    ("ALLOW_UNAUTHENTICATED", "false"), ("DATABASE_URL", DEFAULT_DATABASE_URL), ("DB_TIMEOUT", "5s"),
    ("SENDER", "log"), ("SMTP_URL", ""), ("SMTP_CA_FILE", ""), ("SMTP_TIMEOUT", "30s"), ("MAIL_FROM", ""),
    ("MAIL_REPLY_TO", ""), ("MAIL_BCC", ""), ("BUSINESS_NAME", ""), ("TEMPLATE_DIR", ""), ("CALLBACK_URL", ""),
    ("CALLBACK_SECRET", ""), ("CALLBACK_HEADERS", ""), ("CALLBACK_TIMEOUT", "10s"), ("TRUSTPILOT_TAGS", ""),
    ("TAG_PROPERTIES", ""), ("SKU_MAP", ""), ("SUPPRESS_AUDIENCES", ""), ("DEFAULT_NAME", "Customer"),
    ("TRUSTPILOT_HOST", ""), ("LOCALE_HOSTS", ""), ("MAX_ATTEMPTS", "8"), ("INVITATION_DELAY", "0"),
    ("MAX_EVENT_AGE", "0"), ("DEDUPE_ORDERS", "true"), ("LEASE", "120s"), ("POLL_INTERVAL", "1s"),
    ("WORKER_BATCH", "50"), ("RETENTION", "30d"), ("MAX_BODY", "16MB"), ("MAX_BATCH", "4000"),
    ("PORT", "8000"), ("WEB_CONCURRENCY", "2"), ("LOG_LEVEL", "INFO"), ("LOG_FORMAT", "text"),
    ("CONSOLE_PASSWORD", ""), ("SECRET_KEY", ""),
)
SECRET_SETTINGS = frozenset({
    "TRUSTPILOT_ENCRYPT_KEY", "TRUSTPILOT_AUTH_KEY", "SEGMENT_API_KEYS", "SEGMENT_SHARED_SECRETS",
    "SEGMENT_BEARER_TOKENS", "CALLBACK_SECRET", "CALLBACK_HEADERS", "CONSOLE_PASSWORD", "SECRET_KEY",
})
URL_SETTINGS = frozenset({"DATABASE_URL", "SMTP_URL", "CALLBACK_URL"})


def mask_url(url: str) -> str:
    """``scheme://user:secret@host/db`` -> ``scheme://user:***@host/db``; query strings dropped."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url
    rest = rest.split("?", 1)[0]
    credentials, at, location = rest.rpartition("@")
    if at and ":" in credentials:
        credentials = credentials.split(":", 1)[0] + ":***"
    return f"{scheme}://{credentials}{at}{location}"


def describe(environ: Mapping[str, str]) -> list[tuple[str, str]]:
    """Each known setting and the value in force, secrets masked: for ``receiver config`` and the console."""
    shown = []
    for name, default in KNOWN_SETTINGS:
        given = (environ.get(name) or "").strip()
        if name in SECRET_SETTINGS:
            count = len(parse_list(given)) if name.startswith("SEGMENT_") else 1
            value = (f"*** ({count} set)" if count > 1 else "*** (set)") if given else "(not set)"
        elif given:
            value = mask_url(given) if name in URL_SETTINGS else given
        else:
            value = f"{default} (default)" if default else "(not set)"
        shown.append((name, value))
    return shown
