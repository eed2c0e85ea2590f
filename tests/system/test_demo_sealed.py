"""``--demo`` cannot reach production: with a production DATABASE_URL and SENDER=http (a real local callback) set in
the environment or in a ``.env``, ``replay --demo`` and ``serve --demo --worker`` leave that database and that
callback untouched, never make ``./receiver.db``, and leave no temporary folder behind."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

from receiver.store import Store
from support.data import FIXTURES
from support.net import free_port
from support.servers import callback_server
from support.serving import stop_group
from support.wait import wait_for_server, wait_until

RECEIVER = Path(sys.executable).parent / "receiver"  # the console script: the one that reads a .env
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
SEALED = "DATABASE_URL and SENDER are ignored"


def fingerprint(folder: Path) -> dict[str, str]:
    return {path.name: hashlib.sha256(path.read_bytes()).hexdigest() for path in sorted(folder.iterdir())}


@pytest.fixture(params=["environment", ".env"])
def production(request, tmp_path):
    """A migrated production SQLite database and a live callback, configured where ``request.param`` says; yields
    (environment, working folder, callback, check) where check() asserts nothing production was touched."""
    prod = tmp_path / "prod"
    prod.mkdir()
    database_url = f"sqlite:///{prod / 'receiver.db'}"
    store = Store(database_url)
    store.upgrade()
    store.close()
    before = fingerprint(prod)
    work, scratch = tmp_path / "work", tmp_path / "tmp"
    work.mkdir()
    scratch.mkdir()
    with callback_server() as callback:
        real = {"DATABASE_URL": database_url, "SENDER": "http", "CALLBACK_URL": callback.url,
                "CALLBACK_SECRET": SECRET}
        env = {name: value for name, value in os.environ.items()
               if not name.startswith(("TRUSTPILOT_", "SEGMENT_", "PROMETHEUS_"))}
        env.update(TMPDIR=str(scratch), LOG_FORMAT="text")
        if request.param == "environment":
            env.update(real)
        else:
            for name in real:
                env.pop(name, None)
            (work / ".env").write_text("".join(f"{name}={value}\n" for name, value in real.items()))

        def untouched() -> None:
            assert callback.requests == [], "the demo called the production callback"
            assert fingerprint(prod) == before, "the demo wrote to the production database"
            assert not (work / "receiver.db").exists(), "the demo made ./receiver.db, the default production path"
            assert list(scratch.iterdir()) == [], "the demo left temporary files behind"

        yield env, work, untouched


def test_replay_demo_uses_its_own_database_and_the_log_sender(production):
    env, work, untouched = production
    result = subprocess.run([str(RECEIVER), "replay", "--demo", str(FIXTURES)], env=env, cwd=work,
                            capture_output=True, text=True, timeout=90)
    assert result.returncode == 0, result.stderr
    assert SEALED in result.stderr
    assert result.stdout.count("/evaluate-bgl/example.com?p=") == 10  # delivered, by the log sender
    untouched()


def test_serve_demo_with_its_worker_uses_its_own_database_and_the_log_sender(production):
    env, work, untouched = production
    port = free_port()
    log = work / "serve.log"
    with log.open("wb") as out:
        process = subprocess.Popen([str(RECEIVER), "serve", "--demo", "--worker", "--host", "127.0.0.1", "--port",
                                    str(port), "--workers", "1"], env=env, cwd=work, stdout=out,
                                   stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_for_server(f"http://127.0.0.1:{port}/healthz", process=process)
        replayed = subprocess.run([str(RECEIVER), "replay", "--demo", "--url", f"http://127.0.0.1:{port}",
                                   str(FIXTURES / "order-completed-seed.json")], env=env, cwd=work,
                                  capture_output=True, text=True, timeout=60)  # --url with --demo: API key "demo"
        assert "200 accepted" in replayed.stdout, replayed.stdout + replayed.stderr
        wait_until(lambda: "/evaluate-bgl/example.com?p=" in log.read_text(), "the demo worker's log line")
    finally:
        stop_group(process)
    output = log.read_text()
    assert SEALED in output and process.returncode == 0, output
    untouched()
