"""Real servers for the sender tests, on 127.0.0.1 in the test process: SMTP (aiosmtpd) and an HTTP callback.

Plus a throwaway certificate authority made at test time, so TLS is real too: a CA certificate (what
``SMTP_CA_FILE`` trusts) and a server certificate it signed for ``127.0.0.1`` and ``localhost``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import ipaddress
import json
import logging
import socket
import ssl
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from html.parser import HTMLParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from support.net import free_port

logging.getLogger("mail.log").setLevel(logging.ERROR)  # aiosmtpd's own chatter (deprecation notes, connects)

# -- a throwaway certificate authority ------------------------------------------------------------


@dataclass(frozen=True)
class TestPki:
    ca_file: Path  # the CA certificate, PEM: what the client trusts
    cert_file: Path  # the server's certificate, PEM
    key_file: Path  # the server's private key, PEM

    def server_context(self) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.cert_file, self.key_file)
        return context


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def make_pki(folder: Path) -> TestPki:
    """A CA and a server certificate for 127.0.0.1/localhost, with the extensions strict verifiers want."""
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(_name("receiver test CA")).issuer_name(_name("receiver test CA"))
        .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True, content_commitment=False,
                                     key_encipherment=False, data_encipherment=False, key_agreement=False,
                                     encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name("localhost")).issuer_name(ca_cert.subject)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                    x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, key_encipherment=False, key_cert_sign=False,
                                     crl_sign=False, content_commitment=False, data_encipherment=False,
                                     key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    pki = TestPki(folder / "ca.pem", folder / "server.pem", folder / "server.key")
    pki.ca_file.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    pki.cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    pki.key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                               serialization.NoEncryption()))
    return pki


# -- SMTP -----------------------------------------------------------------------------------------


@dataclass
class Received:
    """One message as the SMTP server got it."""

    mail_from: str
    rcpt_tos: list[str]
    content: bytes
    tls: bool
    login: str | None
    mail_options: list[str]

    @property
    def message(self) -> EmailMessage:
        return message_from_bytes(self.content, policy=policy.default)  # type: ignore[return-value]


class Mailbox:
    """An aiosmtpd handler: keeps what arrives, counts connections, and answers as the test scripts it.

    ``rcpt_replies``/``data_replies``: replies to give instead of 250, first in first out
    (e.g. ``"451 4.3.0 Try again later"``); ``hang_up_after``: close the connection after that many messages.
    """

    def __init__(self) -> None:
        self.received: list[Received] = []
        self.rcpt_replies: list[str] = []
        self.data_replies: list[str] = []
        self.hang_up_after: int | None = None
        self._connections: list[Any] = []

    @property
    def connections(self) -> int:
        """Connections that got as far as MAIL FROM."""
        return len(self._connections)

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        if not any(seen is server for seen in self._connections):
            self._connections.append(server)
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.rcpt_replies:
            return self.rcpt_replies.pop(0)
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.data_replies:
            return self.data_replies.pop(0)
        login = session.auth_data.login.decode() if isinstance(session.auth_data, LoginPassword) else None
        self.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content or
                                      envelope.content, server.transport.get_extra_info("ssl_object") is not None, login,
                                      list(envelope.mail_options)))
        if self.hang_up_after is not None and len(self.received) >= self.hang_up_after:
            server.loop.call_soon(server.transport.close)  # after the 250 below is written
        return "250 Message accepted"


class Authenticator:
    """Accepts exactly one user name and password."""

    def __init__(self, user: str, password: str):
        self.user, self.password = user.encode(), password.encode()

    def __call__(self, server, session, envelope, mechanism, auth_data):
        ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (self.user, self.password)
        return AuthResult(success=ok, handled=False, auth_data=auth_data if ok else None)


@contextmanager
def smtp_server(mailbox: Mailbox | None = None, *, implicit_tls: ssl.SSLContext | None = None,
                **smtp_options: Any) -> Iterator[tuple[Mailbox, int]]:
    """An aiosmtpd server on 127.0.0.1; yields (mailbox, port). ``smtp_options`` go to aiosmtpd's SMTP
    (``tls_context``, ``require_starttls``, ``authenticator``, ``auth_required``, ``auth_require_tls``, ...)."""
    mailbox = mailbox or Mailbox()
    port = free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port, ssl_context=implicit_tls,
                            server_hostname="mx.test", **smtp_options)
    controller.start()
    try:
        yield mailbox, port
    finally:
        controller.stop()


# -- HTTP -----------------------------------------------------------------------------------------


@dataclass
class Request:
    path: str
    headers: dict[str, str]
    body: bytes
    client_port: int

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Callback:
    """A local HTTP server standing in for the business's mailer; ``replies`` are (status, headers) to give first."""

    url: str = ""
    requests: list[Request] = field(default_factory=list)
    replies: list[tuple[int, dict[str, str]]] = field(default_factory=list)
    stop: Callable[[], None] = lambda: None  # the server goes down: refuses connections, drops the kept-alive ones

    @property
    def connections(self) -> int:
        return len({request.client_port for request in self.requests})


@contextmanager
def callback_server(path: str = "/hooks/trustpilot") -> Iterator[Callback]:
    callback = Callback()
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            with lock:
                callback.requests.append(Request(self.path, dict(self.headers.items()), body, self.client_address[1]))
                status, headers = callback.replies.pop(0) if callback.replies else (200, {})
            payload = b'{"ok": true}' if status < 300 else b'{"error": "no"}'
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args: Any) -> None:
            pass

    accepted: list[socket.socket] = []

    class Server(ThreadingHTTPServer):
        daemon_threads = True

        def process_request(self, request: Any, client_address: Any) -> None:
            accepted.append(request)
            super().process_request(request, client_address)

    server = Server(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.005}, daemon=True)
    thread.start()
    callback.url = f"http://127.0.0.1:{server.server_port}{path}"

    def stop() -> None:
        server.shutdown()
        server.server_close()
        for connection in accepted:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
        thread.join(5)

    callback.stop = stop
    try:
        yield callback
    finally:
        stop()


# -- reading what arrived -------------------------------------------------------------------------


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self.hrefs.extend(value for name, value in attrs if name == "href" and value)

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def html_links_and_text(html: str) -> tuple[list[str], str]:
    """The hrefs of the ``<a>`` elements (entities decoded, as a mail client reads them) and the visible text."""
    parser = _Links()
    parser.feed(html)
    return parser.hrefs, " ".join(" ".join(parser.text).split())
