"""`receiver status` and the console's overview read one report from a real store and show the same wait."""

from __future__ import annotations

import re

from receiver.config import load_settings
from receiver.invitation import Invitation
from receiver.status import read_status, status_lines
from receiver.store import NewInvitation
from receiver.web import create_app
from support.data import base_env


def test_receiver_status_and_the_overview_show_the_same_wait(sqlite_url, store, clock):
    store.outbox.add([NewInvitation(Invitation(message_id="m-1", email="a@example.com", name="A", ref="R-1"))],
                     domain="example.com", now=clock())
    clock.advance(hours=1, minutes=30)
    assert "oldest due invitation: waiting 1h 30m" in status_lines(read_status(store.reports, now=clock()))
    settings = load_settings(base_env(DATABASE_URL=sqlite_url, CONSOLE_PASSWORD="p" * 20, SECRET_KEY="s" * 32))
    client = create_app(settings, store=store, clock=clock).test_client()
    page = client.get("/console/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    assert client.post("/console/login", data={"password": "p" * 20, "csrf_token": token}).status_code == 302
    assert 'id="oldest-due">1h 30m<' in client.get("/console").get_data(as_text=True)
