"""The pieces of ``receiver serve`` (the command itself runs under gunicorn in tests/system)."""

import os

from receiver.server import gunicorn_options, metrics_folder


def test_the_production_options():
    options = gunicorn_options("127.0.0.1", 8123, 3, ("INFO", "json"))
    assert {key: options[key] for key in ("bind", "workers", "worker_class", "threads", "timeout",
                                          "graceful_timeout")} == {
        "bind": "127.0.0.1:8123", "workers": 3, "worker_class": "gthread", "threads": 4, "timeout": 8,
        "graceful_timeout": 25}
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
