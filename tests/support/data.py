"""What every test agrees on: the reference keys, the fixture messages and the settings built from them."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "fixtures"
SHARED_VECTORS = ROOT.parent / "shared" / "reference" / "bgl-vectors.json"
# A copy of Trustpilot's reference vectors, so that the tests stand on their own.
VECTORS = json.loads((ROOT / "tests" / "data" / "bgl-vectors.json").read_text())
ENCRYPT_KEY = "p5+FYz/GQQGalwaH2kd1XF/hDWwkXJjLjvljC5MS7TM="
AUTH_KEY = "C5UYaa2LWj0HY8M8/ZTG/J5rTVl27l+KvCHvVR2mAWU="
API_KEY = "test-api-key"
DATA_KEY = "dGVzdCBkYXRhIGtleSBvZiB0aGUgcmVjZWl2ZXIhISE="  # base64 of 32 bytes: the tests' DATA_KEY
DATA_KEY_BYTES = base64.b64decode(DATA_KEY)


def base_env(**extra: str) -> dict[str, str]:
    """The environment of a configured receiver (reference keys, two API keys); ``extra`` adds or overrides."""
    env = {
        "TRUSTPILOT_DOMAIN": "example.com",
        "TRUSTPILOT_ENCRYPT_KEY": ENCRYPT_KEY,
        "TRUSTPILOT_AUTH_KEY": AUTH_KEY,
        "SEGMENT_API_KEYS": f"other-key,{API_KEY}",
        "DATA_KEY": DATA_KEY,
        # off, so that a test may send several invitations to one address; the cap's own tests turn it on
        "INVITE_COOLDOWN": "0",
    }
    env.update(extra)
    return env


def basic_auth(key: str = API_KEY) -> dict[str, str]:
    """The header Segment sends: the API key as the user name of HTTP Basic authentication."""
    return {"Authorization": "Basic " + base64.b64encode(f"{key}:".encode()).decode()}


def fixture(name: str) -> Any:
    """A message from ``fixtures/``, decoded."""
    return json.loads((FIXTURES / name).read_text())
