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


def test_the_chart_stacks_failed_on_sent_scaled_to_a_round_axis_with_labels_inside():
    from receiver.console.chart import BAR, LEFT, PLOT, TOP

    start = datetime(2026, 11, 20, 0, tzinfo=UTC)
    hours = [(start + timedelta(hours=index), 0, 0) for index in range(24)]
    hours[0], hours[1] = (start, 3, 1), (start + timedelta(hours=1), 7, 2)
    chart = deliveries_chart(hours)
    assert [tick.value for tick in chart.ticks] == [0, 5, 10]  # 9 at most: the axis goes to 10
    assert chart.ticks[0].y == chart.base == TOP + PLOT and chart.ticks[-1].y == TOP
    first, second = chart.bars[:2]
    assert (first.sent_height, first.failed_height) == (PLOT * 3 / 10, PLOT * 1 / 10)
    assert first.failed_y + first.failed_height == first.sent_y  # stacked
    assert (second.total, second.top) == (9, chart.base - PLOT * 9 / 10)
    assert second.top - 4 > 0  # the count above the tallest bar is inside the picture
    assert first.label == "00:00" and first.centre == LEFT + BAR / 2  # the first label is not at the edge
    assert [bar.label for bar in chart.bars if bar.label] == [f"{h:02d}:00" for h in range(0, 24, 3)]
    assert [bar.hour for bar in chart.bars if bar.label and not bar.minor] == ["00:00", "06:00", "12:00", "18:00"]
    assert (chart.sent, chart.failed) == (10, 3)
    assert chart.width == LEFT + 24 * BAR + 10


def test_a_lone_bar_reaches_the_top_tick_and_an_empty_day_still_has_an_axis():
    start = datetime(2026, 11, 20, 0, tzinfo=UTC)
    lone = deliveries_chart([(start, 0, 0), (start + timedelta(hours=1), 1, 0)])
    assert [tick.value for tick in lone.ticks] == [0, 1]
    assert lone.bars[1].top == lone.ticks[-1].y and lone.bars[1].total == 1
    empty = deliveries_chart([(start, 0, 0)])
    assert [tick.value for tick in empty.ticks] == [0, 1] and empty.bars[0].total == 0


@pytest.mark.parametrize(("busiest", "top"), [(0, 1), (1, 1), (2, 2), (3, 5), (6, 10), (11, 20), (51, 100),
                                               (101, 200)])
def test_the_axis_ends_on_a_round_number(busiest, top):
    from receiver.console.chart import axis_top

    assert axis_top(busiest) == top


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
