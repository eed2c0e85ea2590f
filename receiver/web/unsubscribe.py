"""``/unsubscribe/<token>``: where a customer stops the review invitations, by the link of any email they got.

``GET`` shows a small page in the invitation's language with one button and changes nothing (mail scanners and
link previews follow every link). ``POST``, the button's or a mail client's one-click request (RFC 8058:
``List-Unsubscribe=One-Click`` as a form, no cookie, no form token), puts the invitation's address key on the
suppression list with the reason ``unsubscribed`` and says so; again and again if need be. The signed token is the
authority, so neither Segment's authentication nor the console's CSRF token applies. A token that is altered,
truncated, signed with another key or names no stored invitation gets a plain 404 page; an invitation whose address
was erased since has nothing left to suppress, and the page says done all the same.

Requests are limited per client (as ``TRUSTED_PROXIES`` names it) and from everyone together, per process, then
429 with ``Retry-After``: a token cannot be guessed, so the limit only keeps floods off the database.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from flask import Blueprint, Response, render_template, request

from .. import metrics
from ..clock import Clock
from ..config import email_look
from ..privacy import address_key
from ..ratelimit import RateLimiter
from ..store import UNSUBSCRIBED, Store, StoreUnavailable
from ..store.reports import InvitationRow
from ..text import language_of
from ..unsubscribe import UnsubscribeTokens
from .services import services

log = logging.getLogger("receiver.web.unsubscribe")

unsubscribe = Blueprint("unsubscribe", __name__)
LANGUAGES = ("en", "da", "de", "es", "fr", "nl")  # receiver/templates/unsubscribe/<language>.html; English first
REQUESTS = 60  # requests per client ...
WINDOW = timedelta(minutes=1)  # ... within this window, then 429 until the oldest leaves it
GLOBAL_REQUESTS = 3000  # requests from all clients together within the window
HEADERS = {
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Robots-Tag": "noindex",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
                               "frame-ancestors 'none'; base-uri 'none'",
}


def request_limiter(clock: Clock) -> RateLimiter:
    """The page's limiter (one per process), on the app's clock."""
    return RateLimiter(clock, REQUESTS, WINDOW, global_limit=GLOBAL_REQUESTS)


def _client() -> str:
    """The client's address as the proxies ``TRUSTED_PROXIES`` believes name it (the console's middleware, when it
    is on, has already rewritten ``REMOTE_ADDR`` and kept the peer's)."""
    peer = request.environ.get("receiver.peer") or request.remote_addr or "unknown"
    return services().settings.console.trusted_proxies.client(peer, request.headers.getlist("X-Forwarded-For"))


RESULTS = {"ask": "page", "done": "unsubscribed", "invalid": "invalid", "busy": "limited",
           "unavailable": "unavailable"}  # the metric's result of each state of the page


def _page(state: str, language: str, status: int = 200) -> Response:
    metrics.UNSUBSCRIBES.labels(RESULTS[state]).inc()
    look = email_look(services().settings.environ)
    body = render_template(f"unsubscribe/{language}.html", state=state, language=language,
                           business_name=look.business_name)
    response = Response(body, status=status, mimetype="text/html")
    response.headers.update(HEADERS)
    return response


def _asked_language() -> str:
    """The language the browser asks for among the page's, for a page that has no invitation to go by."""
    return request.accept_languages.best_match(LANGUAGES, default=LANGUAGES[0]) or LANGUAGES[0]


def _language(row: InvitationRow) -> str:
    language = language_of(row.locale)
    return language if language in LANGUAGES else LANGUAGES[0]


def suppress(store: Store, row: InvitationRow, data_key: bytes, now: datetime) -> bool:
    """Put the invitation's address key on the suppression list as ``unsubscribed`` (a row stored before address
    keys has it made from its address); False when there is none (nothing stored to go by)."""
    key = row.address_key or address_key(data_key, row.email)
    if key is None:
        return False
    store.suppressions.add(key, UNSUBSCRIBED, now=now)
    return True


@unsubscribe.route("/unsubscribe/<token>", methods=["GET", "POST"])
def unsubscribe_page(token: str) -> Response:
    found = services()
    limiter = found.unsubscribe_limiter
    client = _client()
    wait = limiter.blocked_for(client)
    if wait is not None:
        response = _page("busy", _asked_language(), 429)
        response.headers["Retry-After"] = str(max(1, int(wait.total_seconds())))
        return response
    limiter.hit(client)
    ticket = UnsubscribeTokens(found.settings.database.data_key).read(token)
    try:
        row = found.store.reports.get(ticket.invitation_id) if ticket else None
        if row is None or ticket is None or not ticket.names(row.message_id):
            return _page("invalid", _asked_language(), 404)
        if request.method == "GET":
            return _page("ask", _language(row))
        suppressed = suppress(found.store, row, found.settings.database.data_key, found.clock())
    except StoreUnavailable:
        return _page("unavailable", _asked_language(), 503)
    log.info("invitation %s: its customer unsubscribed%s", row.id, "" if suppressed else " (no address key to list)")
    return _page("done", _language(row))
