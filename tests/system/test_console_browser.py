"""The console in a real headless browser (Debian's chromium, driven by Playwright: ``browser`` in conftest.py)
against a live server.

Skipped with a reason where Playwright or a chromium binary is missing. With ``RECEIVER_CONSOLE_SCREENSHOT=<path>``
it also writes the screenshot the README shows (``receiver/static/console.png``).
"""

from __future__ import annotations

import os
from datetime import timedelta

import pytest

from receiver.invitation import Invitation
from receiver.store import DEAD, RETRYING, NewInvitation

PASSWORD = "browser-test-password"
pytestmark = pytest.mark.env(CONSOLE_PASSWORD=PASSWORD, SECRET_KEY="b" * 32)


def test_log_in_preview_the_seed_and_retry_a_dead_invitation(browser, live_app, store, clock):
    dead = Invitation(message_id="m-dead", email="jane.doe@example.com", name="Jane Doe", ref="DEAD-1")
    store.outbox.add([NewInvitation(dead, due_at=clock() - timedelta(minutes=5))], domain="example.com", now=clock())
    [job] = store.outbox.claim(now=clock(), limit=1, lease_seconds=60)
    store.outbox.mark_dead(job, now=clock(), error="550 mailbox unavailable")
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.set_default_timeout(15000)

    page.goto(f"{live_app}/console")
    assert "/console/login" in page.url
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_selector("#count-dead")
    assert page.text_content("#count-dead") == "1"

    page.click("text=Preview")
    page.select_option("select[name=fixture]", "order-completed-seed.json")
    page.click("form >> text=Preview")
    page.wait_for_selector("#verdict")
    assert page.text_content("#verdict") == "accepted"
    assert '"email": "test@example.com"' in page.text_content("#decoded")
    email = page.frame_locator("#email-html")
    assert "John Johnson" in email.locator("body").inner_text()
    link = page.text_content("#link")
    assert email.locator(f'a[href="{link}"]').count() >= 1
    if os.environ.get("RECEIVER_CONSOLE_SCREENSHOT"):
        page.screenshot(path=os.environ["RECEIVER_CONSOLE_SCREENSHOT"], full_page=False, type="png")

    page.goto(f"{live_app}/console/invitations?state=dead")
    assert "j***@example.com" in page.text_content("#invitations")
    assert "jane.doe" not in page.content()
    page.click("#invitations >> text=Retry")
    page.wait_for_selector("text=Queued again: it is due now.")
    assert page.text_content("#state") == RETRYING
    row = store.reports.get(job.id)
    assert row.state == RETRYING and row.state != DEAD
    page.close()
