"""How Segment proves a request is its own: an API key, a signature, or a bearer token.

- ``SEGMENT_API_KEYS``: ``Authorization: Basic base64("<key>:")`` (Direct destination; SDK write keys).
- ``SEGMENT_SHARED_SECRETS``: ``X-Signature`` = hex HMAC-SHA1 of the request body *as received*, i.e.
  the bytes on the wire, before any ``Content-Encoding: gzip`` is undone (Webhooks Classic and Actions). On a
  JSON array (a Webhooks (Actions) batch) the HMAC of the array's first element alone passes too: Segment signs
  a batch with ``JSON.stringify`` of its first event, which is that element's bytes as they stand in the body.
- ``SEGMENT_BEARER_TOKENS``: ``Authorization: Bearer <token>`` (a custom header, e.g. on Actions batches).

Any combination may be configured; a request passes if any configured way accepts it. Every
presented credential is compared with every configured value in constant time. Failures say which
check failed, never why in detail, and never echo what was sent.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the settings' type only: the checks take the values they are handed
    from .config import SegmentAuth

NO_CREDENTIALS = "No credentials"
BAD_API_KEY = "Missing or invalid API key"
BAD_SIGNATURE = "Invalid X-Signature"
BAD_BEARER = "Invalid bearer token"
BAD_SCHEME = "Unsupported Authorization scheme"
NOT_CONFIGURED = "Authentication is not configured"


def basic_header(api_key: str) -> str:
    """The ``Authorization`` value Segment sends for ``api_key``: ``Basic base64("<key>:")``."""
    return "Basic " + base64.b64encode(f"{api_key}:".encode()).decode()


def signature(body: bytes, secret: str) -> str:
    """The ``X-Signature`` of ``body``: hex HMAC-SHA1 with the shared secret."""
    return hmac.new(secret.encode("utf-8"), body, hashlib.sha1).hexdigest()


_DECODER = json.JSONDecoder()
_JSON_WHITESPACE = re.compile(r"[ \t\n\r]*")


def first_element(body: bytes) -> bytes | None:
    """The bytes of the first element of a JSON array body, exactly as they stand in it; None when the body is
    not an array with a first element (or not UTF-8).

    The element's end is found by the JSON decoder, not by re-serialising it, so what is hashed is what Segment
    sent. Only the first element is decoded: a large batch costs no more than its first event.
    """
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return None
    start = _JSON_WHITESPACE.match(text).end()
    if not text.startswith("[", start):
        return None
    start = _JSON_WHITESPACE.match(text, start + 1).end()
    try:
        _, end = _DECODER.raw_decode(text, start)
    except (ValueError, RecursionError):
        return None
    return text[start:end].encode("utf-8")


def signed_spans(body: bytes) -> tuple[bytes, ...]:
    """What an ``X-Signature`` may cover: the whole body, and for an array also its first element."""
    first = first_element(body)
    return (body,) if first is None else (body, first)


def _matches_any(presented: bytes, configured: tuple[bytes, ...]) -> bool:
    """Whether ``presented`` equals one of ``configured``; every one is compared, each in constant time."""
    matched = False
    for value in configured:
        matched |= hmac.compare_digest(presented, value)
    return matched


def _basic_user(encoded: str) -> bytes | None:
    try:
        return base64.b64decode(encoded, validate=True).partition(b":")[0]
    except (binascii.Error, ValueError):
        return None


def _utf8(values: tuple[str, ...]) -> tuple[bytes, ...]:
    return tuple(value.encode("utf-8") for value in values)


def authenticate(headers: Mapping[str, str], body: bytes, settings: SegmentAuth) -> str | None:
    """None if the request may pass, else the (client-facing) name of the check that failed."""
    if not settings.configured:
        return None if settings.allow_unauthenticated else NOT_CONFIGURED
    authorization = (headers.get("Authorization") or "").strip()
    sent_signature = (headers.get("X-Signature") or "").strip()
    if not authorization and not sent_signature:
        return NO_CREDENTIALS
    failures: list[str] = []
    if authorization:
        scheme, _, value = authorization.partition(" ")
        value = value.strip()
        if scheme.lower() == "basic":
            user = _basic_user(value) if value else None
            if user is not None and _matches_any(user, _utf8(settings.api_keys)):
                return None
            failures.append(BAD_API_KEY)
        elif scheme.lower() == "bearer":
            if value and _matches_any(value.encode("utf-8"), _utf8(settings.bearer_tokens)):
                return None
            failures.append(BAD_BEARER)
        else:
            failures.append(BAD_SCHEME)
    if sent_signature:
        presented = sent_signature.lower().removeprefix("sha1=").encode("ascii", "replace")
        expected = tuple(signature(span, secret).encode("ascii")
                         for span in signed_spans(body) for secret in settings.shared_secrets)
        if _matches_any(presented, expected):
            return None
        failures.append(BAD_SIGNATURE)
    return failures[0]


def credential_headers(settings: SegmentAuth, body: bytes, api_key: str | None = None) -> dict[str, str]:
    """Headers that authenticate ``body`` with this receiver's own credentials (``receiver replay``).

    ``api_key`` if given, else the first API key, else a signature with the first shared secret,
    else the first bearer token; nothing when none is configured.
    """
    if api_key or settings.api_keys:
        return {"Authorization": basic_header(api_key or settings.api_keys[0])}
    if settings.shared_secrets:
        return {"X-Signature": signature(body, settings.shared_secrets[0])}
    if settings.bearer_tokens:
        return {"Authorization": f"Bearer {settings.bearer_tokens[0]}"}
    return {}
