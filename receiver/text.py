"""The text rules every part shares: email addresses, host names, locale tags, and free text as a field.

Pure: strings in, strings out (no Flask, no store, no sender). Each rule is written here once, so that changing
one (the email check to a validating library, say) is an edit to this module alone.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Iterator
from typing import Any

from email_validator import EmailNotValidError, validate_email

MAX_EMAIL = 254
MAX_LOCAL_PART = 64  # octets (RFC 5321)
MAX_TAG = 64

# A host name (a domain as registered on Trustpilot, a Trustpilot host); IDN labels are allowed as Unicode.
DOMAIN = re.compile(r"^(?=.{1,253}$)([A-Za-z0-9\u00a0-\uffff]([A-Za-z0-9\-\u00a0-\uffff]*[A-Za-z0-9\u00a0-\uffff])?\.)+"
                    r"[A-Za-z0-9\u00a0-\uffff\-]{2,63}$")
# A plausible locale tag: a language, then up to three subtags (script, region, variant), ``-`` or ``_`` between.
LOCALE = re.compile(r"^[A-Za-z]{2,3}([-_][A-Za-z0-9]{2,8}){0,3}$")
_LANGUAGE = re.compile(r"^[a-z]{2,3}$")
_SUBTAG = re.compile(r"^[A-Za-z0-9]{1,8}$")
MAX_LOCALE_TAG = 200  # characters of a locale tag read at all
_SUBTAG_SEPARATOR = re.compile(r"[-_]")
_POSIX_SUFFIX = re.compile(r"[.@].*$", re.DOTALL)  # ``de_DE.UTF-8@euro``: a POSIX locale's codeset and modifier
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_SPACE = re.compile(r"\s+")


# -- email addresses --------------------------------------------------------------------------------

def valid_email(value: Any) -> str | None:
    """``value`` as the address to store and send, or None when it is not an address an invitation can go to. The
    one check of an address, wherever one comes in.

    Checked and normalised by ``email-validator`` (no DNS): white space around it removed, the local part in NFC
    and as sent otherwise (a mailbox may care about case), the domain in IDNA form (ASCII, lower case). A local
    part that would need quoting (``root,jane``, ``a"b``, ``(c)a``), a display name, an IP literal and an odd
    domain (``-x.com``, ``xn--.com``, a line separator in it) are refused, so that the address stored is exactly
    the one every sender writes in its envelope (``smtplib`` re-parses what it is given)."""
    if not isinstance(value, str) or len(value) > 4 * MAX_EMAIL:
        return None
    try:
        checked = validate_email(value.strip(), check_deliverability=False)
    except (EmailNotValidError, UnicodeError, ValueError):
        return None
    email = f"{checked.local_part}@{checked.ascii_domain}"
    too_long = len(checked.local_part.encode("utf-8")) > MAX_LOCAL_PART or len(email) > MAX_EMAIL
    if too_long or not email.isprintable() or has_uncarriable(email):
        return None
    return email



def normal_address(value: Any) -> str | None:
    """The one form of an address that lookups compare (the address key is made of it): ``valid_email``'s form
    with the local part NFKC-normalised and case-folded (``Jörg.Müller@Example.COM`` and
    ``jörg.müller@example.com`` are one customer), the domain in IDNA form, lower case (``åsa@bücher.de`` and
    ``åsa@xn--bcher-kva.de`` are one). None when ``value`` is not an address at all."""
    email = valid_email(value)
    if email is None:
        return None
    local, _, domain = email.rpartition("@")
    return f"{unicodedata.normalize('NFKC', local).casefold()}@{domain.lower()}"

# -- host names -------------------------------------------------------------------------------------

def is_domain(value: str) -> bool:
    """``example.com``, ``de.trustpilot.com``: a bare host name (no scheme, port or path)."""
    return bool(DOMAIN.match(value))


# -- locales ----------------------------------------------------------------------------------------

def is_locale(value: str) -> bool:
    """``de-DE``, ``en_GB``, ``fr``, ``zh-Hant-TW``: a plausible locale tag, in any case, either separator."""
    return bool(LOCALE.match(value))


def parse_locale(value: Any) -> str | None:
    """A locale tag read as BCP 47 (RFC 5646): its language, script and region, as BCP 47 writes them
    (``de-de`` -> ``de-DE``, ``zh_hant_tw`` -> ``zh-Hant-TW``, ``es-419``); extended languages, variants,
    extensions and private use are read past (``de-DE-u-co-phonebk`` -> ``de-DE``), and so is a POSIX locale's
    codeset (``de_DE.UTF-8`` -> ``de-DE``). The one locale parser: what an invitation stores, and what picks its
    host and its email's language. None for anything that is not a well-formed tag."""
    if not isinstance(value, str) or len(value) > MAX_LOCALE_TAG:
        return None
    parts = _SUBTAG_SEPARATOR.split(_POSIX_SUFFIX.sub("", value.strip()))
    if not all(_SUBTAG.match(part) for part in parts) or not _LANGUAGE.match(parts[0].lower()):
        return None
    kept = [parts[0].lower()]
    rest = iter(parts[1:])
    subtag = next(rest, None)
    for _ in range(3):  # extended language subtags (zh-yue): read past
        if subtag is not None and len(subtag) == 3 and subtag.isalpha():
            subtag = next(rest, None)
    if subtag is not None and len(subtag) == 4 and subtag.isalpha():
        kept.append(subtag.title())
        subtag = next(rest, None)
    if subtag is not None and ((len(subtag) == 2 and subtag.isalpha()) or (len(subtag) == 3 and subtag.isdigit())):
        kept.append(subtag.upper())
        subtag = next(rest, None)
    while subtag is not None and (len(subtag) >= 5 or (len(subtag) == 4 and subtag[0].isdigit())):  # variants
        subtag = next(rest, None)
    return "-".join(kept) if _extensions_well_formed(subtag, rest) else None


def _extensions_well_formed(subtag: str | None, rest: Iterator[str]) -> bool:
    """What follows a tag's region and variants: extensions (``u-co-phonebk``: a singleton, then subtags of two to
    eight characters) and private use (``x-`` then anything), each with at least one subtag."""
    while subtag is not None:
        if len(subtag) != 1:
            return False
        if subtag.lower() == "x":
            return next(rest, None) is not None
        subtag, count = next(rest, None), 0
        while subtag is not None and len(subtag) >= 2:
            subtag, count = next(rest, None), count + 1
        if not count:
            return False
    return True


def _subtags(value: str) -> list[str]:
    """``de_DE.UTF-8`` -> ``["de", "DE"]``: the parts of a tag, white space around each and empty ones dropped."""
    parts = (part.strip() for part in _SUBTAG_SEPARATOR.split(_POSIX_SUFFIX.sub("", value)))
    return [part for part in parts if part]


def normal_locale(value: str) -> str:
    """``de_de`` / ``DE-de`` -> ``de-DE``; ``NL`` -> ``nl``: language lower case, other parts as BCP 47 writes them."""
    parts = _subtags(value)
    if not parts:
        return ""
    out = [parts[0].lower()]
    for part in parts[1:]:
        out.append(part.upper() if len(part) == 2 or part.isdigit() else part.title() if len(part) == 4 else part.lower())
    return "-".join(out)


def language_and_region(locale: str) -> tuple[str, str | None]:
    """``zh-Hant-TW`` -> (``zh``, ``zh-TW``): the language, and language-region when there is a region."""
    parts = normal_locale(locale).split("-")
    region = next((part for part in parts[1:] if len(part) == 2 or (len(part) == 3 and part.isdigit())), None)
    return parts[0], f"{parts[0]}-{region}" if region else None


def language_of(locale: str | None) -> str | None:
    """``de-DE``, ``de_DE``, ``DE`` -> ``de``; None for anything that is not a language tag."""
    parts = _subtags(locale or "")
    primary = parts[0].lower() if parts else ""
    return primary if is_language(primary) else None


def is_language(value: str) -> bool:
    """``de``, ``fil``: a language as ``language_of`` gives it (and as the email templates' folders are named)."""
    return bool(_LANGUAGE.match(value))


# -- values that say nothing ------------------------------------------------------------------------

# What shops send when they have nothing: a template's unset variable, a serialised null, a form's "n/a".
PLACEHOLDERS = frozenset({"undefined", "null", "none", "n/a"})


def is_absent(value: Any) -> bool:
    """No value given: null, an empty or blank string, or a placeholder (``undefined``, ``null``, ``none``, ``n/a``,
    any case). Whoever reads a field skips such a value and tries the next source; any other value is read, and
    may be invalid."""
    if value is None:
        return True
    return isinstance(value, str) and (not value.strip() or value.strip().lower() in PLACEHOLDERS)


def has_letter(text: str) -> bool:
    """``Jürgen``, ``李``: there is a letter in it (``#1002`` and ``12345`` have none, so they name nobody)."""
    return any(char.isalpha() for char in text)


# -- what the store and the senders can carry ------------------------------------------------------

_UNCARRIABLE = re.compile("[\x00\ud800-\udfff]")  # NUL, and a lone surrogate (JSON's ``"\\ud800"``)


def has_uncarriable(text: str) -> bool:
    """Whether ``text`` holds a character that neither database nor any sender can carry: NUL (PostgreSQL's text
    refuses it) or a lone surrogate (no UTF-8 encoder writes one). A field holding one refuses its message."""
    return bool(_UNCARRIABLE.search(text))


def uncarriable_in(value: Any) -> bool:
    """``has_uncarriable`` for any decoded JSON value: a string, or any string in a list or object (keys too)."""
    if isinstance(value, str):
        return has_uncarriable(value)
    if isinstance(value, list):
        return any(uncarriable_in(item) for item in value)
    if isinstance(value, dict):
        return any(uncarriable_in(key) or uncarriable_in(item) for key, item in value.items())
    return False


def normal_ref(text: str) -> str:
    """An order ref as orders are told apart: NFC, with invisible characters (format characters, category
    ``Cf``: zero-width spaces and joiners, the BOM, bidi marks...) removed; ``A\u200b1`` and ``A1``, or the NFD
    and NFC spellings of ``Café-1``, are one order."""
    visible = "".join(char for char in text if unicodedata.category(char) != "Cf")
    return unicodedata.normalize("NFC", visible)


# -- free text as a field ---------------------------------------------------------------------------

def clean_text(value: Any, limit: int) -> str:
    """A string field as text: control characters out, whitespace folded, bounded; '' if absent."""
    if value is None or isinstance(value, bool | dict | list):
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = _CONTROL.sub(" ", str(value))
    return _SPACE.sub(" ", text).strip()[:limit]


def sanitise_tag(tag: str) -> str:
    """Tags never contain spaces: runs of whitespace become ``_``; bounded length."""
    return _SPACE.sub("_", _CONTROL.sub("", tag).strip())[:MAX_TAG]


def unique(items: Iterable[str]) -> tuple[str, ...]:
    """Blanks dropped, duplicates removed, order kept."""
    return tuple(dict.fromkeys(item for item in items if item))
