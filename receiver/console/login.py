"""Signing in and out: one password, compared in constant time; failed tries limited per client and in all; a
session the database keeps, so that signing out revokes it for every copy of the cookie."""

from __future__ import annotations

import hmac
from datetime import timedelta
from typing import Any

from flask import redirect, request, session, url_for

from . import services
from .blueprint import SESSION_KEY, console, page
from .forms import safe_next

SESSION_LIFETIME = timedelta(hours=12)  # a signed-in session lasts this long, then the password is asked again


@console.route("/login", methods=["GET", "POST"])
def login() -> Any:
    if request.method == "GET":
        return page("login.html", next=safe_next(request.args.get("next")) or "")
    limiter = services.limiter()
    address = request.remote_addr or "unknown"  # the client's, as the proxies TRUSTED_PROXIES believes name it
    wait = limiter.blocked_for(address)
    if wait is not None:
        minutes = max(1, int(wait.total_seconds() + 59) // 60)
        who = "from many addresses" if limiter.globally_blocked() else ""
        body, _ = page("login.html", next="", error=f"Too many failed attempts{' ' + who if who else ''}: try again "
                                                    f"in {minutes} min.")
        return body, 429, {"Retry-After": str(max(1, int(wait.total_seconds())))}
    given = request.form.get("password", "").encode("utf-8")
    back = safe_next(request.form.get("next")) or ""
    if not hmac.compare_digest(given, services.settings().console.password.encode("utf-8")):
        limiter.failed(address)
        return page("login.html", 401, next=back, error="Wrong password.")
    limiter.succeeded(address)
    token = services.store().sessions.open(now=services.now(), lifetime=SESSION_LIFETIME)
    session.clear()  # a fresh session, and with it a fresh CSRF token on the next page
    session.permanent = True  # signed with its time: refused once SESSION_LIFETIME has passed
    session[SESSION_KEY] = token
    return redirect(back or url_for("console.overview"))


@console.post("/logout")
def logout() -> Any:
    token = session.get(SESSION_KEY)
    if isinstance(token, str):
        services.store().sessions.close(token)  # every copy of this cookie is signed out with it
    session.clear()
    return redirect(url_for("console.login"))
