"""``receiver serve`` as a real process on a free port, its output in a file, stopped by SIGTERM at the end."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from support.net import free_port
from support.wait import wait_for_server


@dataclass
class Served:
    url: str
    process: subprocess.Popen[bytes]
    log: Path  # everything the process and its children wrote, stdout and stderr

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="backslashreplace")


@contextmanager
def receiver_serve(env: dict[str, str], cwd: Path, *args: str, name: str = "serve") -> Iterator[Served]:
    """``python -m receiver serve --host 127.0.0.1 --port <free> *args`` with ``env`` (the whole environment),
    ready when ``/healthz`` answers; SIGTERM to its process group afterwards (SIGKILL after 30 s)."""
    port = free_port()
    log = cwd / f"{name}-{port}.log"
    with log.open("wb") as out:
        process = subprocess.Popen([sys.executable, "-m", "receiver", "serve", "--host", "127.0.0.1", "--port",
                                    str(port), *args], env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT,
                                   start_new_session=True)
    served = Served(f"http://127.0.0.1:{port}", process, log)
    try:
        wait_for_server(f"{served.url}/healthz", process=process)
        yield served
    finally:
        stop_group(process)


def stop_group(process: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    """SIGTERM to the process's group, SIGKILL to it if the process has not exited within ``timeout``."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)
