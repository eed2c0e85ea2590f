"""The value types of settings: text, flags, numbers, durations, sizes, lists, keys, database URLs.

Each is a ``declare.Kind``: it turns the text of one environment variable into a value, or says in one line
per problem what is wrong, naming the variable. Kinds used for secrets never repeat the text they were given.
The kinds of the built-in senders' settings are in ``sender_setting_types``, the SKU_MAP file in ``sku_map``.

Longer than 300 lines on purpose: one small class per kind of value, each with its own problem lines; they
share the range and masking helpers at the top.
"""

from __future__ import annotations

import re
import string
from collections.abc import Callable, Sequence
from re import Pattern as Regex
from typing import Any

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from .bgl import KEY_SIZE, KeyProblem, load_key
from .declare import Kind, Setting

DEFAULT_DATABASE_URL = "sqlite:///receiver.db"
DATABASE_DRIVERS = ("sqlite", "sqlite+pysqlite", "postgresql+psycopg")  # the drivers the package installs
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*$")
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*((?:[kKmM][bB]?)?)\s*$")
_SIZE_UNITS = {"": 1, "K": 1024, "KB": 1024, "M": 1024 ** 2, "MB": 1024 ** 2}
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_TRUE, _FALSE = ("true", "1", "yes", "on"), ("false", "0", "no", "off")
TEN_YEARS = 3650 * 86400.0


# -- the text forms ----------------------------------------------------------------------------------

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
    size = float(match.group(1)) * _SIZE_UNITS[match.group(2).upper()]
    return int(min(size, 2.0 ** 63))  # a number too long for a float is simply too large


def parse_bool(value: str | None) -> bool:
    """``true``/``1``/``yes``/``on`` or ``false``/``0``/``no``/``off`` (any case); ``ValueError`` otherwise."""
    text = (value or "").strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE or not text:
        return False
    raise ValueError(f"{value!r} is not true or false")


def database_url(value: str | None) -> str:
    """Heroku's ``postgres://`` and plain ``postgresql://`` both mean psycopg 3."""
    url = (value or "").strip() or DEFAULT_DATABASE_URL
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


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


def _in_units(amount: float, units: Sequence[tuple[str, float]]) -> str:
    """The largest unit that divides ``amount`` exactly: ``3600`` -> ``1h``."""
    for unit, size in units:
        if amount and amount % size == 0:
            return f"{amount / size:g}{unit}"
    return f"{amount:g}{units[-1][0]}"


def human_duration(seconds: float) -> str:
    return _in_units(seconds, (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)))


def human_size(size: float) -> str:
    return _in_units(size, (("MB", 1024 ** 2), ("KB", 1024), ("", 1)))


# -- the kinds ---------------------------------------------------------------------------------------

class Text(Kind):
    """Any text (``lower``: compared in lower case, as a sender's name)."""

    def __init__(self, *, lower: bool = False, label: str = "text"):
        super().__init__(empty="")
        self.lower = lower
        self.label = label

    def parse(self, text: str, setting: Setting) -> str:
        return text.lower() if self.lower else text


class Passphrase(Text):
    """A secret text of at least ``minimum`` characters (never repeated)."""

    def __init__(self, minimum: int):
        super().__init__(label=f"text, at least {minimum} characters")
        self.minimum = minimum
        self.refused = ("x", "s" * (minimum - 1))

    def parse(self, text: str, setting: Setting) -> str:
        if len(text) < self.minimum:
            raise ValueError(f"{setting.name} must be at least {self.minimum} characters long")
        return text


class Choice(Kind):
    def __init__(self, *options: str):
        super().__init__(empty=options[0])
        self.options = options
        self.label = f"{', '.join(options[:-1])} or {options[-1]}"
        self.refused = ("loud",)

    def parse(self, text: str, setting: Setting) -> str:
        for option in self.options:
            if text.lower() == option.lower():
                return option
        raise ValueError(f"{setting.name} must be {self.label}")


class Flag(Kind):
    label = "true or false"
    refused = ("perhaps",)

    def __init__(self) -> None:
        super().__init__(empty=False)

    def parse(self, text: str, setting: Setting) -> bool:
        try:
            return parse_bool(text)
        except ValueError:
            raise ValueError(f"{setting.name} must be true or false") from None


class Whole(Kind):
    """A whole number from ``minimum`` to ``maximum``."""

    def __init__(self, minimum: int, maximum: int):
        super().__init__(empty=minimum)
        self.minimum, self.maximum = minimum, maximum
        self.label = f"whole number, {minimum} to {maximum}"
        self.refused = ("many", "2.5", str(minimum - 1), str(maximum + 1))

    def parse(self, text: str, setting: Setting) -> int:
        try:
            number = int(text)
        except ValueError:
            raise ValueError(f"{setting.name} must be a whole number, not {text!r}") from None
        if number < self.minimum:
            raise ValueError(f"{setting.name} must be at least {self.minimum}")
        if number > self.maximum:
            raise ValueError(f"{setting.name} must be at most {self.maximum}")
        return number


class Duration(Kind):
    """Seconds, written ``90``, ``30s``, ``15m``, ``12h``, ``3d`` or ``2w``; ``positive``: 0 is refused."""

    def __init__(self, *, maximum: float = TEN_YEARS, positive: bool = False):
        super().__init__(empty=0.0)
        self.maximum, self.positive = maximum, positive
        self.label = f"duration, {'over 0' if positive else '0'} to {human_duration(maximum)}"
        self.refused = ("forever", "-1s", "3x", f"{int(maximum) + 1}s", *(("0",) if positive else ()))

    def parse(self, text: str, setting: Setting) -> float:
        try:
            seconds = parse_duration(text)
        except ValueError as exc:
            raise ValueError(f"{setting.name}: {exc}") from None
        if self.positive and seconds <= 0:
            raise ValueError(f"{setting.name} must be more than 0")
        if seconds > self.maximum:
            raise ValueError(f"{setting.name} must be at most {human_duration(self.maximum)}")
        return seconds


class Timeout(Duration):
    """A sender's timeout: a duration over 0, at most an hour."""

    def __init__(self) -> None:
        super().__init__(maximum=3600.0, positive=True)

    def parse(self, text: str, setting: Setting) -> float:
        try:
            seconds = parse_duration(text)
        except ValueError:
            seconds = 0.0
        if seconds <= 0:
            raise ValueError(f"{setting.name} must be a duration such as {setting.default} or 2m")
        if seconds > self.maximum:
            raise ValueError(f"{setting.name} must be at most {human_duration(self.maximum)}")
        return seconds


class Size(Kind):
    """Bytes, written ``1048576``, ``512KB`` or ``16MB``."""

    def __init__(self, minimum: int, maximum: int):
        super().__init__(empty=minimum)
        self.minimum, self.maximum = minimum, maximum
        self.label = f"size, {human_size(minimum)} to {human_size(maximum)}"
        self.refused = ("lots", "-1MB", human_size(maximum * 2))

    def parse(self, text: str, setting: Setting) -> int:
        try:
            size = parse_size(text)
        except ValueError as exc:
            raise ValueError(f"{setting.name}: {exc}") from None
        if size < self.minimum:
            raise ValueError(f"{setting.name} must be at least {human_size(self.minimum)}")
        if size > self.maximum:
            raise ValueError(f"{setting.name} must be at most {human_size(self.maximum)}")
        return size


class Items(Kind):
    """A comma-separated list; ``no_whitespace``: an item with white space in it is refused; ``no_colon``: an item
    with a ``:`` is refused, saying ``no_colon`` (why it could never be used)."""

    label = "comma-separated list"

    def __init__(self, *, item: str = "item", no_whitespace: bool = False, no_colon: str = ""):
        super().__init__(empty=())
        self.item, self.no_whitespace, self.no_colon = item, no_whitespace, no_colon
        self.refused = (("has space",) if no_whitespace else ()) + (("k1,user:password",) if no_colon else ())

    def parse(self, text: str, setting: Setting) -> tuple[str, ...]:
        items = parse_list(text)
        if self.no_whitespace and any(any(char.isspace() for char in item) for item in items):
            raise ValueError(f"{setting.name}: a {self.item} contains whitespace")
        if self.no_colon and any(":" in item for item in items):
            raise ValueError(f"{setting.name}: a {self.item} contains ':', {self.no_colon}")
        return items

    def shown(self, text: str, setting: Setting) -> str:
        if not setting.secret:
            return text
        count = len(parse_list(text))
        return f"*** ({count} set)" if count > 1 else "*** (set)"


class Pattern(Kind):
    """Text matching ``regex``; otherwise ``NAME {message}``."""

    def __init__(self, regex: Regex[str], message: str, *, label: str, refused: tuple[str, ...], empty: str = ""):
        super().__init__(empty=empty)
        self.regex, self.message, self.label, self.refused = regex, message, label, refused

    def parse(self, text: str, setting: Setting) -> str:
        if not self.regex.match(text):
            raise ValueError(f"{setting.name} {self.message}")
        return text


class Parsed(Kind):
    """Whatever ``parse`` makes of the text; its ``ValueError`` becomes ``NAME: {message}``."""

    def __init__(self, parse: Callable[[str], Any], *, empty: Any, label: str, refused: tuple[str, ...]):
        super().__init__(empty=empty)
        self.function, self.label, self.refused = parse, label, refused

    def parse(self, text: str, setting: Setting) -> Any:
        try:
            return self.function(text)
        except ValueError as exc:
            raise ValueError(f"{setting.name}: {exc}") from None


class Key(Kind):
    """A key of 32 bytes in base64, as Trustpilot shows its keys; ``hex_too``: or as 64 hexadecimal digits, as
    Heroku's ``generator: secret`` makes one (app.json). No base64 text of 32 bytes is 64 characters long, so the
    two never mix up."""

    label = "base64 key, 32 bytes"
    refused = ("nope!", "c2hvcnQ=")

    def __init__(self, *, hex_too: bool = False) -> None:
        super().__init__(empty=b"")
        self.hex_too = hex_too
        if hex_too:
            self.label = "32-byte key: base64 or 64 hex digits"

    def parse(self, text: str, setting: Setting) -> bytes:
        if self.hex_too and len(text) == 2 * KEY_SIZE and all(c in string.hexdigits for c in text):
            return bytes.fromhex(text)
        try:
            return load_key(text, setting.name)
        except KeyProblem as exc:
            raise ValueError(str(exc)) from None


class DatabaseUrl(Kind):
    """SQLite or PostgreSQL; ``postgres://`` and ``postgresql://`` mean psycopg 3. Never repeated: it may hold
    a password."""

    label = "database URL"
    refused = ("garbage", "mysql://x", "postgres://db.example.com:abc/receiver", "postgres://h:99999/db",
               "postgresql+psycopg2://h/db")

    def __init__(self) -> None:
        super().__init__(empty=DEFAULT_DATABASE_URL)

    def parse(self, text: str, setting: Setting) -> str:
        url = database_url(text)
        try:
            parsed = make_url(url)
            port = parsed.port
        except (ArgumentError, ValueError):
            raise ValueError(f"{setting.name} is not a database URL (e.g. sqlite:///receiver.db or "
                             "postgres://...)") from None
        if parsed.drivername not in DATABASE_DRIVERS:
            raise ValueError(f"{setting.name} must be a SQLite or PostgreSQL URL (sqlite:///... or postgres://...), "
                             f"not {parsed.drivername[:30]}")
        if port is not None and not 0 < port < 65536:
            raise ValueError(f"{setting.name} has a port out of range")
        return url

    def shown(self, text: str, setting: Setting) -> str:
        return mask_url(text)
