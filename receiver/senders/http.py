"""The ``http`` sender: hands each ready invitation to the business's own mailer as a signed JSON callback.

Settings (declared in ``config``, the group ``config.HTTP``; read by ``from_environ``):
- ``CALLBACK_URL`` (required): where to ``POST``; ``http://`` or ``https://``.
- ``CALLBACK_SECRET`` (required): a Standard Webhooks secret, ``whsec_`` + base64 (at least 24 bytes).
- ``CALLBACK_HEADERS``: extra request headers as a JSON object, e.g. ``{"Authorization": "Bearer abc"}``.
- ``CALLBACK_TIMEOUT``: for connecting and for reading the answer (``10s`` by default).

Each request is signed the Standard Webhooks way (https://www.standardwebhooks.com): ``webhook-id`` is
the invitation id, the same on every retry, so the receiving end can drop repeats; ``webhook-timestamp``
is the Unix time of this attempt; ``webhook-signature`` is ``v1,`` + base64(HMAC-SHA256(secret,
"{id}.{timestamp}.{body}")). A 2xx answer is success; 408, 429 and 5xx are transient (a ``Retry-After``
is passed on to the worker); a redirect and any other 4xx are permanent. Redirects are never followed:
the signed body goes only to CALLBACK_URL.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

import requests

from .. import __version__
from ..clock import Clock, utcnow
from ..config import HTTP, ConfigError, read_group
from . import ReadyInvitation, SendFailure

MAX_RETRY_AFTER = 24 * 3600.0


@dataclass(frozen=True)
class CallbackSettings:
    url: str
    secret: bytes = field(repr=False)
    headers: Mapping[str, str] = field(repr=False)
    timeout: float


def settings_from_environ(environ: Mapping[str, str]) -> CallbackSettings:
    """Every callback setting, checked; ``ConfigError`` lists every problem."""
    values, problems = read_group(HTTP, environ)
    if problems:
        raise ConfigError(problems)
    return CallbackSettings(**values)


def from_environ(environ: Mapping[str, str]) -> HttpSender:
    """The entry point ``http`` in the group ``receiver.senders``."""
    return HttpSender(settings_from_environ(environ))


def callback_body(invitation: ReadyInvitation, now: datetime) -> dict[str, Any]:
    """The JSON the callback receives, exactly."""
    return {
        "type": "invitation.ready",
        "timestamp": now.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z"),
        "data": {
            "id": str(invitation.id),
            "link": invitation.link,
            "email": invitation.email,
            "name": invitation.name,
            "ref": invitation.ref,
            "skus": list(invitation.skus),
            "tags": list(invitation.tags),
            "locale": invitation.locale,
            "message_id": invitation.message_id,
        },
    }


def sign(secret: bytes, webhook_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` header value: ``v1,`` + base64(HMAC-SHA256 of ``{id}.{timestamp}.{body}``)."""
    mac = hmac.new(secret, f"{webhook_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode("ascii")


def retry_after_seconds(value: str | None, now: datetime) -> float | None:
    """``Retry-After`` as seconds from ``now``: a number of seconds or an HTTP date; capped at a day."""
    text = (value or "").strip()
    if not text:
        return None
    if text.isdigit():
        seconds = float(text)
    else:
        try:
            when = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - now).total_seconds()
    return min(max(seconds, 0.0), MAX_RETRY_AFTER)


def _where(url: str) -> str:
    """A URL without its query and credentials, for messages (a query may carry a token)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    return f"{parts.scheme}://{host}{':' + str(parts.port) if parts.port else ''}{parts.path}"


class HttpSender:
    def __init__(self, settings: CallbackSettings, *, clock: Clock = utcnow, session: requests.Session | None = None):
        self.settings = settings
        self.clock = clock
        self.session = session or requests.Session()
        self.session.headers.update({"User-Agent": f"receiver/{__version__} (+standard-webhooks)"})

    def request_for(self, invitation: ReadyInvitation) -> tuple[bytes, dict[str, str]]:
        """The body and headers of one attempt, signed at the clock's current time."""
        now = self.clock()
        body = json.dumps(callback_body(invitation, now), ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        webhook_id = str(invitation.id)
        timestamp = int(now.timestamp())
        headers = {
            **self.settings.headers,
            "Content-Type": "application/json",
            "webhook-id": webhook_id,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": sign(self.settings.secret, webhook_id, timestamp, body),
        }
        return body, headers

    def send(self, invitation: ReadyInvitation) -> None:
        body, headers = self.request_for(invitation)
        where = _where(self.settings.url)
        try:
            response = self.session.post(self.settings.url, data=body, headers=headers, allow_redirects=False,
                                         timeout=(self.settings.timeout, self.settings.timeout))
        except requests.Timeout as exc:
            kind = "connecting" if isinstance(exc, requests.ConnectTimeout) else "waiting for the answer"
            raise SendFailure(f"the callback {where} timed out {kind}", transient=True) from None
        except requests.ConnectionError as exc:
            raise SendFailure(f"cannot reach the callback {where}: {type(exc).__name__}", transient=True) from None
        except requests.RequestException as exc:
            raise SendFailure(f"the callback request to {where} failed: {type(exc).__name__}", transient=True) from None
        status = response.status_code
        described = f"{status} {response.reason or ''}".strip()
        if 200 <= status < 300:
            return
        if 300 <= status < 400:
            location = response.headers.get("Location")
            target = f" to {_where(location)}" if location and urlsplit(location).scheme else ""
            raise SendFailure(f"the callback {where} answered {described}, a redirect{target}; redirects are not "
                              "followed: set CALLBACK_URL to the final address", transient=False)
        if status in (408, 429) or status >= 500:
            retry_after = retry_after_seconds(response.headers.get("Retry-After"), self.clock())
            raise SendFailure(f"the callback {where} answered {described}", transient=True, retry_after=retry_after)
        raise SendFailure(f"the callback {where} answered {described}", transient=False)

    def close(self) -> None:
        self.session.close()
