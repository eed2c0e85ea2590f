"""Every setting, declared once, read from the environment and checked once at start.

``SETTINGS`` declares each environment variable (``declare.Setting``: its type, default, example, meaning,
whether it is a secret, the process that needs it, its group). From it come the checks (every problem one
readable line naming the variable, never a secret's value: ``ConfigError.problems``), what ``receiver config``
shows, and the README's tables (``receiver config --markdown``; a test fails when the README's copy differs).

``load_settings`` gives the settings of the receiver in groups, so that each part gets the group it needs:
``settings.auth`` (Segment authentication), ``.trustpilot`` (domain, keys, hosts and the invitation rules),
``.database``, ``.worker``, ``.limits``, ``.console``, ``.server``. A sender's settings are read by the sender
(``read_group(SMTP, environ)``), from the environment mapping every sender factory gets.

Nothing else in the package reads ``os.environ``, but for ``PROMETHEUS_MULTIPROC_DIR``: prometheus_client's own
variable, which the library reads itself (the CLI sets it before starting gunicorn). ``.env`` is read by the
console script alone (``read_dotenv``, called by ``cli.run``), never on import.

Over 300 lines on purpose: the table of every setting, one entry each, is most of it.

Longer than 300 lines on purpose: it is the table of every setting (one declaration each), which reads best
whole; the parsing lives in ``declare`` and the value types in ``setting_types``.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .bgl import DEFAULT_HOST, Keys
from .declare import WEB, WORKER, ConfigError, Setting, given, read
from .declare import describe as describe_settings
from .declare import markdown as markdown_tables
from .forwarded import HEROKU_STYLE, TrustedProxies, parse_trusted_proxies
from .sender_setting_types import (
    DkimKey,
    DkimPrivateKey,
    DkimSigning,
    HeaderMap,
    HttpUrl,
    MailAddress,
    MailAddresses,
    PemFile,
    PublicUrl,
    SmtpServer,
    SmtpUrl,
    WebhookSecret,
)
from .setting_types import (
    DEFAULT_DATABASE_URL,
    Choice,
    DatabaseUrl,
    Duration,
    Flag,
    Items,
    Key,
    Parsed,
    Passphrase,
    Pattern,
    Size,
    Text,
    Timeout,
    Whole,
    database_url,
    mask_url,
    parse_bool,
    parse_duration,
    parse_list,
    parse_size,
)
from .sku_map import SkuMapFile, parse_sku_map, read_sku_map
from .text import DOMAIN, is_domain, is_locale, normal_locale

__all__ = [  # what other modules import from here, some of it defined in the modules above
    "ConfigError", "Settings", "SegmentAuth", "TrustpilotSettings", "DatabaseSettings", "WorkerSettings", "Limits",
    "ConsoleSettings", "ServerSettings", "EmailLook", "SmtpServer", "SETTINGS", "load_settings", "read_group",
    "load_auth", "load_database", "load_keys", "load_retention", "unset_lines", "log_options", "email_look",
    "describe", "markdown", "environment", "read_dotenv", "demo_keys", "demo_banner", "demo_environ",
    "parse_locale_hosts",
    "parse_sku_map", "read_sku_map", "parse_list", "parse_duration", "parse_size", "parse_bool", "database_url",
    "mask_url", "DEFAULT_DATABASE_URL", "DkimSigning", "dkim_signing", "load_dkim",
]

DEMO_DOMAIN = "example.com"
DEMO_API_KEY = "demo"
DEMO_BUSINESS = "Demo Shop"
DEMO_NO_DATABASE = "sqlite://"  # in memory: what a demo command that opens no database (link) is given
MIN_SECRET_KEY = 16
MIN_CONSOLE_PASSWORD = 12  # the login limiter's global cap makes a spread of addresses guess slowly, not never
MAX_DB_TIMEOUT = 9.0  # a request waiting on the database is answered 503 before Segment's 10 s run out


def demo_keys() -> Keys:
    """Fixed, published, worthless keys: anyone can decode a demo link, which is the point."""
    return Keys(
        hashlib.sha256(b"receiver demo encryption key").digest(),
        hashlib.sha256(b"receiver demo authentication key").digest(),
    )




def parse_locale_hosts(value: str | None) -> tuple[tuple[str, str], ...]:
    """``"de-AT=at.trustpilot.com, nl=nl.trustpilot.com"`` -> ``(("de-AT", "at.trustpilot.com"), ("nl", ...))``.

    ``ValueError`` names the first item that is not ``locale=host``.
    """
    pairs: list[tuple[str, str]] = []
    for number, item in enumerate(parse_list(value), start=1):
        locale, sep, host = (part.strip() for part in item.partition("="))
        if not sep or not is_locale(locale):
            raise ValueError(f"item {number} is not locale=host (e.g. de-AT=at.trustpilot.com)")
        if not is_domain(host):
            raise ValueError(f"item {number}: the host must be a host name such as at.trustpilot.com")
        pairs.append((normal_locale(locale), host.lower()))
    return tuple(pairs)


# -- the declarations -------------------------------------------------------------------------------

TRUSTPILOT = "Trustpilot and the invitations"
AUTH = "Segment authentication"
DATABASE = "Database"
WORKER_GROUP = "Worker"
SMTP = "SMTP sender (SENDER=smtp)"
HTTP = "HTTP callback sender (SENDER=http)"
CONSOLE = "Web console"
LIMITS = "Limits"
SERVER = "Server and logs"


SELECTOR = re.compile(r"^(?=.{1,63}$)[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*$")


def _host(message: str, example: str, **kw: Any) -> Pattern:
    return Pattern(DOMAIN, message, label="host name", refused=(f"https://{example}/", "not a host"), **kw)


SETTINGS: tuple[Setting, ...] = (
    # -- Trustpilot and the invitations --
    Setting("TRUSTPILOT_DOMAIN", _host("must be a bare domain such as example.com (no scheme, no path)", "example.com"),
            TRUSTPILOT, "Your domain as registered on Trustpilot.", "example.com", attr="domain", required=True,
            hint="your domain as registered on Trustpilot, e.g. example.com"),
    Setting("TRUSTPILOT_ENCRYPT_KEY", Key(), TRUSTPILOT, "Encryption key from Trustpilot Business (base64, 32 bytes).",
            "p5+FYz/GQQ…TM=", secret=True, required=True),
    Setting("TRUSTPILOT_AUTH_KEY", Key(), TRUSTPILOT, "Authentication key from Trustpilot Business (base64, 32 bytes).",
            "C5UYaa2L…WU=", secret=True, required=True),
    Setting("TRUSTPILOT_HOST", _host("must be a host name such as www.trustpilot.com", "uk.trustpilot.com",
                                     empty=DEFAULT_HOST),
            TRUSTPILOT, f"When set, the host of every link, whatever the customer's locale (else `{DEFAULT_HOST}` for a "
            "locale the table does not know).", "uk.trustpilot.com", attr="trustpilot_host", process=WORKER,
            unset="not set: by locale"),
    Setting("LOCALE_HOSTS", Parsed(parse_locale_hosts, empty=(), label="locale=host list",
                                   refused=("de", "de=https://de.trustpilot.com/")),
            TRUSTPILOT, "Changes to the shipped locale → host table: comma-separated `locale=host`, the locale as "
            "`language` or `language-REGION` (any case, `-` or `_`).", "de-AT=de.trustpilot.com,en=uk.trustpilot.com",
            attr="locale_hosts", process=WORKER),
    Setting("TRUSTPILOT_TAGS", Items(), TRUSTPILOT, "Tags added to every invitation (spaces become `_`).",
            "segment,web-shop", attr="tags", process=WEB),
    Setting("TAG_PROPERTIES", Items(), TRUSTPILOT, "Order properties that become tags `name:value`, e.g. "
            "`affiliation:Google_Store`.", "affiliation,coupon", attr="tag_properties", process=WEB),
    Setting("SKU_MAP", SkuMapFile(), TRUSTPILOT, "A CSV file: Segment `sku`, `product_id` or `id` → the SKU in your "
            "Trustpilot product catalogue (format below).", "/app/sku-map.csv", attr="sku_map", process=WEB),
    Setting("SUPPRESS_AUDIENCES", Items(), TRUSTPILOT, "Trait names; a customer for whom any is `true` gets no "
            "invitation (it is recorded as `suppressed`).", "unsubscribed,review_opt_out", attr="suppress_audiences"),
    Setting("ORDER_EVENTS", Items(item="event name"), TRUSTPILOT, "The track events that are orders (each makes an "
            "invitation), compared in any casing and without separators (`order_completed`, `OrderCompleted`).",
            "Order Completed,Completed Order,order.placed", default="Order Completed,Completed Order",
            attr="order_events", process=WEB),
    Setting("DESTINATION_NAMES", Items(item="name"), TRUSTPILOT, "The names this destination has in Segment, as a "
            "message's `integrations` object names it (any case), e.g. `Trustpilot,Webhooks`. On `/segment` only "
            "`{\"<name>\": false}` ignores a message; on `/v1/*` `{\"All\": false}` does too, unless one of these "
            "names is `true`.", "Trustpilot,Webhooks (Actions)", default="Trustpilot", attr="destination_names",
            process=WEB),
    Setting("DEFAULT_NAME", Text(), TRUSTPILOT, "Name used when an order carries none.", "Valued customer",
            default="Customer", attr="default_name"),
    Setting("MAX_SKUS", Whole(1, 10000), TRUSTPILOT, "SKUs an invitation carries at most (each makes the link longer); "
            "an order's further ones are dropped, which its answer notes.", "50", default="100", attr="max_skus",
            process=WEB),
    Setting("EMAIL_WAIT", Duration(maximum=7 * 86400), TRUSTPILOT, "How long an order without an email (but with a "
            "`userId` or `anonymousId`) waits, as `waiting`, for an identify call to give one; then it is `dead`. "
            "`0`: it is refused at once (400 `Missing email address`).", "1h", default="15m", attr="email_wait",
            process=WEB),
    Setting("DEDUPE_ORDERS", Flag(), TRUSTPILOT, "One invitation per order `ref` per domain; `false` dedupes by "
            "`messageId` only.", "false", default="true", attr="dedupe_orders", process=WEB),
    Setting("INVITATION_DELAY", Duration(), TRUSTPILOT, "Send at the order's own `timestamp` plus this (e.g. once the "
            "parcel has arrived).", "3d", default="0", attr="invitation_delay", process=WEB),
    # -- Segment authentication --
    # Segment sends the key as the Basic-auth user name, which ends at the first ':': such a key could never match
    Setting("SEGMENT_API_KEYS", Items(item="key", no_colon="which the Basic-auth user name (the key) cannot carry"),
            AUTH, "API key(s) Segment sends as the Basic-auth user (Direct destination), and the write key(s) SDKs "
            "send to `/v1/*`; several for rotation. A key cannot contain `:`.", "k1,k2", attr="api_keys",
            process=WEB, secret=True),
    Setting("SEGMENT_SHARED_SECRETS", Items(), AUTH, "Shared secret(s) of Webhooks (Classic) and (Actions): "
            "`X-Signature` must be the hex HMAC-SHA1 of the request body as received (still gzip-compressed, if it "
            "was sent so), or, on a JSON array (an Actions batch), of its first element as Segment signs it; several "
            "for rotation.", "s1,s2", attr="shared_secrets", process=WEB, secret=True),
    Setting("SEGMENT_BEARER_TOKENS", Items(item="token", no_whitespace=True), AUTH, "Token(s) accepted as "
            "`Authorization: Bearer <token>` (a custom header a Webhooks (Actions) mapping can send).", "t1,t2",
            attr="bearer_tokens", process=WEB, secret=True),
    Setting("ALLOW_UNAUTHENTICATED", Flag(), AUTH, "`serve` and `replay` refuse to start when none of the three above "
            "is set, unless this is `true`: then anyone who reaches the service may post to it, and it says so in a "
            "warning at start. It changes nothing when one of them is set.", "true", default="false",
            attr="allow_unauthenticated", process=WEB),
    # -- database --
    Setting("DATABASE_URL", DatabaseUrl(), DATABASE, "SQLite file or PostgreSQL (`postgres://` and `postgresql://` "
            "both work); shown with its password masked.", "postgres://u:p@host/db", default=DEFAULT_DATABASE_URL,
            attr="url"),
    Setting("DB_TIMEOUT", Duration(maximum=MAX_DB_TIMEOUT), DATABASE, "How long a request may wait for a locked or "
            "slow database, its turn behind other requests included, before it is answered 503 (at most 9 s: inside "
            "Segment's 10 s).", "2s", default="5s", attr="timeout"),
    Setting("DATA_KEY", Key(hex_too=True), DATABASE, "Server secret (32 bytes: base64, or 64 hex digits as "
            "Heroku's app.json generator makes it) that keys the *address keys*: "
            "HMAC-SHA256 of each customer's normalised address, by which erasure, suppression and the frequency "
            "cap find a customer. Make one with `openssl rand -base64 32`; changing it forgets every address key.",
            "(base64)", attr="data_key", secret=True, required=True,
            hint="it keys the address keys of erasure and suppression; make one with: openssl rand -base64 32"),
    # -- worker --
    Setting("SENDER", Text(lower=True, label="sender name"), WORKER_GROUP, "Which sender delivers the links: `log`, "
            "`smtp`, `http` or a plug-in's name (see [Senders](#senders)). Chosen, never assumed: the worker refuses "
            "to start without it; `log` mails nobody, and says so when the worker starts.", "smtp", attr="sender",
            process=WORKER, unset="— (required by the worker; `log` in demo mode)"),
    Setting("MAX_ATTEMPTS", Whole(1, 1000), WORKER_GROUP, "Delivery attempts before an invitation is `dead`.", "5",
            default="8", attr="max_attempts", process=WORKER),
    Setting("LEASE", Duration(maximum=86400, positive=True), WORKER_GROUP, "How long a worker holds a claimed "
            "invitation before another may take it, by the database's clock. The invitation being sent has its "
            "lease renewed every third of it while the send runs; a worker whose batch has used half its lease "
            "(slow sends) gives the rest back to be claimed afresh, so no send runs on an expired lease.", "5m",
            default="120s",
            attr="lease_seconds", process=WORKER),
    Setting("POLL_INTERVAL", Duration(maximum=3600), WORKER_GROUP, "How often an idle worker looks for due "
            "invitations.", "5s", default="1s", attr="poll_seconds", process=WORKER),
    Setting("WORKER_BATCH", Whole(1, 10000), WORKER_GROUP, "Invitations a worker claims at once.", "100", default="50",
            attr="worker_batch", process=WORKER),
    Setting("MAX_EVENT_AGE", Duration(), WORKER_GROUP, "Orders older than this when their turn comes are `expired`, "
            "not sent (a replay of last year's events mails nobody).", "30d", default="0", unset="`0` (no limit)",
            attr="max_event_age", process=WORKER),
    Setting("RETENTION", Duration(), WORKER_GROUP, "Erase personal data of finished invitations after this long (the "
            "worker does it hourly, `receiver purge` at once).", "14d", default="30d", attr="retention",
            process=WORKER),
    Setting("INVITE_COOLDOWN", Duration(), WORKER_GROUP, "A customer (by address key) sent an invitation within "
            "this long is not invited again: a later order is `suppressed` with the reason `invited recently`, "
            "decided when the worker claims it (two orders of one customer in one batch make one email); `0` turns "
            "the cap off.", "90d", default="30d", attr="invite_cooldown", process=WORKER),
    Setting("PUBLIC_URL", PublicUrl(), WORKER_GROUP, "This service's own address as customers reach it: turns "
            "on [one-click unsubscribe](#unsubscribes): every invitation gets a signed link "
            "`<PUBLIC_URL>/unsubscribe/<token>` (in the email's `List-Unsubscribe` header and footer, and the "
            "callback's `unsubscribe_url`). Not set: none, and the worker warns at start.",
            "https://reviews.example.com", attr="public_url", process=WORKER,
            unset="not set: no unsubscribe link"),
    # -- the smtp sender --
    Setting("SMTP_URL", SmtpUrl(), SMTP, "SMTP server: `smtp://` (STARTTLS when offered; `?starttls=require` "
            "insists), `smtps://` (TLS), credentials URL-encoded; `?verify=false` skips certificate checks.",
            "smtp://user:password@smtp.example.com:587", attr="server", process=WORKER, required=True,
            hint="e.g. smtp://user:password@smtp.example.com:587", unset="— (required for `smtp`)"),
    Setting("MAIL_FROM", MailAddress(), SMTP, "Sender of the invitation emails.", "Shop <reviews@example.com>",
            attr="mail_from", process=WORKER, required=True, hint="the sender, e.g. Shop <reviews@example.com>",
            unset="— (required for `smtp`)"),
    Setting("MAIL_REPLY_TO", MailAddresses(), SMTP, "`Reply-To` of the emails (one or more addresses, "
            "comma-separated).", "Support <help@example.com>", attr="reply_to", process=WORKER),
    Setting("MAIL_BCC", MailAddresses(), SMTP, "Blind copy of every email (envelope only, no `Bcc` header).",
            "archive@example.com", attr="bcc", process=WORKER),
    Setting("SMTP_TIMEOUT", Timeout(), SMTP, "Timeout for connecting and for each SMTP command.", "10s", default="30s",
            attr="timeout", process=WORKER),
    Setting("SMTP_CA_FILE", PemFile(), SMTP, "PEM certificate(s) to trust for the SMTP server instead of the "
            "system's (a private CA, a self-signed relay).", "/etc/ssl/private-ca.pem", attr="ca_file",
            process=WORKER, unset="the system's CAs"),
    Setting("BUSINESS_NAME", Text(), SMTP, "Your name as the emails show it (the console's preview too).",
            "Bücherwelt", attr="business_name", process=WORKER, unset="`MAIL_FROM`'s name, else `TRUSTPILOT_DOMAIN`"),
    Setting("TEMPLATE_DIR", Text(label="folder"), SMTP, "Your own email templates, overriding the shipped ones file "
            "by file (checked when the sender starts).", "/app/email-templates", attr="template_dir", process=WORKER,
            unset="the shipped templates"),
    Setting("DKIM_PRIVATE_KEY", DkimPrivateKey(), SMTP, "Sign every email with DKIM (see [DKIM](#dkim)): an RSA "
            "private key in PEM, inline or the path of its file.", "/etc/receiver/dkim.pem", attr="dkim_key",
            process=WORKER, secret=True, unset="none (not signed)"),
    Setting("DKIM_SELECTOR", Pattern(SELECTOR, "must be a DNS label such as mail2026 (letters, digits, - and .)",
                                     label="DNS label", refused=("_bad", "has space", "a..b")), SMTP,
            "The DKIM selector: the record is published at `<selector>._domainkey.<domain>`; required with "
            "`DKIM_PRIVATE_KEY`.", "mail2026", attr="dkim_selector", process=WORKER),
    Setting("DKIM_DOMAIN", _host("must be a bare domain such as example.com", "example.com"), SMTP,
            "The signing domain (`d=`); for DMARC it should be `MAIL_FROM`'s domain or a parent of it.", "example.com",
            attr="dkim_domain", process=WORKER, unset="`MAIL_FROM`'s domain"),
    # -- the http callback sender --
    Setting("CALLBACK_URL", HttpUrl(), HTTP, "Where the `http` sender POSTs each invitation.",
            "https://mailer.example.com/hooks/trustpilot", attr="url", process=WORKER, required=True,
            hint="e.g. https://mailer.example.com/hooks/trustpilot", unset="— (required for `http`)"),
    Setting("CALLBACK_SECRET", WebhookSecret(), HTTP, "Standard Webhooks signing secret: `whsec_` + base64 of at least "
            "24 bytes.", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", attr="secret", process=WORKER, secret=True,
            required=True, hint="a Standard Webhooks secret: whsec_ followed by base64",
            unset="— (required for `http`)"),
    Setting("CALLBACK_HEADERS", HeaderMap(), HTTP, "Extra request headers, as a JSON object.",
            '{"Authorization": "Bearer abc123"}', attr="headers", process=WORKER, secret=True),
    Setting("CALLBACK_TIMEOUT", Timeout(), HTTP, "One deadline for the whole attempt: connecting, sending and "
            "reading the answer (of which at most 64 KiB is read).", "5s", default="10s", attr="timeout",
            process=WORKER),
    # -- the web console --
    Setting("CONSOLE_PASSWORD", Passphrase(MIN_CONSOLE_PASSWORD), CONSOLE, "Turns on the [web console](#the-web-console) "
            f"at `/console`, behind this password (at least {MIN_CONSOLE_PASSWORD} characters). Not set: every "
            "`/console` path is a 404.", "a-long-passphrase", attr="password",
            process=WEB, secret=True, unset="not set: no console"),
    Setting("SECRET_KEY", Text(), CONSOLE, f"Signs the console's session cookie; at least {MIN_SECRET_KEY} "
            "characters. Changing it signs everyone out.", "$(openssl rand -hex 32)", attr="secret_key",
            process=WEB, secret=True, unset="— (required with `CONSOLE_PASSWORD`)"),
    Setting("TRUSTED_PROXIES", Parsed(parse_trusted_proxies, empty=TrustedProxies(any_peer=False),
                                      label="*, none, or addresses and networks",
                                      refused=("10.0.0.0/33", "router.example.com", "*,none")),
            CONSOLE, "Whose `X-Forwarded-For` and `X-Forwarded-Proto` the console believes (the client's address for "
            "the login limit, HTTPS for the `Secure` cookie), and the unsubscribe page (the client's address for its "
            "rate limit): `*` is whatever connects, the platform's router, as on "
            "Heroku, whose router appends the client's address; addresses and networks are proxies believed and "
            "skipped (a CDN in front of the router, e.g. `*,173.245.48.0/20`); `none` believes no header.",
            "*,173.245.48.0/20", default=HEROKU_STYLE, attr="trusted_proxies", process=WEB),
    # -- limits --
    Setting("MAX_BODY", Size(1024, 1024 ** 3), LIMITS, "Largest request body, and largest body after gzip "
            "decompression (413 beyond).", "4MB", default="16MB", attr="max_body", process=WEB),
    Setting("MAX_BATCH", Whole(1, 100_000), LIMITS, "Most messages in one batch (413 beyond).", "1000",
            default="4000", attr="max_batch", process=WEB),
    # -- server and logs --
    Setting("PORT", Whole(1, 65535), SERVER, "Port for `receiver serve` (set by the platform).", "5000",
            default="8000", attr="port", process=WEB),
    Setting("WEB_CONCURRENCY", Whole(1, 256), SERVER, "Web worker processes for `receiver serve`.", "4", default="2",
            attr="workers", process=WEB),
    Setting("LOG_LEVEL", Choice("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"), SERVER, "Log level.", "DEBUG",
            default="INFO", attr="log_level"),
    Setting("LOG_FORMAT", Choice("text", "json"), SERVER, "One line per record: plain text or one JSON object.",
            "json", default="text", attr="log_format"),
    Setting("HEADER_TIMEOUT", Duration(maximum=300, positive=True), SERVER, "How long a client may take to send a "
            "request's headers, from its first byte; then it is answered 408 and its connection closed.", "5s",
            default="10s", attr="header_timeout", process=WEB),
    Setting("BODY_TIMEOUT", Duration(maximum=3600, positive=True), SERVER, "How long a client may take to send a "
            "request's body, from the end of its headers; then it is answered 408 and its connection closed.", "20s",
            default="30s", attr="body_timeout", process=WEB),
    Setting("METRICS_TOKEN", Text(), SERVER, "When set, `/metrics` answers only `Authorization: Bearer <token>` "
            "(401 otherwise). Not set: `/metrics` is open to anyone, with a warning at start.",
            "$(openssl rand -hex 32)", attr="metrics_token", process=WEB, secret=True,
            unset="not set: `/metrics` open"),
    Setting("PROMETHEUS_MULTIPROC_DIR", Text(label="folder"), SERVER, "Where processes share their metrics "
            "(prometheus_client's own variable).", "/tmp/metrics", attr="metrics_dir", process=WEB,
            unset="set by `receiver serve`"),
)
BY_NAME: Mapping[str, Setting] = {setting.name: setting for setting in SETTINGS}


def settings_in(group: str) -> tuple[Setting, ...]:
    return tuple(setting for setting in SETTINGS if setting.group == group)


# -- the settings, by group -------------------------------------------------------------------------

@dataclass(frozen=True)
class SegmentAuth:
    """The ways Segment may prove a request is its own; any one configured that accepts a request lets it in."""

    api_keys: tuple[str, ...] = field(repr=False)
    shared_secrets: tuple[str, ...] = field(repr=False)  # X-Signature: hex HMAC-SHA1 of the body
    bearer_tokens: tuple[str, ...] = field(repr=False)  # Authorization: Bearer <token>
    allow_unauthenticated: bool  # only matters when no way to authenticate is configured

    @property
    def configured(self) -> bool:
        return bool(self.api_keys or self.shared_secrets or self.bearer_tokens)

    @property
    def open_to_anyone(self) -> bool:
        """No way to authenticate Segment is configured, and ALLOW_UNAUTHENTICATED=true allows that."""
        return self.allow_unauthenticated and not self.configured


@dataclass(frozen=True)
class TrustpilotSettings:
    """The business on Trustpilot, its keys and hosts (what a link needs), and the rules invitations follow."""

    domain: str
    keys: Keys = field(repr=False)
    trustpilot_host: str
    force_host: bool  # TRUSTPILOT_HOST was set: every link uses it, whatever the locale
    locale_hosts: tuple[tuple[str, str], ...]  # (locale, host) overrides of the shipped table
    tags: tuple[str, ...]
    tag_properties: tuple[str, ...]  # properties that become tags "name:value"
    sku_map: Mapping[str, str] = field(hash=False)
    suppress_audiences: tuple[str, ...]  # trait names; true for a user -> no invitation
    destination_names: tuple[str, ...]  # our names in a message's ``integrations``
    order_events: tuple[str, ...]  # the track events that are orders
    default_name: str
    email_wait: float  # seconds an order without an email may wait for one; 0: rejected at once
    dedupe_orders: bool
    invitation_delay: float
    max_skus: int  # SKUs per invitation; an order's further ones are dropped (MAX_SKUS)


@dataclass(frozen=True)
class DatabaseSettings:
    url: str = field(repr=False)
    timeout: float
    data_key: bytes = field(repr=False)


@dataclass(frozen=True)
class WorkerSettings:
    sender: str
    max_attempts: int
    lease_seconds: float
    poll_seconds: float
    worker_batch: int
    max_event_age: float  # 0: no limit
    retention: float
    invite_cooldown: float  # seconds; 0: no frequency cap
    public_url: str | None  # PUBLIC_URL, without a trailing /; None: no unsubscribe links


@dataclass(frozen=True)
class Limits:
    max_body: int
    max_batch: int


@dataclass(frozen=True)
class ConsoleSettings:
    """On when ``password`` is set; ``secret_key`` signs its session."""

    password: str = field(repr=False)
    secret_key: str = field(repr=False)
    trusted_proxies: TrustedProxies  # whose X-Forwarded-* headers to believe

    @property
    def enabled(self) -> bool:
        return bool(self.password)


@dataclass(frozen=True)
class ServerSettings:
    port: int
    workers: int
    log_level: str
    log_format: str
    header_timeout: float
    body_timeout: float
    metrics_token: str = field(repr=False)
    metrics_dir: str  # PROMETHEUS_MULTIPROC_DIR; '' when not set


@dataclass(frozen=True)
class Settings:
    auth: SegmentAuth
    trustpilot: TrustpilotSettings
    database: DatabaseSettings
    worker: WorkerSettings
    limits: Limits
    console: ConsoleSettings
    server: ServerSettings
    demo: bool = False
    # Everything the process was started with: a plug-in sender's factory reads its own settings from it.
    environ: Mapping[str, str] = field(default_factory=dict, repr=False, compare=False)


# -- reading ----------------------------------------------------------------------------------------

def environment() -> Mapping[str, str]:
    """This process's environment: the one place the package reads it."""
    return os.environ


def read_dotenv(path: Path | None = None) -> None:
    """Add the variables of ``.env`` in the working directory that the environment does not set already.

    Only the console script's entry point calls this: ``python -m receiver``, the tests and an import never do."""
    from dotenv import load_dotenv

    load_dotenv(path or Path.cwd() / ".env", override=False)


def read_group(group: str, environ: Mapping[str, str] | None = None,
               defaults: Mapping[str, str] | None = None) -> tuple[dict[str, Any], list[str]]:
    """The values of one group's settings by attribute (``server``, ``timeout``, ...), and its problems."""
    values, problems = read(settings_in(group), environment() if environ is None else environ, defaults)
    return {BY_NAME[name].attr or name: value for name, value in values.items()}, problems


def _demo_defaults(environ: Mapping[str, str]) -> dict[str, str]:
    """``--demo``: throwaway domain, keys, API key and business name stand in for the ones not set."""
    defaults = {"TRUSTPILOT_DOMAIN": DEMO_DOMAIN, "BUSINESS_NAME": DEMO_BUSINESS,
                "DATA_KEY": base64.b64encode(hashlib.sha256(b"receiver demo data key").digest()).decode()}
    if not (given(environ, "TRUSTPILOT_ENCRYPT_KEY") or given(environ, "TRUSTPILOT_AUTH_KEY")):
        keys = demo_keys()
        defaults["TRUSTPILOT_ENCRYPT_KEY"] = base64.b64encode(keys.encrypt).decode()
        defaults["TRUSTPILOT_AUTH_KEY"] = base64.b64encode(keys.auth).decode()
    if not any(given(environ, name) for name in ("SEGMENT_API_KEYS", "SEGMENT_SHARED_SECRETS", "SEGMENT_BEARER_TOKENS")):
        defaults["SEGMENT_API_KEYS"] = DEMO_API_KEY
    return defaults


def demo_environ(environ: Mapping[str, str], database: str = DEMO_NO_DATABASE) -> dict[str, str]:
    """What ``--demo`` runs with: ``environ`` with the demo's own ``database`` and the ``log`` sender, whatever
    ``DATABASE_URL`` and ``SENDER`` say (in the environment or a ``.env``: a demo never reaches a real set-up),
    and the demo's values for the settings not set (so that ``receiver config`` and the console show them as in
    force)."""
    stand_ins = {name: value for name, value in _demo_defaults(environ).items() if not given(environ, name)}
    return {**environ, **stand_ins, "DATABASE_URL": database, "SENDER": "log"}


def _auth_rules(auth: Mapping[str, Any], intake: bool) -> list[str]:
    if intake and not (auth["api_keys"] or auth["shared_secrets"] or auth["bearer_tokens"]
                       or auth["allow_unauthenticated"]):
        return ["No way to authenticate Segment is set: SEGMENT_API_KEYS, SEGMENT_SHARED_SECRETS or "
                "SEGMENT_BEARER_TOKENS (or ALLOW_UNAUTHENTICATED=true to accept anyone)"]
    return []


def _console_rules(console: Mapping[str, Any]) -> list[str]:
    if console["password"] and not console["secret_key"]:
        return ["SECRET_KEY is not set: it signs the console's session and is required when CONSOLE_PASSWORD turns "
                "the console on (e.g. the output of: openssl rand -hex 32)"]
    if console["password"] and len(console["secret_key"]) < MIN_SECRET_KEY:
        return [f"SECRET_KEY must be at least {MIN_SECRET_KEY} characters long"]
    return []


def load_settings(environ: Mapping[str, str] | None = None, *, demo: bool = False, intake: bool = False,
                  demo_database: str = DEMO_NO_DATABASE) -> Settings:
    """The receiver's settings from ``environ`` (this process's environment when None); ``ConfigError`` lists
    every problem, group by group.

    ``intake``: the process receives Segment messages, so it needs a way to authenticate them (an API key,
    a shared secret or a bearer token), unless ``ALLOW_UNAUTHENTICATED=true`` says otherwise explicitly.
    ``demo``: ``demo_environ``: the database ``demo_database`` (a temporary one, ``scratch.demo_database``; by
    default none, for the commands that open none) and the log sender, whatever is configured; throwaway keys,
    domain, API key and business name stand in for the ones not set.
    """
    environ = environment() if environ is None else environ
    if demo:
        environ = demo_environ(environ, demo_database)
    groups: dict[str, dict[str, Any]] = {}
    problems: list[str] = []
    rules: dict[str, Callable[[Mapping[str, Any]], list[str]]] = {
        AUTH: lambda auth: _auth_rules(auth, intake), CONSOLE: _console_rules}
    for group in (TRUSTPILOT, AUTH, DATABASE, WORKER_GROUP, CONSOLE, LIMITS, SERVER):
        groups[group], found = read_group(group, environ)
        # a group's rules look at its values only once each of them could be read
        problems += found or rules.get(group, lambda _values: [])(groups[group])
    if problems:
        raise ConfigError(problems)
    trustpilot = groups[TRUSTPILOT]
    keys = Keys(trustpilot.pop("TRUSTPILOT_ENCRYPT_KEY"), trustpilot.pop("TRUSTPILOT_AUTH_KEY"))
    return Settings(
        auth=SegmentAuth(**groups[AUTH]),
        trustpilot=TrustpilotSettings(**trustpilot, keys=keys, force_host=bool(given(environ, "TRUSTPILOT_HOST"))),
        database=DatabaseSettings(**groups[DATABASE]),
        worker=WorkerSettings(**groups[WORKER_GROUP]),
        limits=Limits(**groups[LIMITS]),
        console=ConsoleSettings(**groups[CONSOLE]),
        server=ServerSettings(**groups[SERVER]),
        demo=demo,
        environ=dict(environ),
    )


def _only(names: tuple[str, ...], environ: Mapping[str, str] | None) -> dict[str, Any]:
    values, problems = read([BY_NAME[name] for name in names], environment() if environ is None else environ)
    if problems:
        raise ConfigError(problems)
    return values


def load_database(environ: Mapping[str, str] | None = None, *, data_key: bool = True) -> DatabaseSettings:
    """The database settings alone (no Trustpilot key, no Segment credential): what ``forget`` and ``suppress``
    need, ``DATA_KEY`` included; with ``data_key=False`` what ``status``, ``retry``, ``purge`` and ``db upgrade``
    need, which find nobody by address (``DATA_KEY`` read when set, not asked for)."""
    environ = environment() if environ is None else environ
    values, problems = read_group(DATABASE, environ)
    if not data_key:  # not asked for: unset is fine, a value that is set must still be a key
        problems = [line for line in problems if line != BY_NAME["DATA_KEY"].missing()]
    if problems:
        raise ConfigError(problems)
    return DatabaseSettings(**values)


def load_retention(environ: Mapping[str, str] | None = None) -> float:
    """``RETENTION`` alone, in seconds (``receiver purge``)."""
    return _only(("RETENTION",), environ)["RETENTION"]


def unset_lines(environ: Mapping[str, str]) -> list[str]:
    """The problems of ``load_settings(environ, intake=True)`` that only say a needed setting is not set yet (what
    ``receiver config`` lists without failing): the required settings outside a sender's group, and a way to
    authenticate Segment."""
    lines = [setting.missing() for setting in SETTINGS
             if setting.required and setting.group in (TRUSTPILOT, AUTH, DATABASE) and not given(environ, setting.name)]
    auth, _problems = read_group(AUTH, environ)
    return lines + _auth_rules(auth, intake=True)


def load_auth(environ: Mapping[str, str] | None = None) -> SegmentAuth:
    """The Segment authentication settings alone (``receiver replay --url`` authenticates as the receiver would)."""
    values, problems = read_group(AUTH, environ)
    if problems:
        raise ConfigError(problems)
    return SegmentAuth(**values)


def load_keys(environ: Mapping[str, str] | None = None, *, demo: bool = False) -> Keys:
    """The two Trustpilot keys alone (``receiver decode``); with ``demo``, the demo keys."""
    if demo:
        return demo_keys()
    values = _only(("TRUSTPILOT_ENCRYPT_KEY", "TRUSTPILOT_AUTH_KEY"), environ)
    return Keys(values["TRUSTPILOT_ENCRYPT_KEY"], values["TRUSTPILOT_AUTH_KEY"])


def log_options(environ: Mapping[str, str] | None = None) -> tuple[str, str]:
    """``(LOG_LEVEL, LOG_FORMAT)``, checked."""
    values = _only(("LOG_LEVEL", "LOG_FORMAT"), environ)
    return values["LOG_LEVEL"], values["LOG_FORMAT"]


DKIM_NAMES = ("DKIM_PRIVATE_KEY", "DKIM_SELECTOR", "DKIM_DOMAIN")


def dkim_signing(key: DkimKey | None, selector: str, domain: str,
                 mail_from_domain: str | None) -> tuple[DkimSigning | None, list[str]]:
    """DKIM's rule over its three settings (once each could be read): the key needs a selector, a selector or domain
    needs the key; the domain defaults to ``MAIL_FROM``'s, in its ASCII (IDNA) form."""
    if key is None:
        given_alone = [name for name, value in zip(DKIM_NAMES[1:], (selector, domain), strict=True) if value]
        return None, [f"{name} is set but DKIM_PRIVATE_KEY is not (nothing would be signed)" for name in given_alone]
    if not selector:
        return None, ["DKIM_SELECTOR is not set: DKIM_PRIVATE_KEY needs it (e.g. mail2026)"]
    source = "DKIM_DOMAIN" if domain else "MAIL_FROM's domain"
    domain = domain or mail_from_domain or ""
    if not domain:
        return None, ["DKIM_DOMAIN is not set and there is no MAIL_FROM to take the domain from"]
    try:
        ascii_domain = domain.encode("idna").decode("ascii").lower()
    except UnicodeError:
        return None, [f"{source} cannot be written in ASCII (IDNA)" + ("" if source == "DKIM_DOMAIN" else
                                                                        ": set DKIM_DOMAIN")]
    return DkimSigning(key, selector.lower(), ascii_domain), []


def load_dkim(environ: Mapping[str, str] | None = None) -> DkimSigning:
    """The DKIM settings alone (``receiver dkim-record``); ``ConfigError`` when they are unusable or not set."""
    environ = environment() if environ is None else environ
    names = DKIM_NAMES + (("MAIL_FROM",) if given(environ, "MAIL_FROM") and not given(environ, "DKIM_DOMAIN") else ())
    values = _only(names, environ)
    mail_from = values.get("MAIL_FROM")
    signing, problems = dkim_signing(values["DKIM_PRIVATE_KEY"], values["DKIM_SELECTOR"], values["DKIM_DOMAIN"],
                                     mail_from.domain if mail_from else None)
    if signing is None:
        raise ConfigError(problems or ["DKIM_PRIVATE_KEY is not set (an RSA private key in PEM, or its file)"])
    return signing


@dataclass(frozen=True)
class EmailLook:
    """What the invitation email shows beyond the invitation: the business's name, and the templates to use."""

    business_name: str
    template_dir: str | None


def email_look(environ: Mapping[str, str] | None = None) -> EmailLook:
    """``BUSINESS_NAME``, else ``MAIL_FROM``'s display name, else ``TRUSTPILOT_DOMAIN``, else ``MAIL_FROM``'s domain;
    and ``TEMPLATE_DIR``: for the SMTP sender and the console's preview alike (which has no need of a valid
    ``MAIL_FROM``, so it is read here as leniently as it can be)."""
    from email.utils import getaddresses

    environ = environment() if environ is None else environ
    found = getaddresses([given(environ, "MAIL_FROM")]) if given(environ, "MAIL_FROM") else []
    display, address = found[0] if found else ("", "")
    name = (given(environ, "BUSINESS_NAME") or display.strip() or given(environ, "TRUSTPILOT_DOMAIN")
            or address.rpartition("@")[2])
    return EmailLook(business_name=name, template_dir=given(environ, "TEMPLATE_DIR") or None)


def describe(environ: Mapping[str, str] | None = None) -> list[tuple[str, str]]:
    """Each setting and the value in force, secrets masked: for ``receiver config`` and the console."""
    return describe_settings(SETTINGS, environment() if environ is None else environ)


def markdown() -> str:
    """The README's configuration tables (``receiver config --markdown``)."""
    return markdown_tables(SETTINGS)


def demo_banner(settings: Settings) -> str:
    trustpilot = settings.trustpilot
    lines = ["*** DEMO MODE: throwaway Trustpilot keys, NOT for real customers. ***",
             f"*** domain={trustpilot.domain}, Segment API key {settings.auth.api_keys[0]!r} ***"
             if settings.auth.api_keys == (DEMO_API_KEY,) else f"*** domain={trustpilot.domain} ***"]
    lines.append("*** DATABASE_URL and SENDER are ignored: " + (
        "no database" if settings.database.url == DEMO_NO_DATABASE else
        "a temporary database, removed on exit") + ", and the log sender (nobody is mailed) ***")
    if trustpilot.keys == demo_keys():  # published and worthless, so they may be shown
        lines.append(f"*** TRUSTPILOT_ENCRYPT_KEY={base64.b64encode(trustpilot.keys.encrypt).decode()} ***")
        lines.append(f"*** TRUSTPILOT_AUTH_KEY={base64.b64encode(trustpilot.keys.auth).decode()} ***")
    return "\n".join(lines)
