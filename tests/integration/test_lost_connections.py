"""A PostgreSQL connection lost between two requests, or in the middle of one, costs neither request nor message: the
pool hands out no connection whose server closed it (a look at its socket, instead of a pre-ping's round trip
before every request), and an intake write that loses its connection anyway runs once more on a fresh one.
SQLite has no connection to lose: nothing of this applies to it."""

from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, event, func, select, text

from receiver.store import Store, invitations
from support.data import basic_auth, fixture

pytestmark = pytest.mark.parametrize("database_backend", ["postgresql"], indirect=True)


def order(number: int) -> dict:
    event = fixture("order-completed-seed.json")
    event["messageId"] = f"m-{number}"
    event["properties"]["order_id"] = f"R-{number}"
    return event


def terminate(url: str, pids: list[int]) -> None:
    """``pg_terminate_backend`` from another connection, returning once each backend is gone."""
    admin = create_engine(url)
    with admin.connect() as conn:
        for pid in pids:
            conn.execute(text("SELECT pg_terminate_backend(:pid, 5000)"), {"pid": pid})
    admin.dispose()


@pytest.fixture
def backends(store: Store) -> Iterator[list[int]]:
    """The backend pid of every connection the store's pool opens from now on."""
    pids: list[int] = []

    def opened(dbapi_connection, _record) -> None:
        pids.append(dbapi_connection.info.backend_pid)

    event.listen(store.engine, "connect", opened)
    yield pids
    event.remove(store.engine, "connect", opened)


def stored(store: Store) -> list[str]:
    with store.engine.connect() as conn:
        return list(conn.execute(select(invitations.c.message_id).order_by(invitations.c.id)).scalars())


def test_a_backend_killed_between_two_requests_costs_neither(client, store, backends, database_url):
    assert client.post("/segment", json=order(1), headers=basic_auth()).get_json()["status"] == "accepted"
    assert backends, "the first request opened a connection"
    terminate(database_url, backends)
    second = client.post("/segment", json=order(2), headers=basic_auth())
    assert second.status_code == 200 and second.get_json()["status"] == "accepted"
    assert stored(store) == ["m-1", "m-2"]


@pytest.fixture
def killed_once_handed_out(store: Store, database_url: str) -> Iterator[list[int]]:
    """The next connection the pool hands out has its backend killed right after the pool's own checks passed,
    before its statement runs (a connection lost in the middle of a request); the ones after it are left alone."""
    killed: list[int] = []

    def kill(dbapi_connection, _record, _proxy) -> None:
        if not killed:
            killed.append(dbapi_connection.info.backend_pid)
            terminate(database_url, killed)

    event.listen(store.engine, "checkout", kill)  # after the engine's own listener: its check saw nothing wrong
    yield killed
    event.remove(store.engine, "checkout", kill)


def test_a_connection_lost_in_the_middle_of_a_request_is_replaced_and_the_message_stored(client, store,
                                                                                       killed_once_handed_out):
    response = client.post("/segment", json=order(1), headers=basic_auth())
    assert killed_once_handed_out, "a backend was killed"
    assert response.status_code == 200 and response.get_json()["status"] == "accepted"
    assert stored(store) == ["m-1"]


def test_a_batch_whose_connection_is_lost_is_stored_whole_once(client, store, killed_once_handed_out):
    response = client.post("/segment", json=[order(1), order(2), order(1)], headers=basic_auth())
    assert killed_once_handed_out
    assert response.status_code == 200
    assert (response.get_json()["accepted"], response.get_json()["duplicate"]) == (2, 1)
    assert stored(store) == ["m-1", "m-2"]


def test_a_second_loss_is_still_a_503(client, store, database_url):
    """Once more means once: a write whose fresh connection is lost too is answered 503, so that Segment retries."""
    killed: list[int] = []

    def kill_every_one(dbapi_connection, _record, _proxy) -> None:
        killed.append(dbapi_connection.info.backend_pid)
        terminate(database_url, [killed[-1]])

    event.listen(store.engine, "checkout", kill_every_one)
    try:
        response = client.post("/segment", json=order(1), headers=basic_auth())
    finally:
        event.remove(store.engine, "checkout", kill_every_one)
    assert len(killed) == 2
    assert response.status_code == 503 and response.headers["Retry-After"] == "5"
    with store.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(invitations)).scalar() == 0
