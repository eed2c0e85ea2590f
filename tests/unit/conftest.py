"""tests/unit: pure code. A test here that opens a database, a network socket or a process fails, naming the
layer it belongs to."""

import pytest

from support.layers import no_databases, no_network, no_processes


@pytest.fixture(autouse=True)
def _unit_layer(monkeypatch: pytest.MonkeyPatch) -> None:
    no_processes(monkeypatch, "unit")
    no_network(monkeypatch, "unit")
    no_databases(monkeypatch, "unit")
