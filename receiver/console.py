"""The web console under ``/console``: preview an event, watch invitations flow, retry what failed.

Registered by ``create_app`` only when ``CONSOLE_PASSWORD`` is set (otherwise every ``/console`` path is the
app's JSON 404). One password, compared in constant time; a signed session cookie (``SECRET_KEY``) that is
``HttpOnly``, ``SameSite=Lax`` and ``Secure`` when the request came over HTTPS; a per-session CSRF token
checked on every POST; failed logins limited per client address (per process).

Personal data is masked everywhere but on the preview of a message the user pasted themself. The preview
takes the endpoint's own path (``Intake.preview``) and stores nothing.
"""

from __future__ import annotations

import hmac
import json
import secrets
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, cast

from flask import Blueprint, Flask, Response, redirect, render_template, request, session, url_for
from flask.sessions import SecureCookieSessionInterface
from jinja2 import TemplateError

from . import bgl
from .config import ConsoleSettings, Settings, describe, email_look
from .emails import render_email
from .intake import Intake, Preview
from .links import LinkBuilder
from .privacy import mask_email, mask_name
from .segment import DuplicateKey, loads
from .store import DEAD, RETRYING, STATES, InvitationRow, Store, StoreUnavailable
from .web import SERVICES, services

console = Blueprint("console", __name__, url_prefix="/console", template_folder="templates")

PAGE_SIZE = 50
MAX_PREVIEW = 256 * 1024  # characters of a pasted message
LOGIN_FAILURES = 5  # failed logins per client address ...
LOGIN_WINDOW = timedelta(minutes=15)  # ... within this window, then 429 until the oldest failure leaves it
SESSION_LIFETIME = timedelta(hours=12)  # a signed-in session lasts this long, then the password is asked again
FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"  # the repository's sample events, when present
HEADERS = {
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    # the preview's email is an iframe with srcdoc and an empty sandbox: no script runs anywhere
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; "
                               "frame-src 'self' about:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
}


class LoginLimiter:
    """At most ``failures`` failed logins per address within ``window``; the clock is injected."""

    def __init__(self, clock: Callable[[], datetime], failures: int = LOGIN_FAILURES, window: timedelta = LOGIN_WINDOW):
        self.clock = clock
        self.failures = failures
        self.window = window
        self._seen: dict[str, deque[datetime]] = {}
        self._lock = threading.Lock()  # gunicorn's threads share one limiter per process

    def _recent(self, address: str) -> deque[datetime]:
        seen = self._seen.setdefault(address, deque())
        cutoff = self.clock() - self.window
        while seen and seen[0] <= cutoff:
            seen.popleft()
        if not seen:
            del self._seen[address]
        return seen

    def blocked_for(self, address: str) -> timedelta | None:
        """How long ``address`` must wait before trying again, or None if it may try now."""
        with self._lock:
            seen = self._recent(address)
            if len(seen) < self.failures:
                return None
            return seen[0] + self.window - self.clock()

    def failed(self, address: str) -> None:
        with self._lock:
            self._recent(address)
            self._seen.setdefault(address, deque()).append(self.clock())

    def succeeded(self, address: str) -> None:
        with self._lock:
            self._seen.pop(address, None)


class _ConsoleSessions(SecureCookieSessionInterface):
    """The session cookie is ``Secure`` whenever the request came over HTTPS: to us, or to the proxy in front
    (``X-Forwarded-Proto: https``, as Heroku's router sends; trusting it can only add the flag)."""

    def get_cookie_secure(self, app: Flask) -> bool:
        forwarded = request.headers.get("X-Forwarded-Proto", "").split(",")[0].strip().lower()
        return bool(app.config["SESSION_COOKIE_SECURE"]) or request.is_secure or forwarded == "https"


def init_app(app: Flask, settings: ConsoleSettings) -> None:
    """Turn the console on: cookie settings, the login limiter, the blueprint."""
    app.secret_key = settings.secret_key
    app.config.update(SESSION_COOKIE_NAME="receiver_console", SESSION_COOKIE_HTTPONLY=True,
                      SESSION_COOKIE_SAMESITE="Lax", SESSION_COOKIE_PATH="/console",
                      PERMANENT_SESSION_LIFETIME=SESSION_LIFETIME)
    app.session_interface = _ConsoleSessions()
    app.extensions[SERVICES] = replace(services(app), login_limiter=LoginLimiter(services(app).clock))
    app.register_blueprint(console)


# -- plumbing: the app's services (``receiver.web.Services``) ---------------------------------------

def _settings() -> Settings:
    return services().settings


def _store() -> Store:
    return services().store


def _now() -> datetime:
    return services().clock()


def _intake() -> Intake:
    return services().intake


def _limiter() -> LoginLimiter:
    return cast(LoginLimiter, services().login_limiter)  # init_app gave it one


def csrf_token() -> str:
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(32)
    return session["csrf"]


def _page(template: str, code: int = 200, **values: Any) -> tuple[str, int]:
    return render_template(f"console/{template}", csrf_token=csrf_token(), **values), code


def _problem(code: int, message: str) -> tuple[str, int]:
    return _page("problem.html", code, status=code, message=message)


@console.before_request
def _guard() -> Any:
    if request.method == "POST":
        given = request.form.get("csrf_token", "")
        expected = session.get("csrf", "")
        if not expected or not hmac.compare_digest(given.encode(), expected.encode()):
            return _problem(400, "The form has expired or did not come from this console (CSRF token missing or "
                                 "wrong): reload the page and try again.")
    if request.endpoint != "console.login" and not session.get("signed_in"):
        return redirect(url_for("console.login", next=request.full_path if request.method == "GET" else None))
    return None


@console.after_request
def _headers(response: Response) -> Response:
    for name, value in HEADERS.items():
        response.headers.setdefault(name, value)
    return response


# -- login ------------------------------------------------------------------------------------------

def _safe_next(target: str | None) -> str:
    """Only a path inside the console: never another site (an open redirect)."""
    if target and target.startswith("/console") and not target.startswith("//"):
        return target
    return url_for("console.overview")


@console.route("/login", methods=["GET", "POST"])
def login() -> Any:
    if request.method == "GET":
        return _page("login.html", next=request.args.get("next", ""))
    limiter = _limiter()
    address = request.remote_addr or "unknown"
    wait = limiter.blocked_for(address)
    if wait is not None:
        minutes = max(1, int(wait.total_seconds() + 59) // 60)
        page, _ = _page("login.html", next="", error=f"Too many failed attempts: try again in {minutes} min.")
        return page, 429, {"Retry-After": str(max(1, int(wait.total_seconds())))}
    given = request.form.get("password", "").encode("utf-8")
    if not hmac.compare_digest(given, _settings().console.password.encode("utf-8")):
        limiter.failed(address)
        return _page("login.html", 401, next=request.form.get("next", ""), error="Wrong password.")
    limiter.succeeded(address)
    session.clear()
    session.permanent = True  # signed with its time: refused once SESSION_LIFETIME has passed
    session["signed_in"] = True
    csrf_token()  # a fresh token for the fresh session
    return redirect(_safe_next(request.form.get("next")))


@console.post("/logout")
def logout() -> Any:
    session.clear()
    return redirect(url_for("console.login"))


# -- overview ---------------------------------------------------------------------------------------

def _age(seconds: float) -> str:
    """``75`` -> ``1 min 15 s``; ``90000`` -> ``1 d 1 h``."""
    whole = max(0, int(seconds))
    if whole < 60:
        return f"{whole} s"
    if whole < 3600:
        return f"{whole // 60} min {whole % 60} s"
    if whole < 86400:
        return f"{whole // 3600} h {whole % 3600 // 60} min"
    return f"{whole // 86400} d {whole % 86400 // 3600} h"


@dataclass(frozen=True)
class Bar:
    x: int
    y: int
    height: int
    count: int
    label: str


def deliveries_chart(hours: list[tuple[datetime, int]], width: int = 24, height: int = 120) -> list[Bar]:
    """The bars of the deliveries-per-hour chart: ``width`` pixels per hour, scaled to the busiest hour."""
    busiest = max((count for _, count in hours), default=0) or 1
    bars = []
    for index, (start, count) in enumerate(hours):
        bar = round(count * height / busiest)
        bars.append(Bar(x=index * width, y=height - bar, height=bar, count=count, label=start.strftime("%H:00")))
    return bars


@console.get("")
def overview() -> Any:
    reports, now = _store().reports, _now()
    oldest = reports.oldest_due(now=now)
    hours = reports.deliveries_per_hour(now=now)
    return _page("overview.html", counts=reports.counts(), oldest_age=_age((now - oldest).total_seconds()) if oldest
                 else None, due=reports.due_count(now=now), bars=deliveries_chart(hours),
                 sent_24h=sum(count for _, count in hours), configuration=describe(_settings().environ),
                 errors=reports.last_errors(5))


# -- invitations ------------------------------------------------------------------------------------

def _masked(row: InvitationRow) -> InvitationRow:
    return replace(row, email=mask_email(row.email) if row.email else "(erased)",
                   name=mask_name(row.name) if row.name else "(erased)")


@console.get("/invitations")
def invitations() -> Any:
    state = request.args.get("state") or None
    if state is not None and state not in STATES:
        return _problem(400, f"Unknown state {state[:20]!r}: one of {', '.join(STATES)}.")
    try:
        page = int(request.args.get("page", "1"))
    except ValueError:
        page = 0
    if page < 1 or page > 1_000_000:
        return _problem(400, "page must be a whole number from 1.")
    rows, total = _store().reports.page(state=state, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE)
    pages = max(1, -(-total // PAGE_SIZE))
    return _page("invitations.html", rows=[_masked(row) for row in rows], state=state, states=STATES, page=page,
                 pages=pages, total=total, retryable=(DEAD, RETRYING), notice=request.args.get("notice"))


@console.get("/invitations/<int:invitation_id>")
def invitation(invitation_id: int) -> Any:
    row = _store().reports.get(invitation_id)
    if row is None:
        return _problem(404, f"There is no invitation {invitation_id}.")
    return _page("invitation.html", row=_masked(row), retryable=row.state in (DEAD, RETRYING),
                 notice=request.args.get("notice"))


@console.post("/invitations/<int:invitation_id>/retry")
def retry_one(invitation_id: int) -> Any:
    changed = _store().outbox.retry(now=_now(), invitation_id=invitation_id)
    notice = "Queued again: it is due now." if changed else "Nothing to retry: it is not dead or retrying."
    return redirect(url_for("console.invitation", invitation_id=invitation_id, notice=notice))


@console.post("/invitations/retry-dead")
def retry_dead() -> Any:
    changed = _store().outbox.retry(now=_now(), dead=True)
    return redirect(url_for("console.invitations", notice=f"{changed} invitation(s) queued again."))


# -- preview ----------------------------------------------------------------------------------------

def fixture_names() -> list[str]:
    if not FIXTURES.is_dir():
        return []
    return sorted(path.name for path in FIXTURES.glob("*.json") if path.is_file())


@dataclass(frozen=True)
class _EmailFields:
    name: str
    ref: str
    link: str
    locale: str | None


def _preview_values(preview: Preview) -> dict[str, Any]:
    """The invitation's fields with their sources, its link and decoded payload, and the email."""
    invitation = preview.invitation
    if invitation is None:
        return {}
    settings = _settings()
    link = LinkBuilder.from_settings(settings.trustpilot).link(invitation)
    fields = [("email", invitation.email), ("name", invitation.name), ("ref", invitation.ref),
              ("skus", ", ".join(invitation.skus) or "(none)"), ("tags", ", ".join(invitation.tags) or "(none)"),
              ("locale", invitation.locale or "(none)")]
    values: dict[str, Any] = {
        "fields": [(name, value, preview.sources.get(name, "")) for name, value in fields],
        "link": link,
        "decoded": json.dumps(bgl.decode(link, settings.trustpilot.keys), ensure_ascii=False, indent=2),
    }
    look = email_look(settings.environ)
    try:
        values["email"] = render_email(_EmailFields(invitation.name, invitation.ref, link, invitation.locale),
                                       look.business_name, look.template_dir)
    except (TemplateError, OSError) as exc:  # a broken TEMPLATE_DIR is shown, not a 500
        values["email_problem"] = f"The email templates do not render ({type(exc).__name__})."
    return values


@console.route("/preview", methods=["GET", "POST"])
def preview() -> Any:
    fixtures = fixture_names()
    if request.method == "GET":
        return _page("preview.html", fixtures=fixtures, text="")
    text = request.form.get("message", "")
    chosen = request.form.get("fixture", "")
    if chosen:
        if chosen not in fixtures:
            return _page("preview.html", 400, fixtures=fixtures, text=text, error="Unknown fixture.")
        text = (FIXTURES / chosen).read_text(encoding="utf-8")
    if not text.strip():
        return _page("preview.html", 400, fixtures=fixtures, text=text, error="Paste a Segment message, or pick a "
                                                                              "fixture.")
    if len(text) > MAX_PREVIEW:
        return _page("preview.html", 413, fixtures=fixtures, text="",
                     error=f"The message is longer than {MAX_PREVIEW // 1024} KB.")
    try:
        raw = loads(text)  # as strict as POST /segment: a repeated key is refused there, so here too
    except DuplicateKey:
        return _page("preview.html", 400, fixtures=fixtures, text=text,
                     error="The message names a key twice in one object; POST /segment refuses it (400).")
    except RecursionError:
        return _page("preview.html", 400, fixtures=fixtures, text=text, error="The JSON is nested too deeply.")
    except ValueError as exc:
        return _page("preview.html", 400, fixtures=fixtures, text=text,
                     error=f"The message is not valid JSON (line {getattr(exc, 'lineno', '?')}, "
                           f"column {getattr(exc, 'colno', '?')}).")
    try:
        result = _intake().preview(raw)
    except StoreUnavailable:
        return _page("preview.html", 503, fixtures=fixtures, text=text,
                     error="The database is unavailable, so the stored traits cannot be read: try again.")
    return _page("preview.html", fixtures=fixtures, text=text, chosen=chosen, verdict=result.verdict,
                 **_preview_values(result))

