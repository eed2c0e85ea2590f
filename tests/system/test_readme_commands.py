"""The README runs as written: each of its command blocks marked ``<!-- safe to run -->`` exits 0, run in order
on a fresh copy of the repository (no .env, no settings, nothing from earlier runs), with the virtual
environment where the README's first set-up command puts it (``.venv``) and its ``bin`` on the PATH."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from receiver.config import SETTINGS
from support.data import ROOT

MARKER = "<!-- safe to run -->"
LEFT_OUT = shutil.ignore_patterns(".git", ".venv*", "__pycache__", "*.db", "*.db-*", ".env", "node_modules",
                                  ".pytest_cache", ".ruff_cache", ".hypothesis", "*.egg-info", "build")


def safe_blocks(readme: str) -> list[str]:
    """The indented code block after each marker, as a shell script (the four spaces of indentation removed)."""
    blocks = []
    for part in re.split(rf"^{re.escape(MARKER)}$", readme, flags=re.M)[1:]:  # a marker on a line of its own
        lines = part.lstrip("\n").splitlines()
        block = []
        for line in lines:
            if line.startswith("    ") or (not line.strip() and block):
                block.append(line[4:])
            else:
                break
        assert block, f"{MARKER} is not followed by an indented command block"
        blocks.append("\n".join(block).strip() + "\n")
    return blocks


BLOCKS = safe_blocks((ROOT / "README.md").read_text())


def test_the_readme_marks_its_command_blocks():
    assert len(BLOCKS) >= 2
    assert any("receiver replay --demo fixtures/" in block for block in BLOCKS)


@pytest.mark.timeout(600)
def test_every_block_marked_safe_runs_in_order_on_a_fresh_copy(tmp_path):
    copy = tmp_path / "receiver"
    shutil.copytree(ROOT, copy, ignore=LEFT_OUT, symlinks=True)
    (copy / ".venv").symlink_to(Path(sys.prefix), target_is_directory=True)
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    settings = {setting.name for setting in SETTINGS}
    env = {name: value for name, value in os.environ.items() if name not in settings and name != "VIRTUAL_ENV"}
    env.update(PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}", TMPDIR=str(scratch))
    for number, block in enumerate(BLOCKS, start=1):
        result = subprocess.run(["bash", "-e", "-o", "pipefail", "-c", block], cwd=copy, env=env,
                                capture_output=True, text=True, timeout=240)
        assert result.returncode == 0, (f"README block {number} failed (exit {result.returncode}):\n{block}\n"
                                        f"--- stdout\n{result.stdout[-3000:]}\n--- stderr\n{result.stderr[-3000:]}")
    assert list(scratch.iterdir()) == [], "a README command left temporary files behind"
