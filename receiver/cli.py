"""The ``receiver`` command: its commands, options and exit codes; the modules named in each do the work.

``startup`` reads the settings and opens the store (its docstring says where the schema is migrated), ``server``
runs gunicorn, ``worker_process`` the delivery worker, ``replay`` the fixtures. ``worker_process`` and ``replay``
are imported inside their commands: through web and worker they import prometheus_client, which reads
PROMETHEUS_MULTIPROC_DIR once, when first imported, and ``serve`` (whose process imports this module) sets that
folder first (``server.serve``)."""

from __future__ import annotations

import json
import logging
import sys
import time
import uuid
from contextlib import nullcontext
from typing import Any, cast

import click

from . import bgl, config, logs, scratch, server
from . import status as report
from .clock import utcnow
from .config import ConfigError, TrustpilotSettings, load_settings
from .invitation import Invitation, Rejected, customer_email
from .links import LinkBuilder
from .privacy import mask_email
from .senders import ReadyInvitation, Sender, SendFailure
from .setting_types import Whole
from .startup import (
    database_or_exit,
    fail,
    open_store,
    require_sender,
    sender_or_exit,
    settings_or_exit,
    upgraded_store,
)
from .store import OPERATOR, Store
from .text import language_of, normal_address, sanitise_tag, unique, valid_email
from .unsubscribe import UnsubscribeLinks

log = logging.getLogger("receiver")


@click.group()
@click.pass_context
def main(ctx: click.Context) -> None:
    """Segment Order Completed events -> Trustpilot Business Generated Link invitations."""
    try:
        options = config.log_options()
    except ConfigError as exc:
        if ctx.invoked_subcommand != "config":  # which shows the configuration, and then every problem
            fail(exc.problems)
        options = config.log_options({})  # the defaults
    logs.setup(*options)


def run() -> None:
    """The console script ``receiver``: the variables of a ``.env`` in the working directory that the environment
    does not set are read first (for development). ``python -m receiver``, and so every test, never reads one."""
    config.read_dotenv()
    main()


# -- serve and worker -----------------------------------------------------------------------------

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
@click.option("--demo", is_flag=True, help="Throwaway keys, API key 'demo', its own temporary database and the log "
              "sender: never for real customers.")
def serve(host: str, port: int | None, workers: int | None, with_worker: bool, demo: bool) -> None:
    """Run the web app (POST /segment) under gunicorn."""
    with scratch.demo_database() if demo else nullcontext() as database:
        # first: gunicorn reads WEB_CONCURRENCY when imported
        settings = settings_or_exit(demo=demo, intake=True, demo_database=database)
        if with_worker:
            require_sender(settings)
        open_store(settings.database).close()  # SQLite: migrated once, here; each web worker opens its own
        server.serve(settings, host=host, port=port or settings.server.port,
                     workers=workers or settings.server.workers, with_worker=with_worker, demo_database=database)


@main.command()
@click.option("--once", is_flag=True, help="Deliver what is due now, then exit.")
@click.option("--demo", is_flag=True, help="Throwaway keys, its own temporary database and the log sender.")
@click.option("--demo-database", hidden=True, help="serve --demo --worker's database, for its delivery worker.")
def worker(once: bool, demo: bool, demo_database: str | None) -> None:
    """Build the links of due invitations and hand them to the configured sender.

    On SIGTERM it finishes the invitation in hand, gives the rest of its batch back, and exits.
    """
    from . import worker_process  # when it runs: see the module's docstring

    with scratch.demo_database() if demo and not demo_database else nullcontext(demo_database) as database:
        worker_process.run(settings_or_exit(demo=demo, demo_database=database), once=once)


# -- operations -----------------------------------------------------------------------------------

@main.group()
def db() -> None:
    """Database schema."""


@db.command()
def upgrade() -> None:
    """Apply the migrations (the Procfile's release line runs this)."""
    upgraded_store(database_or_exit(data_key=False)).close()
    click.echo("database is at the newest schema")


@main.command()
@click.option("--dead", is_flag=True, help="Bring the dead invitations back too.")
@click.option("--id", "invitation_id", type=int, help="Only this invitation (retrying or dead).")
def retry(dead: bool, invitation_id: int | None) -> None:
    """Make retrying invitations due now (with --dead, dead ones too)."""
    store = open_store(database_or_exit(data_key=False))
    changed = store.outbox.retry(now=utcnow(), dead=dead, invitation_id=invitation_id)
    store.close()
    click.echo(f"{changed} invitation(s) due now")
    if invitation_id is not None and not changed:
        click.echo(f"invitation {invitation_id} is not retrying or dead", err=True)
        sys.exit(1)


@main.command()
def purge() -> None:
    """Erase now the personal data of finished invitations older than RETENTION."""
    try:
        retention = config.load_retention()
    except ConfigError as exc:
        fail(exc.problems)
    store = open_store(database_or_exit(data_key=False))
    erased = store.erasure.purge(now=utcnow(), older_than_seconds=retention)
    store.close()
    click.echo(f"erased the personal data of {erased} invitation(s)")
    _compacted(store.erasure.compacted)


@main.command()
@click.argument("email")
def forget(email: str) -> None:
    """Erase every stored trace of one email address (an erasure request), in any casing and either form of its
    domain, and put it on the suppression list."""
    store = open_store(database_or_exit())
    key = _address_key_or_exit(store, email)
    done = store.erasure.forget([key], now=utcnow())
    store.close()
    listed = ", ".join(f"#{i}" for i in done.invitations) or "none"
    click.echo(f"{mask_email(email)}: erased from {len(done.invitations)} invitation(s) ({listed}), "
               f"{len(done.stopped)} of them stopped unsent, and the stored traits of {done.identities} customer "
               "id(s); on the suppression list (forgotten)")
    _compacted(store.erasure.compacted)


def _compacted(compacted: bool) -> None:
    """Say so when an erasure could not clear the database files of the keys it deleted (a busy reader)."""
    if not compacted:
        click.echo("warning: a reader kept the database from being compacted (SQLite's WAL, PostgreSQL's "
                   "customer_keys); the data is erased, run the command again to clear the files", err=True)


@main.command()
@click.argument("email")
def suppress(email: str) -> None:
    """Put an address on the suppression list: no invitation is sent to it again (until unsuppress)."""
    store = open_store(database_or_exit())
    added = store.suppressions.add(_address_key_or_exit(store, email), OPERATOR, now=utcnow())
    store.close()
    click.echo(f"{mask_email(email)}: " + ("added to the suppression list" if added
                                           else "already on the suppression list: nothing changed"))


@main.command()
@click.argument("email")
def unsuppress(email: str) -> None:
    """Take an address off the suppression list, whatever put it there (an unsubscribe, forget, a bounce...)."""
    store = open_store(database_or_exit())
    removed = store.suppressions.remove(_address_key_or_exit(store, email))
    store.close()
    click.echo(f"{mask_email(email)}: " + (f"removed from the suppression list ({', '.join(removed)})" if removed
                                           else "not on the suppression list: nothing changed"))


def _address_key_or_exit(store: Store, email: str) -> str:
    """The address key of an operator's ``EMAIL``, checked as intake checks an address (the store's own keying
    trusts what it stores, which intake checked already)."""
    key = store.address_key(email) if normal_address(email) is not None else None
    if key is None:
        store.close()
        click.echo("error: EMAIL: Invalid email address", err=True)
        sys.exit(2)
    return key


@main.command("config")
@click.option("--markdown", is_flag=True, help="Print the README's tables of every setting instead.")
def show_config(markdown: bool) -> None:
    """Print the configuration in force, every secret masked, and what is not set yet; exit 2 if a value cannot
    be used (a sender's own settings are checked when the worker starts)."""
    if markdown:
        click.echo(config.markdown(), nl=False)
        return
    environ = config.environment()
    for name, value in config.describe(environ):
        click.echo(f"{name}={value}")
    try:
        load_settings(environ, intake=True)
    except ConfigError as exc:
        unset = config.unset_lines(environ)
        for line in (line for line in exc.problems if line in unset):
            click.echo(f"not set yet: {line}", err=True)
        wrong = [line for line in exc.problems if line not in unset]
        if wrong:
            fail(wrong)


@main.command()
def status() -> None:
    """Counts by state, the oldest due invitation, delivery health (the last successful delivery, recent failures,
    the oldest undelivered invitation) and the last errors (no personal data)."""
    store = open_store(database_or_exit(data_key=False))
    for line in report.status_lines(report.read_status(store.reports, now=utcnow(), deliveries=store.deliveries)):
        click.echo(line)
    store.close()


@main.command("dkim-record")
def dkim_record() -> None:
    """Print the DNS TXT record that publishes the public half of DKIM_PRIVATE_KEY (at DKIM_SELECTOR, DKIM_DOMAIN)."""
    try:
        signing = config.load_dkim()
    except ConfigError as exc:
        fail(exc.problems)
    name, value = signing.record_name(), signing.key.record_value()
    click.echo(f"name:  {name}\ntype:  TXT\nvalue: {value}")
    # a zone file takes at most 255 characters per quoted string: a 2048-bit key's record is cut into several
    strings = " ".join(f'"{value[i:i + 255]}"' for i in range(0, len(value), 255))
    click.echo(f"zone file: {name}. 3600 IN TXT ( {strings} )")


# -- replay ---------------------------------------------------------------------------------------

@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True))
@click.option("--url", help="POST to a running receiver (http://127.0.0.1:8000 means its /segment) instead of in-process.")
@click.option("--api-key", help="Segment API key to send (default: the first of SEGMENT_API_KEYS).")
@click.option("--demo", is_flag=True, help="Throwaway keys, its own temporary database, delivered by the log sender "
              "(with --url: API key 'demo').")
@click.option("--deliver/--no-deliver", default=None, help="After replaying, run the worker once (default: with --demo).")
def replay(paths: tuple[str, ...], url: str | None, api_key: str | None, demo: bool, deliver: bool | None) -> None:
    """Replay fixture events (files or folders of JSON) through the same path as POST /segment."""
    from . import replay as replaying  # when it runs: see the module's docstring

    replaying.run(paths, url=url, api_key=api_key, demo=demo, deliver=deliver)


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
                            locale=_locale(locale))
    click.echo(LinkBuilder.from_settings(trustpilot).link(invitation))


def _locale(given: str | None) -> str | None:
    return (given or "").strip() or None


@main.command()
@click.argument("link_or_payload")
@click.option("--demo", is_flag=True, help="Use the throwaway demo keys.")
def decode(link_or_payload: str, demo: bool) -> None:
    """Print the JSON payload inside a Business Generated Link (or a bare payload)."""
    try:
        keys = config.load_keys(demo=demo)
    except ConfigError as exc:
        fail(exc.problems)
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
    settings = settings_or_exit()
    try:
        email = customer_email({"email": address})
    except Rejected as exc:
        click.echo(f"error: --to: {exc}", err=True)
        sys.exit(2)
    sender = sender_or_exit(settings)
    ready = sample_invitation(settings.trustpilot, email, locale, name,
                              UnsubscribeLinks.from_settings(settings.worker.public_url, settings.database.data_key))
    who = mask_email(email)
    try:
        _send_or_exit(sender, ready, settings.worker.sender, who)
    finally:
        sender.close()
    click.echo(f"sent a test invitation to {who} with the {settings.worker.sender} sender "
               f"(id {ready.id}, ref {ready.invitation.ref})")
    click.echo(f"link: {ready.link}")


def sample_invitation(trustpilot: TrustpilotSettings, email: str, locale: str | None,
                      name: str | None, unsubscribe: UnsubscribeLinks | None = None) -> ReadyInvitation:
    """A sample for ``email``, with the link (and unsubscribe URL) the worker would build for it; its id (a
    millisecond stamp, also in its ref) is one no stored invitation has, and different on every run (webhook-id,
    Message-ID), so its unsubscribe page says the link is not valid."""
    stamp = int(time.time() * 1000)
    name = (name or "").strip() or SAMPLE_NAMES.get(language_of(locale) or "", "Jane Doe")
    sample = Invitation(message_id=f"send-test-{uuid.uuid4().hex}", email=email, name=name, ref=f"TEST-{stamp}",
                        skus=("SAMPLE-SKU-1",), tags=trustpilot.tags, locale=_locale(locale))
    return ReadyInvitation(id=stamp, invitation=sample, link=LinkBuilder.from_settings(trustpilot).link(sample),
                           unsubscribe_url=unsubscribe.url(stamp, sample.message_id) if unsubscribe else None)


def _send_or_exit(sender: Sender, ready: ReadyInvitation, sender_name: str, who: str) -> None:
    """Send ``ready``; a failure is one line on stderr (``who``: the masked address) and exit 1."""
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
