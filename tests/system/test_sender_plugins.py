"""A third-party sender from its own distribution is picked by SENDER, exactly like a built-in one.

The distribution lives in tests/plugins/receiver_test_sender (a pyproject declaring an entry point in the
group ``receiver.senders``). Installing it would need a build; instead the test lays out what pip would:
the module and a ``.dist-info`` whose ``entry_points.txt`` is generated from that pyproject, in a folder
on sys.path / PYTHONPATH. importlib.metadata finds it the same way, from a fresh clone and offline.
"""

import json
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from receiver import bgl
from receiver.invitation import Invitation
from receiver.senders import ReadyInvitation, SendFailure, available, load_sender
from support.data import AUTH_KEY, ENCRYPT_KEY, FIXTURES, ROOT, base_env

PLUGIN = ROOT / "tests" / "plugins" / "receiver_test_sender"
KEYS = bgl.Keys.from_base64(ENCRYPT_KEY, AUTH_KEY)


def install_plugin(site: Path) -> Path:
    """What ``pip install tests/plugins/receiver_test_sender`` leaves behind, written into ``site``."""
    project = tomllib.loads((PLUGIN / "pyproject.toml").read_text())["project"]
    dist_info = site / f"{project['name'].replace('-', '_')}-{project['version']}.dist-info"
    dist_info.mkdir(parents=True)
    (dist_info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {project['name']}\nVersion: {project['version']}\n")
    lines = []
    for group, entries in project["entry-points"].items():
        lines.append(f"[{group}]")
        lines.extend(f"{name} = {target}" for name, target in entries.items())
    (dist_info / "entry_points.txt").write_text("\n".join(lines) + "\n")
    shutil.copy(PLUGIN / "receiver_test_sender.py", site)
    return site


@pytest.fixture
def plugin_site(tmp_path, monkeypatch):
    site = install_plugin(tmp_path / "site")
    monkeypatch.syspath_prepend(str(site))
    yield site
    sys.modules.pop("receiver_test_sender", None)


def test_the_plugin_is_listed_and_loaded_by_name(plugin_site, tmp_path):
    assert {"log", "smtp", "http", "jsonl-file"} <= set(available())
    out = tmp_path / "sent.jsonl"
    sender = load_sender("jsonl-file", {"TEST_SENDER_FILE": str(out)})
    sender.send(ReadyInvitation(id=1, invitation=Invitation(message_id="m", email="a@b.co", name="A", ref="R-1",
                                                            locale="nl-NL"), link="https://example/x"))
    with pytest.raises(SendFailure):
        sender.send(ReadyInvitation(id=2, invitation=Invitation(message_id="n", email="a@b.co", name="A",
                                                                ref="REFUSE-2"), link="https://example/y"))
    sender.close()
    assert [json.loads(line) for line in out.read_text().splitlines()] == [
        {"id": 1, "ref": "R-1", "locale": "nl-NL", "link": "https://example/x"}]


def _receiver(args, env, cwd):
    return subprocess.run([sys.executable, "-m", "receiver", *args], env=env, cwd=cwd, capture_output=True, text=True,
                          timeout=60)


def test_sender_picks_the_plugin_in_the_real_worker_process(tmp_path):
    site = install_plugin(tmp_path / "site")
    out = tmp_path / "sent.jsonl"
    env = {**os.environ, **base_env(DATABASE_URL=f"sqlite:///{tmp_path / 'r.db'}", SENDER="jsonl-file",
                                    TEST_SENDER_FILE=str(out)),
           "PYTHONPATH": os.pathsep.join(filter(None, [str(site), os.environ.get("PYTHONPATH")]))}
    replayed = _receiver(["replay", str(FIXTURES / "order-completed-seed.json")], env, tmp_path)
    assert replayed.returncode == 0, replayed.stderr
    worker = _receiver(["worker", "--once"], env, tmp_path)
    assert worker.returncode == 0, worker.stderr
    assert "sent 1, retrying 0, dead 0" in worker.stdout
    [line] = [json.loads(text) for text in out.read_text().splitlines()]
    assert line["ref"] == "50314b8e9bcf000000000000" and line["locale"] == "en-US"
    assert bgl.decode(line["link"], KEYS)["email"] == "test@example.com"

    misconfigured = _receiver(["worker", "--once"], {**env, "TEST_SENDER_FILE": ""}, tmp_path)
    assert misconfigured.returncode == 2
    assert misconfigured.stderr.strip() == ("configuration error: TEST_SENDER_FILE is not set "
                                            "(the file the jsonl-file sender appends to)")
