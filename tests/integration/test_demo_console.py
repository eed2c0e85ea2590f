"""The console of ``serve --demo``: its preview names the demo's business, and its overview shows the demo's
settings as in force (not "(not set)"), the log sender and its own database among them."""

from __future__ import annotations

import html
import json
import re

from receiver.config import DEMO_BUSINESS, load_settings
from receiver.web import create_app
from support.data import fixture

PASSWORD = "correct horse battery staple"
PRODUCTION = {"DATABASE_URL": "postgres://app:pw@db.example.com/receiver", "SENDER": "http",
              "CALLBACK_URL": "https://mailer.example.com/hook", "CONSOLE_PASSWORD": PASSWORD, "SECRET_KEY": "s" * 32}


def signed_in(client) -> str:
    """Sign in; the CSRF token of the pages after it."""
    def token(path: str) -> str:
        return re.search(r'name="csrf_token" value="([^"]+)"', client.get(path).get_data(as_text=True)).group(1)

    answer = client.post("/console/login", data={"password": PASSWORD, "csrf_token": token("/console/login")})
    assert answer.status_code == 302
    return token("/console")


def test_the_demo_console_names_demo_shop_and_shows_the_demo_settings_in_force(database_url, store, clock):
    settings = load_settings(PRODUCTION, demo=True, intake=True, demo_database=database_url)
    assert (settings.database.url, settings.worker.sender) == (database_url, "log")
    client = create_app(settings, store=store, clock=clock).test_client()
    token = signed_in(client)
    preview = client.post("/console/preview", data={"csrf_token": token,
                                                    "message": json.dumps(fixture("order-completed-seed.json"))})
    assert f"How was your order from {DEMO_BUSINESS}?" in html.unescape(preview.get_data(as_text=True))
    overview = html.unescape(client.get("/console").get_data(as_text=True))
    for name in ("TRUSTPILOT_DOMAIN", "TRUSTPILOT_ENCRYPT_KEY", "TRUSTPILOT_AUTH_KEY", "SEGMENT_API_KEYS",
                 "BUSINESS_NAME", "SENDER", "DATABASE_URL"):
        shown = re.search(rf"{name}\W+(.*?)<", overview, re.S)
        assert shown and "(not set)" not in shown.group(1), name
    assert "db.example.com" not in overview  # the database in force is the demo's
