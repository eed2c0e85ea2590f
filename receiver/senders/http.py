"""The ``http`` sender: hands each ready invitation to the business's own mailer as a signed JSON callback.

Settings (declared in ``config``, the group ``config.HTTP``; read by ``from_environ``):
- ``CALLBACK_URL`` (required): where to ``POST``; ``http://`` or ``https://``.
- ``CALLBACK_SECRET`` (required): a Standard Webhooks secret, ``whsec_`` + base64 (at least 24 bytes).
- ``CALLBACK_HEADERS``: extra request headers as a JSON object, e.g. ``{"Authorization": "Bearer abc"}``.
- ``CALLBACK_TIMEOUT``: one deadline for the whole attempt: connecting, sending and reading the answer
  (``10s`` by default); at most 64 KiB of the answer is read (``bounded_http``).

Each request is signed the Standard Webhooks way (https://www.standardwebhooks.com): ``webhook-id`` is
the invitation id, the same on every retry, so the receiving end can drop repeats; ``webhook-timestamp``
is the Unix time of this attempt; ``webhook-signature`` is ``v1,`` + base64(HMAC-SHA256(secret,
"{id}.{timestamp}.{body}")). A 2xx answer is success; 408, 429 and 5xx are transient (a ``Retry-After``
is passed on to the worker); a redirect and any other 4xx are permanent. Redirects are never followed:
the signed body goes only to CALLBACK_URL.

A failure keeps the status code and a fixed text (the standard phrase of the code), never the answer's own
reason phrase, body or ``Location``: the business's mailer may well put the customer's name or address there. A
redirect's target is reduced to its scheme and host.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import http.client
import ipaddress
import json
import re
import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from http import HTTPStatus
from typing import Any
from urllib.parse import urlsplit

from .. import __version__
from ..clock import Clock, utcnow
from ..config import HTTP, ConfigError, read_group
from . import ReadyInvitation, SendFailure
from .bounded_http import MAX_ANSWER, AnswerTooLarge, BoundedClient, DeadlinePassed

MAX_RETRY_AFTER = 24 * 3600.0
_HOST_NAME = re.compile(r"^(?=.{1,253}$)[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$")


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
            "unsubscribe_url": invitation.unsubscribe_url,
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


def redirect_origin(location: str | None) -> str | None:
    """A redirect's ``Location`` reduced to its scheme and host (and port), or None when it has none that is a plain
    host name or IP address: its path, query and anything else the mailer wrote there are never repeated."""
    try:
        parts = urlsplit(location or "")
        host, port = parts.hostname or "", parts.port
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not _plain_host(host):
        return None
    return f"{parts.scheme}://{host}{f':{port}' if port else ''}"


def _plain_host(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        return bool(_HOST_NAME.match(host))


def status_text(status: int) -> str:
    """The standard phrase of a status code, whatever the answer's own reason phrase said."""
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return {1: "(informational)", 2: "(success)", 3: "(a redirect)", 4: "(a client error)",
                5: "(a server error)"}.get(status // 100, "(not an HTTP status)")


class HttpSender:
    def __init__(self, settings: CallbackSettings, *, clock: Clock = utcnow, client: BoundedClient | None = None):
        self.settings = settings
        self.clock = clock
        self.client = client or BoundedClient(settings.url)

    def request_for(self, invitation: ReadyInvitation) -> tuple[bytes, dict[str, str]]:
        """The body and headers of one attempt, signed at the clock's current time."""
        now = self.clock()
        body = json.dumps(callback_body(invitation, now), ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        webhook_id = str(invitation.id)
        timestamp = int(now.timestamp())
        headers = {
            "User-Agent": f"receiver/{__version__} (+standard-webhooks)",
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
            answer = self.client.post(body, headers, timeout=self.settings.timeout)
        except DeadlinePassed as exc:
            raise SendFailure(f"the callback {where} timed out {exc.phase}", transient=True,
                              code=f"timeout {exc.phase}") from None
        except AnswerTooLarge:
            raise SendFailure(f"the callback {where} answered with headers over {MAX_ANSWER // 1024} KiB",
                              transient=True, code="answer too large") from None
        except ssl.SSLCertVerificationError as exc:
            raise SendFailure(f"the TLS certificate of the callback {where} cannot be verified "
                              f"({exc.verify_message})", transient=True, code="tls certificate") from None
        except OSError:
            raise SendFailure(f"cannot reach the callback {where}: ConnectionError", transient=True,
                              code="connection error") from None
        except http.client.HTTPException as exc:
            raise SendFailure(f"the callback request to {where} failed: {type(exc).__name__}", transient=True,
                              code="malformed answer") from None
        self._judge(answer.status, answer.headers, where)

    def _judge(self, status: int, headers: Any, where: str) -> None:
        """Return for a 2xx; raise the ``SendFailure`` the status code means otherwise."""
        if 200 <= status < 300:
            return
        described, code = f"{status} {status_text(status)}", f"http {status}"
        if 300 <= status < 400:
            origin = redirect_origin(headers.get("Location"))
            target = f" to {origin}" if origin else ""
            raise SendFailure(f"the callback {where} answered {described}, a redirect{target}; redirects are not "
                              "followed: set CALLBACK_URL to the final address", transient=False, code=code)
        if status in (408, 429) or status >= 500:
            retry_after = retry_after_seconds(headers.get("Retry-After"), self.clock())
            raise SendFailure(f"the callback {where} answered {described}", transient=True, retry_after=retry_after,
                              code=code)
        raise SendFailure(f"the callback {where} answered {described}", transient=False, code=code)

    def close(self) -> None:
        self.client.close()
