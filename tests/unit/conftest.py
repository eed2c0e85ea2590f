"""tests/unit: pure code. A test here that opens a database, a network socket or a process fails, naming the
layer it belongs to; one marked ``static_tool`` may run a tool over the source in a process (lint-imports)."""

import pytest

from support.layers import no_databases, no_network, no_processes


@pytest.fixture(autouse=True)
def _unit_layer(monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> None:
    if not request.node.get_closest_marker("static_tool"):
        no_processes(monkeypatch, "unit")
    no_network(monkeypatch, "unit")
    no_databases(monkeypatch, "unit")
