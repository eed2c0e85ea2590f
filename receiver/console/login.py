"""Signing in and out: one password, compared in constant time; failed tries limited per client address."""

from __future__ import annotations

import hmac
from datetime import timedelta
from typing import Any

from flask import redirect, request, session, url_for

from . import services
from .blueprint import console, page
from .forms import safe_next

SESSION_LIFETIME = timedelta(hours=12)  # a signed-in session lasts this long, then the password is asked again


@console.route("/login", methods=["GET", "POST"])
def login() -> Any:
    if request.method == "GET":
        return page("login.html", next=request.args.get("next", ""))
    limiter = services.limiter()
    address = request.remote_addr or "unknown"  # the client's, behind one proxy (ProxyFix: see init_app)
    wait = limiter.blocked_for(address)
    if wait is not None:
        minutes = max(1, int(wait.total_seconds() + 59) // 60)
        body, _ = page("login.html", next="", error=f"Too many failed attempts: try again in {minutes} min.")
        return body, 429, {"Retry-After": str(max(1, int(wait.total_seconds())))}
    given = request.form.get("password", "").encode("utf-8")
    if not hmac.compare_digest(given, services.settings().console.password.encode("utf-8")):
        limiter.failed(address)
        return page("login.html", 401, next=request.form.get("next", ""), error="Wrong password.")
    limiter.succeeded(address)
    session.clear()  # a fresh session, and with it a fresh CSRF token on the next page
    session.permanent = True  # signed with its time: refused once SESSION_LIFETIME has passed
    session["signed_in"] = True
    return redirect(safe_next(request.form.get("next")) or url_for("console.overview"))


@console.post("/logout")
def logout() -> Any:
    session.clear()
    return redirect(url_for("console.login"))
