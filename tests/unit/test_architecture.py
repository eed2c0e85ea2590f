"""Who may import whom (ARCHITECTURE.md) holds: ``lint-imports`` passes every contract in pyproject.toml."""

import subprocess
import sys
from pathlib import Path

import pytest

from support.data import ROOT

LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"  # the test extra installs it beside this python


@pytest.mark.static_tool
def test_the_import_contracts_are_kept():
    result = subprocess.run([str(LINT_IMPORTS), "--no-cache", str(ROOT / "pyproject.toml")], cwd=ROOT,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, f"lint-imports found broken contracts:\n{result.stdout}{result.stderr}"
    assert "0 broken" in result.stdout, result.stdout
