"""``receiver serve``: the web app under gunicorn's master with the production options (each web process serves
with waitress's event loop: ``http_worker``), the metrics folder its processes share, and with ``--worker`` a
delivery worker as a child process."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import config, logs
from .config import Settings
from .scratch import removed_at_exit

if TYPE_CHECKING:
    from .http_worker import RequestLimits

log = logging.getLogger("receiver")


def gunicorn_options(host: str, port: int, workers: int, log: tuple[str, str] | None = None,
                     limits: RequestLimits | None = None) -> dict[str, Any]:
    """The production server settings, shared by ``receiver serve`` and the Procfile's web line; ``log``:
    ``(LOG_LEVEL, LOG_FORMAT)``, read from the environment when not given; ``limits``: the request deadlines and
    sizes (``HEADER_TIMEOUT``, ``BODY_TIMEOUT``, ``MAX_BODY``), their defaults when not given."""
    # imported here: it imports the web package, and so prometheus_client, which must come after metrics_folder
    from .http_worker import RequestLimits, WaitressWorker

    logs.lean_records()  # in the master, so in every worker it forks
    return {
        "bind": f"{host}:{port}",
        "workers": workers,
        "worker_class": WaitressWorker.with_limits(limits or RequestLimits()),
        "threads": 4,
        "worker_connections": 1000,  # open connections per process, slow ones included
        "timeout": 30,  # the heartbeat of a worker's event loop, which never waits on a request
        "graceful_timeout": 25,  # inside Heroku's 30 s between SIGTERM and SIGKILL
        "keepalive": 5,
        "accesslog": None,
        "control_socket_disable": True,  # gunicorn's control socket is one path shared by every server on the host
        "logconfig_dict": logs.dict_config(*(log or config.log_options())),
    }


def request_limits(settings: Settings) -> RequestLimits:
    from .http_worker import RequestLimits

    return RequestLimits(header_timeout=settings.server.header_timeout, body_timeout=settings.server.body_timeout,
                         max_body=settings.limits.max_body)


def metrics_folder(folder: str) -> str | None:
    """Gunicorn's workers (and a worker started with --worker) add up their metrics in one folder,
    which must be set before prometheus_client is imported and emptied at every start. Without ``folder``, one is
    made: its path is returned, for the caller to remove at exit."""
    made = None
    if not folder:
        # prometheus_client reads PROMETHEUS_MULTIPROC_DIR itself (here, in gunicorn's workers and in the
        # worker process): the one setting that is handed on through the environment, so it is written there
        folder = made = os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="receiver-metrics-")
    Path(folder).mkdir(parents=True, exist_ok=True)
    for stale in Path(folder).glob("*.db"):
        stale.unlink()
    return made


class DeliveryChild:
    """``serve --worker``'s delivery worker: ``python -m receiver worker``, started when gunicorn is ready and
    stopped (SIGTERM, then SIGKILL after 20 s) when it exits."""

    def __init__(self, demo_database: str | None):
        demo = ["--demo", "--demo-database", demo_database] if demo_database else []  # the demo's, shared
        self.command = [sys.executable, "-m", "receiver", "worker", *demo]
        self.processes: list[subprocess.Popen[bytes]] = []

    def start(self, _server: Any) -> None:
        self.processes.append(subprocess.Popen(self.command))
        log.info("started the delivery worker (pid %s)", self.processes[0].pid)

    def stop(self, _server: Any) -> None:
        for process in self.processes:
            process.terminate()
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()


def serve(settings: Settings, *, host: str, port: int, workers: int, with_worker: bool = False,
          demo_database: str | None = None) -> None:
    """Run the app under gunicorn until it is stopped; the database must be ready (``startup.open_store``).
    ``demo_database``: ``serve --demo``'s, which its delivery worker is given too."""
    if not settings.server.metrics_token:
        log.warning("METRICS_TOKEN is not set: /metrics, with its counts of orders and invitations, is open to anyone "
                    "who can reach this service")
    made = metrics_folder(settings.server.metrics_dir)
    with removed_at_exit(made):
        _run(settings, host=host, port=port, workers=workers, with_worker=with_worker, demo_database=demo_database)


def _run(settings: Settings, *, host: str, port: int, workers: int, with_worker: bool,
         demo_database: str | None) -> None:
    # Imported only now, once the settings are checked and the metrics folder is set: gunicorn parses
    # WEB_CONCURRENCY (a bad value would be a traceback) and prometheus_client, under web and metrics, reads
    # PROMETHEUS_MULTIPROC_DIR when first imported.
    from gunicorn.app.base import BaseApplication

    from . import metrics
    from .web import create_app

    options = gunicorn_options(host, port, workers, (settings.server.log_level, settings.server.log_format),
                               request_limits(settings))
    options["child_exit"] = lambda _server, worker: metrics.mark_process_dead(worker.pid)
    if with_worker:
        delivery = DeliveryChild(demo_database)
        options.update(when_ready=delivery.start, on_exit=delivery.stop)

    class Server(BaseApplication):
        def load_config(self) -> None:
            for key, value in options.items():
                self.cfg.set(key, value)

        def load(self) -> Any:
            return create_app(settings)  # in each web worker, after the fork: its own connections

    Server().run()
