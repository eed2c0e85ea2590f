"""The shipped alert rules (``deploy/prometheus/alerts.yml``) pass ``promtool``: their own tests
(``alerts_test.yml``), and the series scraped from a real outage of the callback's peer (``support.outage``: real
worker, http sender, local server and database, simulated time), on which the outage alerts fire within 10 minutes
of the peer going down. Skipped where promtool is not installed (Debian's ``prometheus`` package has it)."""

import shutil
import subprocess

import pytest

from support.outage import ALERTS, promtool_test, run_outage

PROMTOOL = shutil.which("promtool")
pytestmark = pytest.mark.skipif(PROMTOOL is None, reason="promtool is not installed (Debian: apt-get install "
                                                         "prometheus; .ci/run installs it where it can)")


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([PROMTOOL, *args], capture_output=True, text=True, timeout=60, cwd=ALERTS.parent)


def test_the_rules_are_valid_and_pass_their_own_tests():
    checked = promtool("check", "rules", str(ALERTS))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    tested = promtool("test", "rules", str(ALERTS.parent / "alerts_test.yml"))
    assert tested.returncode == 0, tested.stdout + tested.stderr


@pytest.mark.parametrize("alert", ["ReceiverDeliveriesStalled", "ReceiverDeliveryFailures"])
def test_an_outage_of_the_callback_fires_within_10_minutes(alert, database_url, tmp_path):
    outage = run_outage(database_url)
    tested = promtool("test", "rules", str(promtool_test(outage, alert, tmp_path)))
    assert tested.returncode == 0, tested.stdout + tested.stderr
