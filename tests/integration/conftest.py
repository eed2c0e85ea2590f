"""tests/integration: the store, the senders and the app in the test process. A test here that starts a process
fails, naming tests/system."""

import pytest

from support.layers import no_processes


@pytest.fixture(autouse=True)
def _integration_layer(monkeypatch: pytest.MonkeyPatch) -> None:
    no_processes(monkeypatch, "integration")
