"""What a layer's tests may not do: a unit test opens no database, no socket and no process; an integration test
starts no process. The layers' conftest.py files apply these for every test, so a test lands in its layer."""

from __future__ import annotations

import socket
import sqlite3
import subprocess
from collections.abc import Callable
from typing import Any

import psycopg
import pytest


class WrongLayer(AssertionError):
    """A test did what its layer does not allow."""


def _refusal(what: str, layer: str, belongs: str) -> Callable[..., Any]:
    article = "an" if layer[0] in "aeio" else "a"  # a unit test, an integration test

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise WrongLayer(f"{article} {layer} test {what}: it belongs in tests/{belongs}")

    return refuse


def _inet_only(original: Callable[..., Any], refuse: Callable[..., Any]) -> Callable[..., Any]:
    """``refuse`` for IP sockets; a socket pair or a Unix socket (an event loop's own) stays allowed."""

    def guarded(sock: socket.socket, *args: Any) -> Any:
        if sock.family in (socket.AF_INET, socket.AF_INET6):
            return refuse()
        return original(sock, *args)

    return guarded


def no_processes(monkeypatch: pytest.MonkeyPatch, layer: str) -> None:
    monkeypatch.setattr(subprocess.Popen, "__init__", _refusal("started a process", layer, "system"))


def no_network(monkeypatch: pytest.MonkeyPatch, layer: str) -> None:
    refuse = _refusal("opened a network socket", layer, "integration")
    for name in ("connect", "connect_ex", "bind"):
        monkeypatch.setattr(socket.socket, name, _inet_only(getattr(socket.socket, name), refuse))


def no_databases(monkeypatch: pytest.MonkeyPatch, layer: str) -> None:
    refuse = _refusal("opened a database", layer, "integration")
    for module in (sqlite3, sqlite3.dbapi2):  # SQLAlchemy's SQLite dialect calls sqlite3.dbapi2.connect
        monkeypatch.setattr(module, "connect", refuse)
    monkeypatch.setattr(psycopg, "connect", refuse)
    monkeypatch.setattr(psycopg.Connection, "connect", classmethod(refuse))
