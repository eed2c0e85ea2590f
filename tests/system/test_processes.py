"""Real processes against real databases: many workers, SIGKILL, SIGTERM, a web server killed mid-stream."""

import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from receiver.clock import utcnow
from receiver.invitation import Invitation
from receiver.store import PENDING, SENT, NewInvitation, Store
from support.data import DATA_KEY_BYTES, base_env, basic_auth, fixture
from support.net import free_port
from support.postgres import fresh_postgres_url
from support.sink import Sink
from support.wait import wait_for_server, wait_until

# the sink sender (an entry point of its own) that worker processes find on PYTHONPATH
SINK_PLUGIN = Path(__file__).resolve().parents[1] / "plugins" / "sink"


def process_env(database_url, **extra):
    env = {**os.environ, **base_env(DATABASE_URL=database_url, **extra)}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(SINK_PLUGIN), env.get("PYTHONPATH")]))
    return env


def start_worker(env, cwd):
    """A worker process logging to a file of its own: a pipe nobody reads until the end could fill and block it."""
    log = tempfile.NamedTemporaryFile("w+", dir=cwd, prefix="worker-", suffix=".log", delete=False)
    process = subprocess.Popen([sys.executable, "-m", "receiver", "worker"], env=env, cwd=cwd,
                               stdout=log, stderr=subprocess.STDOUT, text=True)
    process.log_path = Path(log.name)
    log.close()
    return process


def fill(store, count, prefix="R"):
    items = [NewInvitation(Invitation(message_id=f"m-{prefix}-{i}", email=f"c{i}@example.com", name="N",
                                      ref=f"{prefix}-{i}")) for i in range(count)]
    for start in range(0, count, 500):
        assert all(store.outbox.add(items[start:start + 500], domain="example.com", now=utcnow()))


def stop(processes):
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    for process in processes:
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            tail = process.log_path.read_text()[-2000:]
            pytest.fail(f"worker {process.pid} did not exit within 30 s of SIGTERM; the end of its log:\n{tail}")


@pytest.mark.both_databases
@pytest.mark.timeout(300)  # its own bounds come first: 180 s for the deliveries, 30 s for each worker to stop
def test_several_worker_processes_deliver_1000_invitations_exactly_once(store, database_url, tmp_path):
    fill(store, 1000)
    with Sink() as sink:
        env = process_env(database_url, SENDER="sink", SINK_URL=sink.url, POLL_INTERVAL="0.05s", WORKER_BATCH="25")
        workers = [start_worker(env, tmp_path) for _ in range(3)]
        try:
            assert sink.wait_for(lambda got: len(got) >= 1000, timeout=180), f"only {len(sink.received)} arrived"
        finally:
            stop(workers)
    assert len(sink.received) == 1000
    assert set(sink.received.values()) == {1}, "some invitation was delivered twice"
    assert store.reports.counts()[SENT] == 1000
    assert all(worker.returncode == 0 for worker in workers)


@pytest.mark.both_databases
def test_a_worker_killed_mid_send_is_replaced_after_its_lease(store, database_url, tmp_path):
    fill(store, 1)
    with Sink() as sink:
        sink.hold.set()
        env = process_env(database_url, SENDER="sink", SINK_URL=sink.url, POLL_INTERVAL="0.05s", LEASE="1s")
        doomed = start_worker(env, tmp_path)
        assert sink.wait_for(lambda got: sum(got.values()) == 1, timeout=60), "the first worker never sent"
        doomed.kill()  # SIGKILL in the middle of the send
        doomed.wait(timeout=10)
        assert store.reports.counts()[SENT] == 0
        sink.hold.clear()
        successor = start_worker(env, tmp_path)
        try:
            assert sink.wait_for(lambda got: sum(got.values()) == 2, timeout=60), "the successor never sent"
            wait_until(lambda: store.reports.counts()[SENT] == 1, "the successor to record the send as sent")
        finally:
            stop([successor])
    row = store.reports.get(1)
    assert row.state == SENT and row.attempts == 2


@pytest.mark.both_databases
def test_sigterm_finishes_the_send_in_hand_and_gives_back_the_rest(store, database_url, tmp_path):
    fill(store, 5)
    with Sink() as sink:
        sink.hold.set()
        env = process_env(database_url, SENDER="sink", SINK_URL=sink.url, POLL_INTERVAL="0.05s", LEASE="10m")
        worker = start_worker(env, tmp_path)
        assert sink.wait_for(lambda got: sum(got.values()) == 1, timeout=60), "the worker never sent"
        worker.send_signal(signal.SIGTERM)
        time.sleep(0.2)  # the signal arrives while the send is in hand
        sink.released.set()
        worker.wait(timeout=25)  # well inside a platform's 30 s grace
    assert worker.returncode == 0
    counts = store.reports.counts()
    assert counts[SENT] == 1 and counts[PENDING] == 4
    assert {store.reports.get(i).attempts for i in range(2, 6)} == {0}


def serve(env, cwd, port):
    process = subprocess.Popen([sys.executable, "-m", "receiver", "serve", "--host", "127.0.0.1", "--port", str(port)],
                               env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               start_new_session=True)
    try:
        wait_for_server(f"http://127.0.0.1:{port}/healthz", process=process)
    except BaseException:
        os.killpg(process.pid, signal.SIGKILL)  # a server that never answered is left to nobody else
        process.wait(10)
        raise
    return process


def test_gunicorn_processes_on_postgresql_store_one_invitation_per_order(tmp_path):
    url = fresh_postgres_url()
    migrated = Store(url, data_key=DATA_KEY_BYTES)
    migrated.upgrade()  # the release phase's `receiver db upgrade`: serve does not migrate PostgreSQL
    migrated.close()
    port = free_port()
    server = serve(process_env(url, WEB_CONCURRENCY="3"), tmp_path, port)
    seed = fixture("order-completed-seed.json")
    try:
        def post(i):
            body = dict(seed, messageId=f"m-{i % 5}")
            return requests.post(f"http://127.0.0.1:{port}/segment", json=body, headers=basic_auth(),
                                 timeout=30).json()["status"]

        with ThreadPoolExecutor(12) as pool:
            statuses = list(pool.map(post, range(60)))
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(30)
    assert statuses.count("accepted") == 1
    store = Store(url, data_key=DATA_KEY_BYTES)
    assert sum(store.reports.counts().values()) == 1
    store.close()


@pytest.mark.timeout(300)  # its own bounds come first: two server starts of 30 s and 120 s for the client
def test_a_web_server_killed_mid_stream_loses_no_acknowledged_event(tmp_path):
    """A client retries like Segment; every event that got a 2xx has its invitation."""
    url = f"sqlite:///{tmp_path / 'r.db'}"
    env = process_env(url, WEB_CONCURRENCY="2")
    port = free_port()
    seed = fixture("order-completed-seed.json")
    acknowledged, done = [], threading.Event()
    server = serve(env, tmp_path, port)

    def client():
        session = requests.Session()
        for i in range(150):
            body = dict(seed, messageId=f"m-{i}", properties=dict(seed["properties"], order_id=f"O-{i}"))
            for _attempt in range(200):
                try:
                    response = session.post(f"http://127.0.0.1:{port}/segment", json=body, headers=basic_auth(),
                                            timeout=10)
                except requests.RequestException:
                    session = requests.Session()
                    time.sleep(0.05)
                    continue
                if response.status_code == 200:
                    acknowledged.append(body["messageId"])
                    break
                time.sleep(0.05)
        done.set()

    thread = threading.Thread(target=client)
    thread.start()
    try:
        wait_until(lambda: len(acknowledged) >= 40, "the client to have 40 events acknowledged", timeout=60,
                   interval=0.01)
        os.killpg(server.pid, signal.SIGKILL)
        server.wait(10)
        server = serve(env, tmp_path, port)
        assert done.wait(120), f"the client had only {len(acknowledged)} of 150 events acknowledged after 120 s"
    finally:
        thread.join(5)
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(30)
    assert len(acknowledged) == 150
    store = Store(url, data_key=DATA_KEY_BYTES)
    stored = {store.reports.find(message_id=mid) is not None for mid in acknowledged}
    store.close()
    assert stored == {True}


def test_db_upgrade_from_several_processes_at_once_on_postgresql(tmp_path):
    url = fresh_postgres_url()
    env = process_env(url)
    upgrades = [subprocess.Popen([sys.executable, "-m", "receiver", "db", "upgrade"], env=env, cwd=tmp_path,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(3)]
    outputs = [process.communicate(timeout=60) for process in upgrades]
    assert [process.returncode for process in upgrades] == [0, 0, 0], outputs
    store = Store(url, data_key=DATA_KEY_BYTES)
    assert store.is_migrated()
    store.close()


def test_serve_with_worker_is_a_whole_service_in_one_command(tmp_path):
    port = free_port()
    with Sink() as sink:
        env = process_env(f"sqlite:///{tmp_path / 'r.db'}", SENDER="sink", SINK_URL=sink.url, POLL_INTERVAL="0.05s")
        process = subprocess.Popen(
            [sys.executable, "-m", "receiver", "serve", "--worker", "--host", "127.0.0.1", "--port", str(port)],
            env=env, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_for_server(f"http://127.0.0.1:{port}/healthz", process=process)
            response = requests.post(f"http://127.0.0.1:{port}/segment", json=fixture("order-completed-seed.json"),
                                     headers=basic_auth(), timeout=5)
            assert response.json()["status"] == "accepted"
            assert sink.wait_for(lambda got: got == {1: 1}, timeout=60), f"the sink got {dict(sink.received)}"
        finally:
            process.send_signal(signal.SIGTERM)  # the master stops its web workers and the delivery worker
            process.wait(30)
    assert process.returncode == 0


@pytest.mark.parametrize("scheme", ["postgres://", "postgresql://"])
def test_heroku_and_plain_postgresql_urls_both_work(scheme, tmp_path):
    url = fresh_postgres_url().replace("postgresql+psycopg://", scheme)
    result = subprocess.run([sys.executable, "-m", "receiver", "db", "upgrade"], env=process_env(url), cwd=tmp_path,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and "newest schema" in result.stdout
