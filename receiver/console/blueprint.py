"""The console's blueprint and what every page shares: the CSRF check and the sign-in guard before each request,
the security headers after it, and how a page or a problem is rendered."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Blueprint, Response, redirect, render_template, request, session, url_for
from flask_wtf.csrf import CSRFError, CSRFProtect

from .forms import Problem

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


@console.before_request
def _guard() -> Any:
    csrf.protect()  # every POST of the console, the login and the logout included; raises CSRFError
    if request.endpoint != "console.login" and not session.get("signed_in"):
        return redirect(url_for("console.login", next=request.full_path if request.method == "GET" else None))
    return None


@console.errorhandler(CSRFError)
def _csrf_refused(_error: CSRFError) -> tuple[str, int]:
    return problem(Problem(400, CSRF_REFUSED))


@console.after_request
def _headers(response: Response) -> Response:
    for name, value in HEADERS.items():
        response.headers.setdefault(name, value)
    return response
