"""app.json is valid against Heroku's app.json schema, declares every setting an operator sets (made from
config.SETTINGS by ``scripts/app-json``), and runs what the Procfile names."""

from __future__ import annotations

import json
import re
import secrets
from urllib.parse import urlsplit

import pytest

from receiver import app_manifest, config
from receiver.declare import read
from support.data import ROOT

MANIFEST = json.loads((ROOT / "app.json").read_text())
PROCFILE = dict(line.split(": ", 1) for line in (ROOT / "Procfile").read_text().splitlines() if line.strip())

# The rules of Heroku's app.json schema (devcenter "app.json Schema", and the JSON Schema Heroku publishes for it)
TOP_LEVEL = {"name", "description", "keywords", "website", "repository", "logo", "success_url", "scripts", "env",
             "formation", "addons", "buildpacks", "environments", "stack", "image"}
ENV_FIELDS = {"description": str, "value": str, "required": bool, "generator": str}
DYNO_SIZES = {"free", "eco", "hobby", "basic", "standard-1x", "standard-2x", "performance-m", "performance-l",
              "private-s", "private-m", "private-l", "shield-s", "shield-m", "shield-l"}


def is_uri(text: object) -> bool:
    parts = urlsplit(text) if isinstance(text, str) else None
    return bool(parts and parts.scheme and parts.netloc)


def test_the_env_is_the_one_made_from_the_settings():
    assert MANIFEST["env"] == app_manifest.env(), "app.json's env is out of date: run scripts/app-json"


def test_app_json_keeps_heroku_s_schema():
    assert set(MANIFEST) <= TOP_LEVEL
    assert isinstance(MANIFEST["name"], str) and 3 <= len(MANIFEST["name"]) <= 30
    assert isinstance(MANIFEST["description"], str) and len(MANIFEST["description"]) <= 140
    assert all(isinstance(word, str) for word in MANIFEST["keywords"])
    for field in ("repository", "website", "logo"):
        assert field not in MANIFEST or is_uri(MANIFEST[field]), f"{field} must be a URI"
    for name, entry in MANIFEST["env"].items():
        assert re.fullmatch(r"[A-Z][A-Z0-9_]*", name)
        assert isinstance(entry, dict) and set(entry) <= set(ENV_FIELDS), name
        assert all(isinstance(entry[key], ENV_FIELDS[key]) for key in entry), name
        assert entry.get("generator", "secret") == "secret", name
    for process, formation in MANIFEST["formation"].items():
        assert re.fullmatch(r"[a-zA-Z0-9_-]+", process)
        assert set(formation) <= {"quantity", "size"} and isinstance(formation["quantity"], int)
        assert formation["quantity"] >= 0 and formation.get("size", "basic") in DYNO_SIZES
    for addon in MANIFEST["addons"]:
        assert isinstance(addon, str) or (set(addon) <= {"plan", "as", "options"} and "plan" in addon)


def test_it_has_a_repository_and_every_setting_says_what_it_is_and_whether_it_is_needed():
    assert is_uri(MANIFEST.get("repository"))
    for name, entry in MANIFEST["env"].items():
        assert entry["description"].strip() and "`" not in entry["description"], name
        assert isinstance(entry["required"], bool), name
    declared = {setting.name for setting in config.SETTINGS}
    assert set(MANIFEST["env"]) | set(app_manifest.SET_BY_THE_PLATFORM) == declared
    required = {name for name, entry in MANIFEST["env"].items() if entry["required"]}
    assert required == {"TRUSTPILOT_DOMAIN", "TRUSTPILOT_ENCRYPT_KEY", "TRUSTPILOT_AUTH_KEY", "SENDER", "DATA_KEY"}
    assert MANIFEST["env"]["DATA_KEY"]["generator"] == "secret"  # required, and Heroku makes it
    assert "Required with SENDER=smtp." in MANIFEST["env"]["SMTP_URL"]["description"]
    assert "Required with SENDER=http." in MANIFEST["env"]["CALLBACK_SECRET"]["description"]
    assert all(word in MANIFEST["env"]["SENDER"]["description"] for word in ("log", "smtp", "http"))


@pytest.mark.parametrize("name", [name for name, entry in MANIFEST["env"].items() if entry.get("generator")])
def test_a_secret_made_up_by_heroku_is_taken(name):
    """Heroku's generator makes 64 hexadecimal digits (32 random bytes)."""
    made_up = secrets.token_hex(32)
    values, problems = read([config.BY_NAME[name]], {name: made_up})
    assert problems == []
    if name == "DATA_KEY":
        assert values[name] == bytes.fromhex(made_up)


def test_the_processes_are_the_procfile_s_with_the_database_it_migrates():
    assert PROCFILE["release"] == "receiver db upgrade"
    assert set(MANIFEST["formation"]) == set(PROCFILE) - {"release"} == {"web", "worker"}
    assert all(MANIFEST["formation"][process]["quantity"] >= 1 for process in ("web", "worker"))
    assert "heroku-postgresql" in [addon if isinstance(addon, str) else addon["plan"] for addon in MANIFEST["addons"]]
