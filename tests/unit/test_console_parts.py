"""The console's parts that need no request: its settings, the login limiter, the deliveries chart, the preview's
sources and the business name."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from receiver.config import ConfigError, load_settings
from receiver.console import LoginLimiter, deliveries_chart
from support.clock import FakeClock
from support.data import base_env

PASSWORD = "correct horse battery staple"


def test_console_password_without_secret_key_is_a_configuration_error_naming_it(sqlite_url):
    with pytest.raises(ConfigError) as caught:
        load_settings(base_env(DATABASE_URL=sqlite_url, CONSOLE_PASSWORD=PASSWORD))
    assert any(line.startswith("SECRET_KEY is not set") for line in caught.value.problems)
    assert PASSWORD not in str(caught.value)
    with pytest.raises(ConfigError) as short:
        load_settings(base_env(DATABASE_URL=sqlite_url, CONSOLE_PASSWORD=PASSWORD, SECRET_KEY="short"))
    assert "SECRET_KEY must be at least 16 characters long" in short.value.problems


def test_the_limiter_forgets_an_address_after_a_success():
    clock = FakeClock()
    limiter = LoginLimiter(clock, failures=2, window=timedelta(minutes=1))
    limiter.failed("a")
    limiter.succeeded("a")
    limiter.failed("a")
    assert limiter.blocked_for("a") is None
    limiter.failed("a")
    assert limiter.blocked_for("a") == timedelta(minutes=1)


def test_the_chart_scales_bars_to_the_busiest_hour():
    start = datetime(2026, 11, 20, 0, tzinfo=UTC)
    bars = deliveries_chart([(start, 2), (start + timedelta(hours=1), 4), (start + timedelta(hours=2), 0)],
                            width=24, height=100)
    assert [(bar.x, bar.height, bar.y, bar.label) for bar in bars] == [
        (0, 50, 50, "00:00"), (24, 100, 0, "01:00"), (48, 0, 100, "02:00")]


def test_sources_come_from_the_functions_that_pick_the_values():
    from receiver.invitation import Rules, invitation_and_sources, invitation_from
    from receiver.segment import parse_message

    message = parse_message({"type": "track", "event": "Order Completed", "messageId": "m-1",
                             "context": {"traits": {"email": "ann@example.com", "firstName": "Ann",
                                                    "lastName": "Lee"}},
                             "properties": {"orderId": 7, "locale": "fr-FR", "affiliation": "Shop"}})
    rules = Rules(tags=("web",), tag_properties=("affiliation",))
    invitation, sources = invitation_and_sources(message, rules)
    assert invitation == invitation_from(message, rules)
    assert sources["email"] == "context.traits.email"
    assert sources["name"] == "context.traits.first_name + context.traits.last_name"
    assert sources["locale"] == "properties.locale"
    assert sources["tags"] == "TRUSTPILOT_TAGS; TAG_PROPERTIES: properties.affiliation"
    bare = parse_message({"type": "track", "event": "Order Completed", "messageId": "m-2",
                          "properties": {"order_id": "1", "email": "x@example.com"}})
    assert invitation_and_sources(bare, Rules())[1]["name"] == "DEFAULT_NAME"


def test_the_business_name_in_the_preview_follows_the_smtp_senders_order():
    from receiver.config import email_look

    def business_name_for(environ):
        return email_look(environ).business_name

    assert business_name_for({"BUSINESS_NAME": "Bücherwelt", "MAIL_FROM": "Shop <r@shop.example>"}) == "Bücherwelt"
    assert business_name_for({"MAIL_FROM": "Shop <r@shop.example>", "TRUSTPILOT_DOMAIN": "d.example"}) == "Shop"
    assert business_name_for({"MAIL_FROM": "r@shop.example", "TRUSTPILOT_DOMAIN": "d.example"}) == "d.example"
    assert business_name_for({"MAIL_FROM": "r@shop.example"}) == "shop.example"
