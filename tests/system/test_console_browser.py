"""The console in a real headless browser (Debian's chromium, driven by Playwright: ``browser`` in conftest.py)
against a live server.

Skipped with a reason where Playwright or a chromium binary is missing. Every page is visited at a desktop width
and at a phone's (390 px), and photographed: into ``RECEIVER_CONSOLE_SCREENSHOTS=<folder>`` when it is set,
else into the test's temporary folder (its path is printed). The README's pictures are two of them:
``docs/console-overview.png`` (``overview-desktop-first-screen.png``: a day of traffic, then an outage) and
``receiver/static/console.png`` (``RECEIVER_CONSOLE_SCREENSHOT=<path>``, the preview of the seed).
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import pytest

from receiver.invitation import Invitation
from receiver.store import DEAD, DELIVERED, PENDING, RETRYING, SENT, TRANSIENT, Attempt, NewInvitation
from receiver.text import valid_email

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
    assert "j***e@example.com" in page.text_content("#invitations")
    assert "jane.doe" not in page.content()
    page.click("#invitations >> text=Retry")
    page.wait_for_selector("text=Queued again: it is due now.")
    assert page.text_content("#state") == RETRYING
    row = store.reports.get(job.id)
    assert row.state == RETRYING and row.state != DEAD
    page.close()


PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}


def screenshots_folder(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("RECEIVER_CONSOLE_SCREENSHOTS") or tmp_path / "screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    print(f"console screenshots in {folder}")
    return folder


def a_day_of_traffic(store, clock) -> dict[str, int]:
    """24 hours of orders sent hour by hour (a quiet night, a busy afternoon), each attempt recorded as the worker
    records it; then the callback goes down: the last 12 minutes' attempts fail and orders queue up behind them.
    The ids of a few rows to visit."""
    def add(ref: str, email: str, **extra) -> int:
        item = Invitation(message_id=f"m-{ref}", email=valid_email(email), name="Jane Doe", ref=ref, **extra)
        store.outbox.add([NewInvitation(item, due_at=clock())], domain="example.com", now=clock())
        return store.reports.find(message_id=f"m-{ref}").id

    def attempt(error: str | None = None, *, retry_in: timedelta | None = None) -> int:
        [job] = store.outbox.claim(now=clock(), limit=1, lease_seconds=60)
        if error is None:
            done = Attempt(sender="http", outcome=DELIVERED, attempted_at=clock(), duration_seconds=0.21)
            store.outbox.mark_sent(job, now=clock(), attempt=done)
            return job.id
        failed = Attempt(sender="http", outcome=TRANSIENT, attempted_at=clock(), duration_seconds=10.0,
                         code="http 503", error=error)
        if retry_in is None:
            store.outbox.mark_dead(job, now=clock(), error=error, attempt=failed)
        else:
            store.outbox.mark_retry(job, now=clock(), at=clock() + retry_in, error=error, attempt=failed)
        return job.id

    per_hour = [1, 0, 0, 0, 0, 1, 2, 4, 6, 9, 11, 12, 10, 13, 14, 12, 9, 8, 7, 5, 4, 3, 2, 0]
    for hour, count in enumerate(per_hour):
        for n in range(count):
            add(f"A-{hour:02d}{n:02d}", f"customer{hour}x{n}@example.com")
            attempt()
            clock.advance(minutes=60 / max(count, 1) - 0.01)
        if not count:
            clock.advance(hours=1)
    ids = {"sent": store.reports.find(message_id="m-A-1300").id}
    clock.advance(minutes=20)
    down = "the callback answered 503 Service Unavailable"
    for n in range(6):
        add(f"B-{n}", ("jane.doe" if n < 3 else "john.doe") + "@example.com", skus=("45790-32", "46493-32"),
            tags=("web", "summer-sale"))
        job = attempt(down, retry_in=timedelta(minutes=8) if n == 5 else None)
        ids.setdefault("dead", job)
        ids["retrying"] = job
        clock.advance(minutes=2)
    for n in range(3):
        ids.setdefault("pending", add(f"C-{n}", f"queued{n}@bücher.example"))
    return ids


def test_every_page_at_desktop_and_phone_width_fits_and_is_photographed(browser, live_app, store, clock, tmp_path):
    ids = a_day_of_traffic(store, clock)
    folder = screenshots_folder(tmp_path)
    pages = {
        "login": "/console/login",
        "overview": "/console",
        "invitations": "/console/invitations",
        "search": "/console/invitations?q=Jane.Doe@Example.com&state=dead",
        "invitation-dead": f"/console/invitations/{ids['dead']}",
        "invitation-sent": f"/console/invitations/{ids['sent']}",
        "retry-dead": "/console/invitations/retry-dead",
        "retry-these": "/console/invitations/retry?q=jane.doe@example.com",
        "preview": "/console/preview",
        "not-found": "/console/invitations/999999",
    }
    for name, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
        context = browser.new_context(viewport=viewport, device_scale_factor=1)
        page = context.new_page()
        page.set_default_timeout(15000)
        for key, path in pages.items():
            if key == "login":
                page.goto(f"{live_app}{path}")
                page.screenshot(path=str(folder / f"{key}-{name}.png"), full_page=True)
                page.fill("input[name=password]", PASSWORD)
                page.click("button[type=submit]")
                page.wait_for_selector("#health")
                continue
            page.goto(f"{live_app}{path}")
            if key == "preview":
                page.select_option("select[name=fixture]", "order-completed-seed.json")
                page.click("form >> text=Preview")
                page.wait_for_selector("#verdict")
            width = page.evaluate("document.scrollingElement.scrollWidth")
            assert width <= viewport["width"], f"{key} is {width} px wide at {viewport['width']}"
            page.screenshot(path=str(folder / f"{key}-{name}.png"), full_page=True)
            if key == "overview" and name == "desktop":  # the README's picture: the first screen
                page.screenshot(path=str(folder / "overview-desktop-first-screen.png"))
        context.close()
    assert sorted(path.name for path in folder.glob("*.png")) == sorted(
        [f"{key}-{name}.png" for key in pages for name in ("desktop", "phone")] + ["overview-desktop-first-screen.png"])


def test_the_chart_the_banner_and_the_confirmed_retry_in_the_browser(browser, live_app, store, clock):
    ids = a_day_of_traffic(store, clock)
    page = browser.new_page(viewport=PHONE)
    page.set_default_timeout(15000)
    page.goto(f"{live_app}/console/login")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_selector("#outage")
    assert "Delivery looks broken." in page.text_content("#outage")
    svg = page.locator("#deliveries").bounding_box()
    assert svg["x"] >= 0 and svg["x"] + svg["width"] <= PHONE["width"]  # the chart fits the phone
    for selector in ("text.tick", "text.hour:not(.minor)", "text.count"):  # every label drawn inside the chart
        for box in (page.locator(f"#deliveries {selector}").nth(i).bounding_box()
                    for i in range(page.locator(f"#deliveries {selector}").count())):
            assert box["x"] >= svg["x"] and box["x"] + box["width"] <= svg["x"] + svg["width"] + 0.5
            assert box["y"] >= svg["y"] and box["y"] + box["height"] <= svg["y"] + svg["height"] + 0.5
    busy = page.evaluate("[...document.querySelectorAll('#deliveries rect.sent')].filter(r => "
                         "+r.dataset.count + +r.nextElementSibling.dataset.failed > 0).length")
    assert busy >= 18 and page.locator("#deliveries text.count").count() == busy  # a count on every busy hour

    page.click("#count-dead")
    page.click("#retry-all-dead")
    assert "5 dead invitation(s) will be queued again" in page.text_content("#what")
    page.click("#confirm")
    page.wait_for_selector("text=5 invitation(s) queued again.")
    states = store.reports.counts()
    assert (states[DEAD], states[RETRYING], states[PENDING], states[SENT]) == (0, 6, 3, 133)
    row = store.reports.get(ids["retrying"])
    assert row.next_attempt_at == clock() + timedelta(minutes=-2 + 8)  # the one already retrying was left alone
    page.close()
