"""The web console under ``/console``: preview an event, watch invitations flow, retry what failed.

Registered by ``create_app`` only when ``CONSOLE_PASSWORD`` is set (otherwise every ``/console`` path is the
app's JSON 404). One password, compared in constant time; a signed session cookie (``SECRET_KEY``) that is
``HttpOnly``, ``SameSite=Lax`` and ``Secure`` when the request came over HTTPS, naming a session the database
keeps (``store.sessions``), so that signing out revokes it in every process; Flask-WTF's CSRF token on every
form; failed logins limited per client and in all (per process), in bounded memory. The client's address and
scheme are read through the proxies ``TRUSTED_PROXIES`` believes (``receiver.forwarded``).

Personal data is masked everywhere but on the preview of a message the user pasted themself. The preview
takes the endpoint's own path (``Intake.preview``) and stores nothing.

One module per job: ``blueprint`` (the guard, the headers, rendering), a module per page (``login``,
``overview``, ``invitations``, ``preview``), ``forms`` (what the forms and query strings say, checked),
``limiter`` (failed logins), ``health`` (the delivery figures and when they mean an outage), ``chart`` (the
deliveries chart's geometry), ``services`` (the one place that reads the app's services).
"""

from __future__ import annotations

from flask import Flask, request
from flask.sessions import SecureCookieSessionInterface

from ..config import ConsoleSettings
from ..forwarded import BelieveProxies
from . import invitations, login, overview, preview, services  # noqa: F401 - the pages register their routes
from .blueprint import console, csrf
from .chart import Bar, deliveries_chart
from .limiter import LOGIN_FAILURES, LOGIN_WINDOW, LoginLimiter
from .login import SESSION_LIFETIME

__all__ = ["LOGIN_FAILURES", "LOGIN_WINDOW", "SESSION_LIFETIME", "Bar", "LoginLimiter", "deliveries_chart",
           "init_app"]

class _ConsoleSessions(SecureCookieSessionInterface):
    """The session cookie is ``Secure`` whenever the request came over HTTPS, as ``BelieveProxies`` reports it behind
    the router: Flask's own ``SESSION_COOKIE_SECURE`` is one value for every request, and the console is also used
    over plain HTTP on a developer's machine."""

    def get_cookie_secure(self, app: Flask) -> bool:
        return bool(app.config["SESSION_COOKIE_SECURE"]) or request.is_secure


def init_app(app: Flask, settings: ConsoleSettings) -> None:
    """Turn the console on: the proxies in front, cookie settings, CSRF, the login limiter, the blueprint."""
    # Only the console reads the client's address (the login limit) and scheme (the Secure cookie), so the proxies'
    # headers are believed where it is on; with it off, the app behaves as if no proxy headers were ever sent.
    app.wsgi_app = BelieveProxies(app.wsgi_app, settings.trusted_proxies)  # type: ignore[method-assign]
    app.secret_key = settings.secret_key
    app.config.update(SESSION_COOKIE_NAME="receiver_console", SESSION_COOKIE_HTTPONLY=True,
                      SESSION_COOKIE_SAMESITE="Lax", SESSION_COOKIE_PATH="/console",
                      PERMANENT_SESSION_LIFETIME=SESSION_LIFETIME)
    app.session_interface = _ConsoleSessions()
    app.config.update(
        WTF_CSRF_CHECK_DEFAULT=False,  # the console's guard checks its own forms; no other path takes a form
        WTF_CSRF_TIME_LIMIT=None,  # a token lasts as long as its session (SESSION_LIFETIME)
        # Flask-WTF's extra check over HTTPS wants a Referer from this host, and the console's pages send
        # Referrer-Policy: no-referrer (so browsers send none): the session-bound token is the check
        WTF_CSRF_SSL_STRICT=False,
    )
    csrf.init_app(app)
    services.keep(app, LoginLimiter(services.clock(app)))
    app.register_blueprint(console)
