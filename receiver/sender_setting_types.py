"""The value types of the built-in senders' settings: an SMTP server URL, mail addresses, a PEM file, a DKIM
signing key (and the DNS record it needs), a callback URL, a Standard Webhooks secret and a JSON object of HTTP
headers.

Like every ``declare.Kind``: one problem line each, naming the variable; a URL or secret is never repeated
(it may hold a password).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import ssl
from dataclasses import dataclass, field
from email import policy
from email.headerregistry import Address
from pathlib import Path
from types import MappingProxyType
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from .declare import Kind, Setting
from .setting_types import mask_url

SMTP_PORTS = {"smtp": 25, "smtps": 465}
WEBHOOK_SECRET_PREFIX = "whsec_"
MIN_WEBHOOK_SECRET_BYTES = 24
RESERVED_HEADERS = frozenset({"content-type", "content-length", "host", "transfer-encoding",
                              "webhook-id", "webhook-timestamp", "webhook-signature"})
_TOKEN = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")


def _problems(problems: list[str]) -> None:
    if problems:
        raise ValueError("\n".join(problems))


@dataclass(frozen=True)
class SmtpServer:
    """Where and how to reach the SMTP server, as ``SMTP_URL`` says."""

    host: str
    port: int
    implicit_tls: bool = False
    require_starttls: bool = False
    username: str | None = field(default=None, repr=False)
    password: str | None = field(default=None, repr=False)
    verify: bool = True


class SmtpUrl(Kind):
    """``smtp://user:pass@host:587`` (STARTTLS when offered; ``?starttls=require`` insists), ``smtps://`` (TLS from
    the start); credentials URL-decoded; ``?verify=false`` turns certificate checks off."""

    label = "smtp:// or smtps:// URL"
    refused = ("smtp://mail.example.com:99999", "http://mail.example.com", "smtp://mail.example.com?tls=1")

    def parse(self, text: str, setting: Setting) -> SmtpServer:
        name, problems = setting.name, []
        try:
            parts = urlsplit(text)
            port = parts.port
        except ValueError:
            raise ValueError(f"{name} is not a URL such as smtp://user:password@smtp.example.com:587") from None
        if parts.scheme not in SMTP_PORTS:
            raise ValueError(f"{name} must start with smtp:// or smtps://")
        if not parts.hostname:
            raise ValueError(f"{name} has no host name")
        fields: dict[str, Any] = {"host": parts.hostname, "port": port or SMTP_PORTS[parts.scheme],
                                  "implicit_tls": parts.scheme == "smtps"}
        if parts.username:
            fields["username"] = unquote(parts.username)
            fields["password"] = unquote(parts.password or "")
            if not (fields["username"] + fields["password"]).isascii():
                problems.append(f"{name}: the user name and password must be ASCII once URL-decoded")
        for option, values in parse_qs(parts.query, keep_blank_values=True).items():
            value = values[-1].strip().lower()
            if option == "starttls" and value in ("require", "auto"):
                if parts.scheme == "smtps" and value == "require":
                    problems.append(f"{name}: ?starttls=require is for smtp://; smtps:// is TLS from the start")
                fields["require_starttls"] = value == "require"
            elif option == "starttls":
                problems.append(f"{name}: ?starttls= takes auto or require")
            elif option == "verify" and value in ("true", "false", "1", "0", "yes", "no"):
                fields["verify"] = value in ("true", "1", "yes")
            elif option == "verify":
                problems.append(f"{name}: ?verify= takes true or false")
            else:
                problems.append(f"{name}: unknown option {option[:40]!r} (known: starttls, verify)")
        _problems(problems)
        return SmtpServer(**fields)

    def shown(self, text: str, setting: Setting) -> str:
        return mask_url(text)


def addresses(value: str) -> tuple[Address, ...]:
    """The addresses in a header-style value (``Shop <a@b.com>, c@d.com``); ValueError if any is unusable."""
    try:
        header = policy.default.header_factory("To", value)
    except Exception:  # the standard library's parser fails in several ways on odd text (IndexError for "0@")
        raise ValueError("unreadable") from None
    if header.defects:
        raise ValueError("unreadable")
    found = tuple(header.addresses)
    if not found or any(not a.username or not a.domain or "." not in a.domain for a in found):
        raise ValueError("unreadable")
    return found


class MailAddress(Kind):
    """One address, with or without a display name: ``Shop <reviews@example.com>``."""

    label = "mail address"
    refused = ("not an address", "a@example.com, b@example.com")

    def parse(self, text: str, setting: Setting) -> Address:
        try:
            found = addresses(text)
        except ValueError:
            found = ()
        if len(found) != 1:
            raise ValueError(f"{setting.name} must be one address, e.g. Shop <reviews@example.com>")
        return found[0]


class MailAddresses(Kind):
    label = "mail addresses, comma-separated"
    refused = ("also, not",)

    def __init__(self) -> None:
        super().__init__(empty=())

    def parse(self, text: str, setting: Setting) -> tuple[Address, ...]:
        try:
            return addresses(text)
        except ValueError:
            raise ValueError(f"{setting.name} must be one or more addresses, comma-separated") from None


class PemFile(Kind):
    """A file of PEM certificates to trust."""

    label = "PEM file"
    refused = ("/nonexistent/ca.pem",)

    def parse(self, text: str, setting: Setting) -> str:
        try:
            ssl.create_default_context(cafile=text)
        except (OSError, ssl.SSLError, ValueError):
            raise ValueError(f"{setting.name} cannot be read as PEM certificates") from None
        return text


MIN_DKIM_BITS = 1024  # what verifiers accept at least (RFC 8301); 2048 is what to generate


@dataclass(frozen=True)
class DkimKey:
    """An RSA signing key: PKCS#1 PEM (the form dkimpy reads) and the public key's DER for the DNS record."""

    private_pem: bytes = field(repr=False)
    public_der: bytes = field(repr=False)

    def record_value(self) -> str:
        """The TXT record's text (RFC 6376 section 3.6.1): ``v=DKIM1; k=rsa; p=<base64 SubjectPublicKeyInfo>``."""
        return f"v=DKIM1; k=rsa; p={base64.b64encode(self.public_der).decode('ascii')}"


@dataclass(frozen=True)
class DkimSigning:
    """What the SMTP sender signs with: the key, the selector and the signing domain (``d=``, ASCII)."""

    key: DkimKey
    selector: str
    domain: str

    def record_name(self) -> str:
        return f"{self.selector}._domainkey.{self.domain}"

    def aligned_with(self, ascii_domain: str) -> bool:
        """Whether DMARC's relaxed alignment holds for a From domain: ``d=`` is that domain or a parent of it."""
        domain = ascii_domain.lower().rstrip(".")
        return domain == self.domain or domain.endswith(f".{self.domain}")


def _pem_text(text: str, name: str) -> bytes:
    """The PEM given inline (real line breaks, or ``\\n`` as one-line environments write them), else the file the
    text names."""
    if text.startswith("-----BEGIN"):
        return text.replace("\\n", "\n").encode("ascii", "replace")
    try:
        return Path(text).read_bytes()
    except (OSError, ValueError):
        raise ValueError(f"{name} is neither PEM text (-----BEGIN ...) nor a readable file") from None


class DkimPrivateKey(Kind):
    """An unencrypted RSA private key in PEM (PKCS#1 or PKCS#8), inline or in a file; never repeated."""

    label = "PEM text or file"
    refused = ("not a key", "/nonexistent/dkim.pem", "-----BEGIN PRIVATE KEY-----\\nAAAA\\n-----END PRIVATE KEY-----")

    def parse(self, text: str, setting: Setting) -> DkimKey:
        name = setting.name
        try:
            key = serialization.load_pem_private_key(_pem_text(text, name), password=None)
        except TypeError:
            raise ValueError(f"{name} is encrypted: give the key without a passphrase") from None
        except ValueError as exc:
            if str(exc).startswith(name):
                raise
            raise ValueError(f"{name} is not a PEM private key") from None
        except Exception:  # cryptography's UnsupportedAlgorithm, and whatever else an odd key makes it raise
            raise ValueError(f"{name} is not a PEM private key") from None
        if not isinstance(key, rsa.RSAPrivateKey):
            raise ValueError(f"{name} must be an RSA key (Ed25519 and others are not supported)")
        if key.key_size < MIN_DKIM_BITS:
            raise ValueError(f"{name} must be an RSA key of at least {MIN_DKIM_BITS} bits (2048 recommended), "
                             f"not {key.key_size}")
        private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                                    serialization.NoEncryption())
        public = key.public_key().public_bytes(serialization.Encoding.DER,
                                               serialization.PublicFormat.SubjectPublicKeyInfo)
        return DkimKey(private, public)


class HttpUrl(Kind):
    label = "http:// or https:// URL"
    refused = ("ftp://mailer.example.com", "https:///no-host", "https://mailer.example.com:99999/hook")

    def parse(self, text: str, setting: Setting) -> str:
        try:
            parts = urlsplit(text)
            parts.port  # noqa: B018 - raises ValueError for a bad port
        except ValueError:
            parts = None
        if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"{setting.name} must be an http:// or https:// URL with a host")
        return text

    def shown(self, text: str, setting: Setting) -> str:
        return mask_url(text)


class PublicUrl(HttpUrl):
    """The service's own address as customers reach it (``PUBLIC_URL``): an http(s) URL with a host, no user, query
    or fragment; a path is kept (a service behind a prefix), without its trailing ``/``."""

    label = "http:// or https:// URL"
    refused = ("reviews.example.com", "ftp://reviews.example.com", "https://reviews.example.com/?via=mail",
               "https://reviews.example.com/#top", "https://user@reviews.example.com")

    def parse(self, text: str, setting: Setting) -> str:
        super().parse(text, setting)
        parts = urlsplit(text)
        if parts.query or parts.fragment or "?" in text or "#" in text:
            raise ValueError(f"{setting.name} must have no query (?...) or fragment (#...)")
        if parts.username is not None or parts.password is not None:
            raise ValueError(f"{setting.name} must have no user name or password")
        return text.rstrip("/")

    def shown(self, text: str, setting: Setting) -> str:
        return text


class WebhookSecret(Kind):
    """A Standard Webhooks secret: ``whsec_`` and the base64 of at least 24 bytes."""

    label = "whsec_ + base64"
    refused = ("s3cret-value", "whsec_!!!", "whsec_" + base64.b64encode(b"too short").decode())

    def __init__(self) -> None:
        super().__init__(empty=b"")

    def parse(self, text: str, setting: Setting) -> bytes:
        name = setting.name
        if not text.startswith(WEBHOOK_SECRET_PREFIX):
            raise ValueError(f"{name} must start with whsec_ (a Standard Webhooks secret: whsec_ followed by base64)")
        try:
            secret = base64.b64decode(text[len(WEBHOOK_SECRET_PREFIX):], validate=True)
        except (binascii.Error, ValueError):
            raise ValueError(f"{name} is not valid base64 after whsec_") from None
        if len(secret) < MIN_WEBHOOK_SECRET_BYTES:
            raise ValueError(f"{name} must decode to at least {MIN_WEBHOOK_SECRET_BYTES} bytes, not {len(secret)}")
        return secret


class HeaderMap(Kind):
    """A JSON object of HTTP header names to values; the values are never repeated in a problem."""

    label = "JSON object"
    refused = ("[1]", '{"Bad Name": "v"}', '{"webhook-id": "x"}', '{"X-Key": 12345}')

    def __init__(self) -> None:
        super().__init__(empty=MappingProxyType({}))

    def parse(self, text: str, setting: Setting) -> MappingProxyType[str, str]:
        name = setting.name
        try:
            headers = json.loads(text)
        except ValueError:
            headers = None
        if not isinstance(headers, dict):
            raise ValueError(f'{name} must be a JSON object such as {{"Authorization": "Bearer ..."}}')
        clean, problems = {}, []
        for header, value in headers.items():
            if not _TOKEN.match(header):
                problems.append(f"{name}: {header[:40]!r} is not a header name")
            elif header.lower() in RESERVED_HEADERS:
                problems.append(f"{name}: {header} is set by the sender and cannot be overridden")
            elif not isinstance(value, str) or not value.isascii() or not value.isprintable():
                problems.append(f"{name}: the value of {header} must be ASCII text on one line")
            else:
                clean[header] = value
        _problems(problems)
        return MappingProxyType(clean)
