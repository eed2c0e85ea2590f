"""An outage pages someone: the callback's peer goes down while orders flow (real worker, real http sender, real
local server, real database, simulated time), and the gauges the alert rules read cross their thresholds within
10 minutes. ``tests/system/test_alert_rules.py`` feeds the same scraped series to ``promtool``."""

import pytest

from support.outage import run_outage

pytestmark = pytest.mark.both_databases


def test_the_stall_and_the_failure_ratio_cross_their_thresholds_within_10_minutes(database_url):
    outage = run_outage(database_url)
    healthy = outage.scrapes[outage.healthy_steps - 1]
    assert healthy[("receiver_delivery_stalled_seconds", ())] == 0
    assert healthy[("receiver_deliveries_total", (("result", "sent"), ("sender", "http")))] == outage.healthy_steps
    # receiver_delivery_stalled_seconds > 300 for 2m (alerts.yml): true from step 11 (5.5 min), firing by 7.5 min
    stalled = outage.first_step_after_stop("receiver_delivery_stalled_seconds", lambda seconds: seconds > 300)
    assert stalled is not None and stalled <= 12
    # receiver_delivery_failure_ratio_15m > 0.5 and attempts >= 5, for 5m: true within 5 minutes
    ratio = outage.first_step_after_stop("receiver_delivery_failure_ratio_15m", lambda ratio: ratio > 0.5)
    attempts = outage.values("receiver_delivery_attempts_15m")
    assert ratio is not None and ratio <= 10 and attempts[outage.healthy_steps + ratio] >= 5
    # nothing was delivered once the server was down, and every order since is undelivered
    last = outage.scrapes[-1]
    assert last[("receiver_deliveries_total", (("result", "sent"), ("sender", "http")))] == outage.healthy_steps
    assert last[("receiver_undelivered_invitations", ())] == len(outage.scrapes) - outage.healthy_steps
    assert last[("receiver_oldest_undelivered_age_seconds", ())] == 30 * (len(outage.scrapes) - outage.healthy_steps - 1)
