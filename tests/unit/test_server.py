"""The pieces of ``receiver serve`` (the command itself runs under gunicorn in tests/system)."""

import os

from receiver.http_worker import RequestLimits, WaitressWorker
from receiver.server import gunicorn_options, metrics_folder


def test_the_production_options():
    limits = RequestLimits(header_timeout=3, body_timeout=7, max_body=2048)
    options = gunicorn_options("127.0.0.1", 8123, 3, ("INFO", "json"), limits)
    assert {key: options[key] for key in ("bind", "workers", "threads", "timeout", "graceful_timeout",
                                          "control_socket_disable")} == {
        "bind": "127.0.0.1:8123", "workers": 3, "threads": 4, "timeout": 30, "graceful_timeout": 25,
        "control_socket_disable": True}
    assert issubclass(options["worker_class"], WaitressWorker) and options["worker_class"].limits == limits
    assert options["accesslog"] is None and options["logconfig_dict"]["version"] == 1


def test_the_metrics_folder_is_emptied_at_start(tmp_path):
    folder = tmp_path / "metrics"
    folder.mkdir()
    (folder / "counter_123.db").write_bytes(b"stale")
    (folder / "keep.txt").write_text("not ours")
    metrics_folder(str(folder))
    assert sorted(path.name for path in folder.iterdir()) == ["keep.txt"]


def test_without_a_metrics_folder_one_is_made_and_handed_on_through_the_environment(monkeypatch):
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", "restored-after-the-test")
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR")
    metrics_folder("")
    made = os.environ["PROMETHEUS_MULTIPROC_DIR"]
    assert os.path.isdir(made) and os.path.basename(made).startswith("receiver-metrics-")
    os.rmdir(made)
