"""The ``receiver`` command: wires configuration, store, web app, worker and senders together."""

from __future__ import annotations

import json
import logging
import os
import signal
import sys
import tempfile
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, cast
from urllib.parse import urlsplit, urlunsplit

import click

from . import bgl, config
from .config import ConfigError, DatabaseSettings, Settings, demo_banner, load_settings
from .invitation import Invitation
from .links import LinkBuilder
from .setting_types import Whole
from .text import language_of, sanitise_tag, unique, valid_email

if TYPE_CHECKING:  # the worker's modules load only when a command needs them
    from .worker import Stop, Worker

log = logging.getLogger("receiver")


def _fail(lines: list[str], code: int = 2) -> NoReturn:
    for line in lines:
        click.echo(f"configuration error: {line}", err=True)
    sys.exit(code)


def settings_or_exit(*, demo: bool = False, intake: bool = False,
                     scratch_database: Callable[[], str] | None = None) -> Settings:
    """The settings from the environment; every problem on its own line and exit code 2 if any."""
    try:
        settings = load_settings(demo=demo, intake=intake, scratch_database=scratch_database)
    except ConfigError as exc:
        _fail(exc.problems)
    if demo:
        click.secho(demo_banner(settings), err=True, fg="yellow", bold=True)
    return settings


@click.group()
@click.pass_context
def main(ctx: click.Context) -> None:
    """Segment Order Completed events -> Trustpilot Business Generated Link invitations."""
    from . import logs

    try:
        options = config.log_options()
    except ConfigError as exc:
        if ctx.invoked_subcommand != "config":  # which shows the configuration, and then every problem
            _fail(exc.problems)
        options = config.log_options({})  # the defaults
    logs.setup(*options)


def run() -> None:
    """The console script ``receiver``: the variables of a ``.env`` in the working directory that the environment
    does not set are read first (for development). ``python -m receiver``, and so every test, never reads one."""
    config.read_dotenv()
    main()


# -- serve ----------------------------------------------------------------------------------------

def gunicorn_options(host: str, port: int, workers: int, log: tuple[str, str] | None = None) -> dict[str, Any]:
    """The production server settings, shared by ``receiver serve`` and the Procfile's web line; ``log``:
    ``(LOG_LEVEL, LOG_FORMAT)``, read from the environment when not given."""
    from . import logs

    return {
        "bind": f"{host}:{port}",
        "workers": workers,
        "worker_class": "gthread",
        "threads": 4,
        "timeout": 8,  # well under Segment's ~10 s: a stuck request fails fast and is retried by Segment
        "graceful_timeout": 25,  # inside Heroku's 30 s between SIGTERM and SIGKILL
        "keepalive": 5,
        "accesslog": None,
        "logconfig_dict": logs.dict_config(*(log or config.log_options())),
    }


def open_store(database: DatabaseSettings, *, migrate: bool = True) -> Any:
    """The store for ``DATABASE_URL``, migrated to the newest schema; an unreachable database exits 1."""
    from .store import Store, StoreUnavailable

    store = Store(database.url, timeout_seconds=database.timeout)
    if migrate:
        try:
            store.upgrade()
        except StoreUnavailable as exc:
            store.close()
            click.echo(f"error: DATABASE_URL: {exc}", err=True)
            sys.exit(1)
    return store


def _like_setting(name: str) -> dict[str, Any]:
    """A whole-number option that stands in for the setting ``name``: the same range, its default when not given."""
    setting = config.BY_NAME[name]
    kind = cast(Whole, setting.kind)
    return {"type": click.IntRange(kind.minimum, kind.maximum), "show_default": f"${name} or {setting.default}"}


@main.command()
@click.option("--host", default="0.0.0.0", show_default=True, help="Address to listen on.")
@click.option("--port", **_like_setting("PORT"), help="Port to listen on.")
@click.option("--workers", **_like_setting("WEB_CONCURRENCY"), help="Web worker processes.")
@click.option("--worker", "with_worker", is_flag=True, help="Also run a delivery worker: one command, whole service.")
@click.option("--demo", is_flag=True, help="Throwaway keys and API key 'demo': never for real customers.")
def serve(host: str, port: int | None, workers: int | None, with_worker: bool, demo: bool) -> None:
    """Run the web app (POST /segment) under gunicorn."""
    import subprocess

    settings = settings_or_exit(demo=demo, intake=True)  # first: gunicorn reads WEB_CONCURRENCY when imported
    from gunicorn.app.base import BaseApplication

    server = settings.server
    port, workers = port or server.port, workers or server.workers
    _metrics_dir(server.metrics_dir)
    from . import metrics
    from .web import create_app

    open_store(settings.database).close()  # migrate once here; each web worker opens its own connections after fork
    delivery: list[subprocess.Popen[bytes]] = []

    def start_worker(_server: Any) -> None:
        command = [sys.executable, "-m", "receiver", "worker", *(["--demo"] if demo else [])]
        delivery.append(subprocess.Popen(command))
        log.info("started the delivery worker (pid %s)", delivery[0].pid)

    def stop_worker(_server: Any) -> None:
        for process in delivery:
            process.terminate()
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()

    class Server(BaseApplication):
        def load_config(self) -> None:
            for key, value in gunicorn_options(host, port, workers, (server.log_level, server.log_format)).items():
                self.cfg.set(key, value)
            self.cfg.set("child_exit", lambda _server, worker: metrics.mark_process_dead(worker.pid))
            if with_worker:
                self.cfg.set("when_ready", start_worker)
                self.cfg.set("on_exit", stop_worker)

        def load(self) -> Any:
            return create_app(settings, create_schema=False)

    Server().run()


def _metrics_dir(folder: str) -> None:
    """Gunicorn's workers (and a worker started with --worker) add up their metrics in one folder,
    which must be set before prometheus_client is imported and emptied at every start."""
    if not folder:
        # prometheus_client reads PROMETHEUS_MULTIPROC_DIR itself (here, in gunicorn's workers and in the
        # worker process): the one setting that is handed on through the environment, so it is written there
        folder = os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="receiver-metrics-")
    Path(folder).mkdir(parents=True, exist_ok=True)
    for stale in Path(folder).glob("*.db"):
        stale.unlink()


# -- worker ---------------------------------------------------------------------------------------

def build_worker(settings: Settings, stop: Stop) -> Worker:
    from .senders import load_sender
    from .worker import Worker

    try:
        sender = load_sender(settings.worker.sender, settings.environ)
    except ValueError as exc:
        _fail(str(exc).splitlines())
    from .waiting import Waiting

    links = LinkBuilder.from_settings(settings.trustpilot)
    store = open_store(settings.database)
    return Worker(store, settings.worker, sender, links=links, stop=stop,
                  waiting=Waiting.from_settings(store, settings.trustpilot))


@main.command()
@click.option("--once", is_flag=True, help="Deliver what is due now, then exit.")
@click.option("--demo", is_flag=True, help="Use the throwaway demo keys.")
def worker(once: bool, demo: bool) -> None:
    """Build the links of due invitations and hand them to the configured sender.

    On SIGTERM it finishes the invitation in hand, gives the rest of its batch back, and exits.
    """
    from .worker import StopFlag

    settings = settings_or_exit(demo=demo)
    stop = StopFlag()  # not threading.Event: its set() may deadlock inside a signal handler
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    runner = build_worker(settings, stop)
    try:
        if once:
            click.echo(str(runner.drain()))
        else:
            log.info("worker started with sender %r", settings.worker.sender)
            runner.run_forever()
            log.info("worker stopped")
    finally:
        runner.sender.close()
        runner.store.close()  # the stop flag's pipe stays open: a late SIGTERM must not write to a reused fd


# -- operations -----------------------------------------------------------------------------------

@main.group()
def db() -> None:
    """Database schema."""


@db.command()
def upgrade() -> None:
    """Apply the migrations (the Procfile's release line runs this)."""
    settings = settings_or_exit()
    open_store(settings.database).close()
    click.echo("database is at the newest schema")


@main.command()
@click.option("--dead", is_flag=True, help="Bring the dead invitations back too.")
@click.option("--id", "invitation_id", type=int, help="Only this invitation (retrying or dead).")
def retry(dead: bool, invitation_id: int | None) -> None:
    """Make retrying invitations due now (with --dead, dead ones too)."""
    from .clock import utcnow

    settings = settings_or_exit()
    store = open_store(settings.database)
    changed = store.outbox.retry(now=utcnow(), dead=dead, invitation_id=invitation_id)
    store.close()
    click.echo(f"{changed} invitation(s) due now")
    if invitation_id is not None and not changed:
        click.echo(f"invitation {invitation_id} is not retrying or dead", err=True)
        sys.exit(1)


def status_lines(store: Any, now: Any) -> list[str]:
    counts = store.reports.counts()
    lines = ["invitations by state:"]
    lines += [f"  {state:<10} {count}" for state, count in counts.items()]
    oldest = store.reports.oldest_due(now=now)
    lines.append("oldest due invitation: " + (f"waiting {_age(now - oldest)}" if oldest else "none due"))
    errors = store.reports.last_errors()
    lines.append("last errors:" if errors else "last errors: none")
    for row in errors:
        lines.append(f"  #{row.id} {row.state} after {row.attempts} attempt(s) at "
                     f"{row.updated_at:%Y-%m-%d %H:%M:%S}Z: {row.last_error}")
    return lines


def _age(delta: Any) -> str:
    """``2d 3h``, ``3h 5m``, ``5m 2s``, ``40s``: the two largest units."""
    seconds = max(0, int(delta.total_seconds()))
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        amount, seconds = divmod(seconds, size)
        if amount or parts:
            parts.append(f"{amount}{unit}")
    return " ".join(parts[:2]) or "0s"


@main.command()
def purge() -> None:
    """Erase now the personal data of finished invitations older than RETENTION."""
    from .clock import utcnow

    settings = settings_or_exit()
    store = open_store(settings.database)
    erased = store.erasure.purge(now=utcnow(), older_than_seconds=settings.worker.retention)
    store.close()
    click.echo(f"erased the personal data of {erased} invitation(s)")


@main.command()
@click.argument("email")
def forget(email: str) -> None:
    """Erase every stored trace of one email address (an erasure request)."""
    from .clock import utcnow
    from .privacy import mask_email

    settings = settings_or_exit()
    store = open_store(settings.database)
    ids, customers = store.erasure.forget(email, now=utcnow())
    store.close()
    listed = ", ".join(f"#{i}" for i in ids) or "none"
    click.echo(f"{mask_email(email)}: erased from {len(ids)} invitation(s) ({listed}) "
               f"and the stored traits of {customers} customer id(s)")


@main.command("config")
@click.option("--markdown", is_flag=True, help="Print the README's tables of every setting instead.")
def show_config(markdown: bool) -> None:
    """Print the configuration in force, every secret masked; exit 2 if it has problems (a sender's own settings
    are checked when the worker starts)."""
    if markdown:
        click.echo(config.markdown(), nl=False)
        return
    environ = config.environment()
    for name, value in config.describe(environ):
        click.echo(f"{name}={value}")
    try:
        load_settings(environ, intake=True)
    except ConfigError as exc:
        _fail(exc.problems)


@main.command()
def status() -> None:
    """Counts by state, the age of the oldest due invitation, and the last errors (no personal data)."""
    from .clock import utcnow

    settings = settings_or_exit()
    store = open_store(settings.database)
    for line in status_lines(store, utcnow()):
        click.echo(line)
    store.close()


# -- replay ---------------------------------------------------------------------------------------

REPLAY_OUTCOMES = ("accepted", "waiting", "duplicate", "suppressed", "ignored", "rejected")  # counted in a batch


MANIFEST = "MANIFEST.json"  # a corpus's own replay rules (doors, headers, expected outcomes): fixtures/real-world/


def fixture_files(paths: tuple[str, ...]) -> Iterator[Path]:
    """The files to replay: each file as named; in a folder, its messages (``replayable``), sorted."""
    for name in paths:
        path = Path(name)
        if path.is_dir():
            yield from sorted(found for found in path.rglob("*") if replayable(found, path))
        else:
            yield path


def replayable(file: Path, folder: Path) -> bool:
    """Whether walking ``folder`` replays ``file``: a ``.json`` or ``.json.gz`` message, not a ``MANIFEST.json``,
    and not inside a folder below ``folder`` that holds one (a corpus such as ``fixtures/real-world/``, whose
    messages need the doors and headers its manifest names: name its folder to replay it as plain messages)."""
    if not file.is_file() or not file.name.endswith((".json", ".json.gz")) or file.name == MANIFEST:
        return False
    inner = file.relative_to(folder).parent
    return not any((folder / below / MANIFEST).is_file() for below in (inner, *inner.parents) if below != Path("."))


def _describe(status: int, body: Any) -> tuple[str, str]:
    """(outcome, detail) for one response of POST /segment."""
    if not isinstance(body, dict):
        return "error", f"HTTP {status}"
    if "received" in body:  # a batch
        parts = [f"{body.get(k, 0)} {k}" for k in REPLAY_OUTCOMES if body.get(k)]
        return "batch", ", ".join(parts) or "empty"
    outcome = body.get("status") or ("unauthorised" if status == 401 else "rejected" if status < 500 else "error")
    if status == 501:
        outcome = "unsupported"
    return outcome, str(body.get("message", ""))


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True))
@click.option("--url", help="POST to a running receiver (http://127.0.0.1:8000 means its /segment) instead of in-process.")
@click.option("--api-key", help="Segment API key to send (default: the first of SEGMENT_API_KEYS).")
@click.option("--demo", is_flag=True, help="Throwaway keys and a temporary database; delivers with the log sender.")
@click.option("--deliver/--no-deliver", default=None, help="After replaying, run the worker once (default: with --demo).")
def replay(paths: tuple[str, ...], url: str | None, api_key: str | None, demo: bool, deliver: bool | None) -> None:
    """Replay fixture events (files or folders of JSON) through the same path as POST /segment."""
    web_log = logging.getLogger("receiver.web")
    level = web_log.level
    web_log.setLevel(max(level, logging.WARNING))  # replay prints its own line per event
    try:
        _replay(paths, url, api_key, demo, deliver)
    finally:
        web_log.setLevel(level)


def _replay(paths: tuple[str, ...], url: str | None, api_key: str | None, demo: bool, deliver: bool | None) -> None:
    files = list(fixture_files(paths))
    if url:
        post = _remote_poster(url, api_key)
        settings = None
    else:
        settings = settings_or_exit(demo=demo, intake=True, scratch_database=_scratch_database if demo else None)
        post = _local_poster(settings, api_key)
    totals: Counter[str] = Counter()
    failed = False
    for path in files:
        try:
            data = path.read_bytes()
        except OSError as exc:
            click.echo(f"{path}  unreadable: {exc.strerror}")
            failed = True
            continue
        try:
            status, body = post(data, path.name.endswith(".gz"))
        except OSError as exc:
            click.echo(f"{path}  cannot reach {url}: {type(exc).__name__}", err=True)
            sys.exit(1)
        outcome, detail = _describe(status, body)
        if outcome == "batch":
            for key in REPLAY_OUTCOMES:
                totals[key] += int(body.get(key, 0))
        else:
            totals[outcome] += 1
        click.echo(f"{path}  {status} {outcome}  {detail}")
    click.echo("summary: " + (", ".join(f"{count} {name}" for name, count in sorted(totals.items()) if count)
                              or "nothing"))
    if settings is not None and (deliver if deliver is not None else demo):
        click.echo("delivering with the worker:")
        stop = threading.Event()
        runner = build_worker(settings, stop)
        click.echo(str(runner.drain()))
        runner.store.close()
    if failed:
        sys.exit(1)


def _scratch_database() -> str:
    return f"sqlite:///{tempfile.mkdtemp(prefix='receiver-demo-')}/demo.db"


def _local_poster(settings: Settings, api_key: str | None) -> Any:
    from .auth import credential_headers
    from .web import create_app

    client = create_app(settings).test_client()

    def post(data: bytes, gzipped: bool = False) -> tuple[int, Any]:
        # whichever credential is configured: an API key, else a signature, else a bearer token
        headers = {"Content-Type": "application/json", **credential_headers(settings.auth, data, api_key)}
        if gzipped:
            headers["Content-Encoding"] = "gzip"
        response = client.post("/segment", data=data, headers=headers)
        return response.status_code, response.get_json(silent=True)

    return post


def replay_url(url: str) -> str:
    """``url`` as given, or its ``/segment`` endpoint when it names only the receiver (``http://host:8000``)."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/segment")) if parts.path in ("", "/") else url


def _remote_poster(url: str, api_key: str | None) -> Any:
    import requests

    from .auth import credential_headers

    try:
        credentials = config.load_auth()
    except ConfigError as exc:
        _fail(exc.problems)
    if not (api_key or credentials.configured):
        _fail(["replay --url needs --api-key, or one of SEGMENT_API_KEYS, SEGMENT_SHARED_SECRETS or "
               "SEGMENT_BEARER_TOKENS set as the receiver has them"])
    session = requests.Session()
    endpoint = replay_url(url)

    def post(data: bytes, gzipped: bool = False) -> tuple[int, Any]:
        headers = {"Content-Type": "application/json", **credential_headers(credentials, data, api_key)}
        if gzipped:
            headers["Content-Encoding"] = "gzip"
        try:
            response = session.post(endpoint, data=data, timeout=15, headers=headers)
        except requests.RequestException as exc:
            raise OSError(str(exc)) from None
        try:
            return response.status_code, response.json()
        except ValueError:
            return response.status_code, None

    return post


# -- link / decode --------------------------------------------------------------------------------

@main.command()
@click.option("--email", required=True)
@click.option("--name", required=True)
@click.option("--ref", required=True, help="The order reference.")
@click.option("--sku", "skus", multiple=True, help="A product SKU (repeatable).")
@click.option("--tag", "tags", multiple=True, help="A tag (repeatable).")
@click.option("--locale", help="The customer's locale, e.g. de-DE: picks the link's host as for an order.")
@click.option("--demo", is_flag=True, help="Use the throwaway demo keys.")
def link(email: str, name: str, ref: str, skus: tuple[str, ...], tags: tuple[str, ...], locale: str | None,
         demo: bool) -> None:
    """Print the Business Generated Link for one invitation."""
    trustpilot = settings_or_exit(demo=demo).trustpilot
    address = valid_email(email)
    if address is None:
        click.echo("error: --email: Invalid email address", err=True)
        sys.exit(2)
    invitation = Invitation(message_id="cli", email=address, name=name.strip(), ref=ref.strip(),
                            skus=unique(s.strip() for s in skus), tags=unique(sanitise_tag(t) for t in tags),
                            locale=(locale or "").strip() or None)
    click.echo(LinkBuilder.from_settings(trustpilot).link(invitation))


@main.command()
@click.argument("link_or_payload")
@click.option("--demo", is_flag=True, help="Use the throwaway demo keys.")
def decode(link_or_payload: str, demo: bool) -> None:
    """Print the JSON payload inside a Business Generated Link (or a bare payload)."""
    try:
        keys = config.load_keys(demo=demo)
    except ConfigError as exc:
        _fail(exc.problems)
    try:
        payload = bgl.decode(link_or_payload, keys)
    except bgl.InvalidLink as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    click.echo(json.dumps(payload, ensure_ascii=False))


# -- send-test ------------------------------------------------------------------------------------

SAMPLE_NAMES = {"de": "Erika Mustermann", "fr": "Camille Martin", "es": "Lucía García", "nl": "Sanne de Vries",
                "da": "Mette Hansen"}


@main.command("send-test")
@click.option("--to", "address", required=True, help="Where the sample goes (the customer's address in it).")
@click.option("--locale", help="The sample's locale, e.g. de-DE: picks the email's language.")
@click.option("--name", help="The sample customer's name (default: a typical name for the language).")
def send_test(address: str, locale: str | None, name: str | None) -> None:
    """Send one sample invitation through the configured sender, to check its set-up before going live."""
    import time
    import uuid

    from .invitation import Rejected, customer_email
    from .privacy import mask_email
    from .senders import ReadyInvitation, SendFailure, load_sender

    settings = settings_or_exit()
    sender_name, trustpilot = settings.worker.sender, settings.trustpilot
    try:
        email = customer_email({"email": address})
    except Rejected as exc:
        click.echo(f"error: --to: {exc}", err=True)
        sys.exit(2)
    try:
        sender = load_sender(sender_name, settings.environ)
    except ValueError as exc:
        _fail(str(exc).splitlines())
    stamp = int(time.time() * 1000)  # an id no stored invitation has, different on every run (webhook-id, Message-ID)
    name = (name or "").strip() or SAMPLE_NAMES.get(language_of(locale) or "", "Jane Doe")
    sample = Invitation(message_id=f"send-test-{uuid.uuid4().hex}", email=email, name=name, ref=f"TEST-{stamp}",
                        skus=("SAMPLE-SKU-1",), tags=trustpilot.tags, locale=(locale or "").strip() or None)
    link = LinkBuilder.from_settings(trustpilot).link(sample)
    ready = ReadyInvitation(id=stamp, invitation=sample, link=link)
    who = mask_email(email)
    try:
        sender.send(ready)
    except SendFailure as failure:
        kind = "transient: worth retrying" if failure.transient else "permanent"
        click.echo(f"send-test failed with the {sender_name} sender for {who} ({kind}): {failure}", err=True)
        sys.exit(1)
    except Exception as exc:  # a sender bug: say which, keep its details (they may hold the address) in DEBUG logs
        log.debug("send-test: the sender raised", exc_info=True)
        click.echo(f"send-test failed with the {sender_name} sender for {who}: unexpected {type(exc).__name__}",
                   err=True)
        sys.exit(1)
    finally:
        sender.close()
    click.echo(f"sent a test invitation to {who} with the {sender_name} sender (id {stamp}, ref {sample.ref})")
    click.echo(f"link: {link}")
