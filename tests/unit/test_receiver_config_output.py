"""What `receiver config` prints: every secret masked, every problem one line."""

from click.testing import CliRunner

from receiver.cli import main
from support.data import AUTH_KEY, ENCRYPT_KEY, base_env


def test_receiver_config_masks_every_secret(tmp_path):
    env = base_env(DATABASE_URL="postgres://app:s3cret-pw@db.example.com:5432/receiver", SENDER="http",
                   CALLBACK_SECRET="whsec_c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0", SMTP_URL="smtp://u:p4ss@mail:587")
    result = CliRunner().invoke(main, ["config"], env=env)
    lines = dict(line.split("=", 1) for line in result.output.splitlines() if "=" in line and line[0].isupper())
    assert lines["DATABASE_URL"] == "postgres://app:***@db.example.com:5432/receiver"
    assert lines["TRUSTPILOT_ENCRYPT_KEY"] == "*** (set)" and lines["SEGMENT_API_KEYS"] == "*** (2 set)"
    assert lines["CALLBACK_SECRET"] == "*** (set)" and lines["SMTP_URL"] == "smtp://u:***@mail:587"
    assert lines["RETENTION"] == "30d (default)" and lines["TRUSTPILOT_DOMAIN"] == "example.com"
    for secret in ("s3cret-pw", "p4ss", ENCRYPT_KEY, AUTH_KEY, "test-api-key", "c2VjcmV0"):
        assert secret not in result.output
    assert result.exit_code == 0


def test_receiver_config_lists_problems_and_exits_2():
    result = CliRunner().invoke(main, ["config"], env={**base_env(), "RETENTION": "forever", "MAX_BODY": "lots"})
    assert result.exit_code == 2
    assert "configuration error: RETENTION: 'forever' is not a duration such as 30s, 15m, 12h or 3d" in result.output
    assert "configuration error: MAX_BODY: 'lots' is not a size such as 512KB or 16MB" in result.output
