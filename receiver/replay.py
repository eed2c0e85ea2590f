"""``receiver replay``: fixture events (files or folders of JSON) through the same path as ``POST /segment``,
in-process or to a running receiver; one line per file and a summary of the outcomes."""

from __future__ import annotations

import logging
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import click
import requests

from . import config, scratch
from .auth import credential_headers
from .config import ConfigError, Settings
from .startup import fail, open_store, settings_or_exit
from .web import create_app
from .worker_process import deliver_due

Poster = Callable[[bytes, bool], tuple[int, Any]]  # (body, gzipped) -> (HTTP status, JSON body or None)
BATCH_OUTCOMES = ("accepted", "waiting", "duplicate", "suppressed", "ignored", "rejected")  # counted in a batch
MANIFEST = "MANIFEST.json"  # a corpus's own replay rules (doors, headers, expected outcomes): fixtures/real-world/


def run(paths: tuple[str, ...], *, url: str | None, api_key: str | None, demo: bool, deliver: bool | None) -> None:
    """Replay ``paths``: to ``url`` when given (with ``demo``, as API key ``demo`` unless ``api_key`` says
    otherwise), else in-process on the configured database (with ``demo``, its own temporary one, removed at the
    end, and the demo keys); then, with ``deliver`` (by default with ``demo``), run the worker once.
    Exit 1 when a file could not be read or the receiver not reached."""
    with _quiet_web_log(), ExitStack() as stack:  # the stack: --demo's database, removed at the end
        files = list(fixture_files(paths))
        settings: Settings | None = None
        if url:
            post = remote_poster(url, api_key or (config.DEMO_API_KEY if demo else None))  # --demo: "demo"
        else:
            database = stack.enter_context(scratch.demo_database()) if demo else None
            settings = settings_or_exit(demo=demo, intake=True, demo_database=database)
            post = local_poster(settings, api_key)
        failed = replay_files(files, post, url)
        if settings is not None and (deliver if deliver is not None else demo):
            click.echo("delivering with the worker:")
            deliver_due(settings)
    if failed:
        sys.exit(1)


@contextmanager
def _quiet_web_log() -> Iterator[None]:
    """The app's per-message log lines off (warnings still show): replay prints its own line per event."""
    web_log = logging.getLogger("receiver.web")
    level = web_log.level
    web_log.setLevel(max(level, logging.WARNING))
    try:
        yield
    finally:
        web_log.setLevel(level)


def fixture_files(paths: tuple[str, ...]) -> Iterator[Path]:
    """The files to replay: each file as named; in a folder, its messages (``replayable``), sorted, at any depth."""
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


def replay_files(files: list[Path], post: Poster, url: str | None) -> bool:
    """Post each file and print its line, then the summary; True when a file could not be read. An unreachable
    receiver exits 1 at once."""
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
        outcome, detail = describe(status, body)
        count(totals, outcome, body)
        click.echo(f"{path}  {status} {outcome}  {detail}")
    click.echo(summary(totals))
    return failed


def describe(status: int, body: Any) -> tuple[str, str]:
    """(outcome, detail) for one response of POST /segment."""
    if not isinstance(body, dict):
        return "error", f"HTTP {status}"
    if "received" in body:  # a batch
        parts = [f"{body.get(k, 0)} {k}" for k in BATCH_OUTCOMES if body.get(k)]
        return "batch", ", ".join(parts) or "empty"
    outcome = body.get("status") or ("unauthorised" if status == 401 else "rejected" if status < 500 else "error")
    if status == 501:
        outcome = "unsupported"
    return outcome, str(body.get("message", ""))


def count(totals: Counter[str], outcome: str, body: Any) -> None:
    """Add one response to ``totals``: a batch by its counts, anything else as its outcome."""
    if outcome == "batch":
        for key in BATCH_OUTCOMES:
            totals[key] += int(body.get(key, 0))
    else:
        totals[outcome] += 1


def summary(totals: Counter[str]) -> str:
    return "summary: " + (", ".join(f"{n} {name}" for name, n in sorted(totals.items()) if n) or "nothing")


def local_poster(settings: Settings, api_key: str | None) -> Poster:
    """Posts to the app in this process, on the configured database (a SQLite file, e.g. ``--demo``'s, is
    migrated first; see ``startup.open_store``)."""
    client = create_app(settings, store=open_store(settings.database)).test_client()

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


def remote_poster(url: str, api_key: str | None) -> Poster:
    """Posts to a running receiver, authenticated as it is configured here (or with ``api_key``); exit 2 when
    there is no credential to send. A connection failure is an ``OSError``."""
    try:
        credentials = config.load_auth()
    except ConfigError as exc:
        fail(exc.problems)
    if not (api_key or credentials.configured):
        fail(["replay --url needs --api-key, or one of SEGMENT_API_KEYS, SEGMENT_SHARED_SECRETS or "
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
