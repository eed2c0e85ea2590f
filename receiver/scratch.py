"""Temporary folders that the process which made them removes when it exits: the demo's database, ``serve``'s
metrics folder.

Only that process removes them: gunicorn's web workers are forks of the process that made the folder and leave
through the same ``finally`` blocks (``SystemExit``), while the folder is still in use by the others."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

DEMO_PREFIX = "receiver-demo-"


@contextmanager
def removed_at_exit(folder: Path | str | None) -> Iterator[None]:
    """Remove ``folder`` (when not None) and all in it when the block ends, in the process that entered it."""
    owner = os.getpid()
    try:
        yield
    finally:
        if folder is not None and os.getpid() == owner:
            shutil.rmtree(folder, ignore_errors=True)


@contextmanager
def scratch_folder(prefix: str) -> Iterator[Path]:
    """A new temporary folder, removed with everything in it when the block ends."""
    folder = Path(tempfile.mkdtemp(prefix=prefix))
    with removed_at_exit(folder):
        yield folder


@contextmanager
def demo_database() -> Iterator[str]:
    """``--demo``'s own database: a SQLite file in a new temporary folder, removed (WAL files too) at the end."""
    with scratch_folder(DEMO_PREFIX) as folder:
        yield f"sqlite:///{folder / 'demo.db'}"
