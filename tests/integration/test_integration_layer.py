"""The integration layer's guard: a process fails the test and names tests/system."""

import subprocess
import sys

import pytest

from support.layers import WrongLayer


def test_a_process_belongs_in_system():
    with pytest.raises(WrongLayer, match=r"^an integration test started a process: it belongs in tests/system$"):
        subprocess.run([sys.executable, "-c", "pass"], check=True)
