"""The web layer: the Flask app that takes Segment's messages.

- ``app``: ``create_app``, which builds the app (and never migrates its database), and the hooks every request gets.
- ``services``: ``Services``, what the views use, found with ``services()``.
- ``endpoints``: ``POST /segment`` and Segment's Tracking API (``/v1/...``), and the one path behind them.
- ``ops``: ``/healthz``, ``/readyz``, ``/metrics``.
- ``unsubscribe``: ``/unsubscribe/<token>``, the customer's one-click unsubscribe.
- ``errors``: every error as JSON.

The console (``receiver.console``) adds itself to the app when ``CONSOLE_PASSWORD`` is set.
"""

from .app import create_app
from .services import SERVICES, Services, services

__all__ = ["SERVICES", "Services", "create_app", "services"]
