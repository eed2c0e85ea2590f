"""The unit layer's guard: a database, a network socket or a process fails the test and names its layer; a
socket pair (what an event loop or a self-pipe uses) is fine."""

import socket
import sqlite3
import subprocess
import sys

import pytest

from receiver.store import Store
from support.layers import WrongLayer


def test_a_sqlite_database_belongs_in_integration(tmp_path):
    with pytest.raises(WrongLayer, match=r"^a unit test opened a database: it belongs in tests/integration$"):
        sqlite3.connect(tmp_path / "x.db")
    store = Store(f"sqlite:///{tmp_path / 'receiver.db'}")
    with pytest.raises(WrongLayer):
        store.reports.counts()
    store.close()


def test_postgresql_belongs_in_integration():
    store = Store("postgresql+psycopg://postgres@127.0.0.1:5432/nowhere")
    with pytest.raises(WrongLayer, match="opened a database"):
        store.reports.counts()
    store.close()


def test_a_network_socket_belongs_in_integration():
    with socket.socket() as sock, pytest.raises(WrongLayer, match="opened a network socket: it belongs in tests/integ"):
        sock.bind(("127.0.0.1", 0))
    with socket.socket() as sock, pytest.raises(WrongLayer):
        sock.connect(("127.0.0.1", 9))
    left, right = socket.socketpair()
    left.sendall(b"x")
    assert right.recv(1) == b"x"
    left.close()
    right.close()


def test_a_process_belongs_in_system():
    with pytest.raises(WrongLayer, match=r"^a unit test started a process: it belongs in tests/system$"):
        subprocess.run([sys.executable, "-c", "pass"], check=True)
