"""The console's blueprint and what every page shares: the CSRF check and the sign-in guard before each request,
the security headers after it, and how a page or a problem is rendered."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Blueprint, Response, g, redirect, render_template, request, session, url_for
from flask_wtf.csrf import CSRFError, CSRFProtect

from . import services
from .forms import Problem, safe_next

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"  # receiver/templates/console/*.html
console = Blueprint("console", __name__, url_prefix="/console", template_folder=TEMPLATES)
csrf = CSRFProtect()  # init_app turns it on for the console's app; the console's own hook below calls it

CSRF_REFUSED = ("The form has expired or did not come from this console (CSRF token missing or wrong): reload the "
                "page and try again.")
HEADERS = {
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    # the preview's email is an iframe with srcdoc and an empty sandbox: no script runs anywhere
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; "
                               "frame-src 'self' about:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
}


def page(template: str, code: int = 200, **values: Any) -> tuple[str, int]:
    return render_template(f"console/{template}", **values), code


def problem(found: Problem) -> tuple[str, int]:
    return page("problem.html", found.status, status=found.status, message=found.message)


SESSION_KEY = "sid"  # the session cookie's key for the token of the session the database keeps


def signed_in() -> bool:
    """The cookie names a session the database still keeps: signing out (anywhere) ends it for every copy."""
    token = session.get(SESSION_KEY)
    return isinstance(token, str) and services.store().sessions.is_open(token, now=services.now())


@console.before_request
def _guard() -> Any:
    csrf.protect()  # every POST of the console, the login and the logout included; raises CSRFError
    g.signed_in = signed_in()
    if request.endpoint != "console.login" and not g.signed_in:
        back = safe_next(request.full_path) if request.method == "GET" else None
        return redirect(url_for("console.login", next=back))
    return None


@console.errorhandler(CSRFError)
def _csrf_refused(_error: CSRFError) -> tuple[str, int]:
    return problem(Problem(400, CSRF_REFUSED))


@console.after_request
def _headers(response: Response) -> Response:
    for name, value in HEADERS.items():
        response.headers.setdefault(name, value)
    return response
