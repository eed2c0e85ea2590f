"""The ``smtp`` sender: the review-invitation email itself, to the customer, over one reused SMTP connection.

Settings (declared in ``config``, the group ``config.SMTP``; read by ``from_environ``):
- ``SMTP_URL``: ``smtp://user:pass@host:587`` (STARTTLS when offered; ``?starttls=require`` insists),
  ``smtps://user:pass@host:465`` (TLS from the start), ``smtp://host:25`` (no login). Credentials are
  URL-decoded. ``?verify=false`` turns certificate checks off (a last resort; prefer ``SMTP_CA_FILE``).
- ``SMTP_CA_FILE``: PEM certificate(s) to trust for the server (a private CA, a self-signed relay).
- ``SMTP_TIMEOUT``: for connecting and for each command (``30s`` by default).
- ``MAIL_FROM`` (required), ``MAIL_REPLY_TO``, ``MAIL_BCC``, ``BUSINESS_NAME``, ``TEMPLATE_DIR``.
- ``DKIM_PRIVATE_KEY``, ``DKIM_SELECTOR``, ``DKIM_DOMAIN``: every message DKIM-signed (``dkim_signing``).

Failures: a reply about this invitation's recipient or message is transient when 4xx and permanent
when 5xx (e.g. 550 no such mailbox). Failing to connect, to start TLS, to log in or to have MAIL_FROM
accepted is a problem of the set-up, not of the invitation, so it is always transient: the invitations
wait (up to MAX_ATTEMPTS) while someone fixes it.

No message or log line carries the customer's address or name: a failure keeps the reply code, its enhanced
status code (RFC 3463) and a fixed text for the two (``550 5.1.1 (permanent negative completion: addressing
status)``), never
the server's own text, which may quote the mailbox, with or without its ``+tag``, or the name, split over
reply lines. The server's text is logged at DEBUG only, scrubbed (``_Scrubber``), as a safety net.

Longer than 300 lines on purpose: one SMTP conversation (connect, TLS, login, the transaction, what each
reply code means) is one job; its settings' parsing already lives in ``sender_setting_types``.
"""

from __future__ import annotations

import hashlib
import logging
import re
import smtplib
import ssl
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime

from .. import emails
from ..clock import Clock, utcnow
from ..config import SMTP, ConfigError, DkimSigning, dkim_signing, email_look, read_group
from ..emails import EmailTemplates
from ..privacy import mask_email
from . import ReadyInvitation, SendFailure
from . import dkim_signing as signatures

log = logging.getLogger("receiver.senders.smtp")

MESSAGES_PER_CONNECTION = 100  # then a fresh connection: some servers cap a session
_EMAILISH = re.compile(r"[^\s<>\"'(),;:\[\]]+@[^\s<>\"'(),;:\[\]]+")
_ENHANCED = re.compile(r"^\s*([245])\.(\d{1,3})\.(\d{1,3})(?!\S)")
# the fixed texts: RFC 5321's names of the reply classes, RFC 3463's of the subjects (an enhanced code's 2nd number)
REPLY_CLASSES = {4: "transient negative completion", 5: "permanent negative completion"}
SUBJECTS = {0: "other or undefined status", 1: "addressing status", 2: "mailbox status", 3: "mail system status",
            4: "network and routing status", 5: "mail delivery protocol status", 6: "message content or media status",
            7: "security or policy status"}


@dataclass(frozen=True)
class SmtpSettings:
    """What ``SMTP_URL`` says (``config.SmtpServer``'s fields), and the other SMTP settings."""

    host: str
    port: int
    implicit_tls: bool
    require_starttls: bool
    username: str | None = field(repr=False)
    password: str | None = field(repr=False)
    verify: bool
    mail_from: Address
    reply_to: tuple[Address, ...]
    bcc: tuple[Address, ...]
    timeout: float
    ca_file: str | None
    business_name: str
    template_dir: str | None
    dkim: DkimSigning | None = None

    def tls_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(cafile=self.ca_file)
        if not self.verify:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        return context


def settings_from_environ(environ: Mapping[str, str]) -> SmtpSettings:
    """Every SMTP setting, checked, and the templates with them; ``ConfigError`` lists every problem."""
    values, problems = read_group(SMTP, environ)
    dkim, signing = (values.pop("dkim_key"), values.pop("dkim_selector"), values.pop("dkim_domain")), None
    if not problems:  # DKIM's rule looks at its settings once each could be read (MAIL_FROM too: its domain)
        signing, problems = dkim_signing(*dkim, values["mail_from"].domain)
    look = email_look(environ)
    problems.extend(emails.templates(look.template_dir).problems())  # compiled once per process and folder
    if problems:
        raise ConfigError(problems)
    server = values.pop("server")
    return SmtpSettings(**asdict(server), **{**values, "business_name": look.business_name,
                                             "template_dir": look.template_dir, "dkim": signing})


def from_environ(environ: Mapping[str, str]) -> SmtpSender:
    """The entry point ``smtp`` in the group ``receiver.senders``."""
    return SmtpSender(settings_from_environ(environ))


def ascii_domain(domain: str) -> str:
    """An internationalised domain in its ASCII (IDNA) form; ValueError if it has none."""
    try:
        return domain.encode("idna").decode("ascii")
    except UnicodeError:
        raise ValueError("the domain cannot be encoded") from None


def message_id(invitation: ReadyInvitation, domain: str) -> str:
    """The same ``Message-ID`` on every attempt for one invitation, unique across databases (the Segment messageId)."""
    digest = hashlib.sha256(invitation.message_id.encode("utf-8")).hexdigest()[:16]
    return f"<invitation.{invitation.id}.{digest}@{ascii_domain(domain)}>"


def enhanced_code(code: int, reply: bytes | str) -> str | None:
    """The enhanced status code at the start of a reply (``5.1.1``), when its class agrees with the reply code."""
    text = reply.decode("ascii", "replace") if isinstance(reply, bytes) else str(reply)
    found = _ENHANCED.match(text)
    if found is None or int(found.group(1)) != code // 100:
        return None
    return ".".join(found.groups())


def describe_reply(code: int, reply: bytes | str) -> str:
    """``550 5.1.1 (permanent negative completion: addressing status)``: the codes and a fixed text for them,
    nothing the server wrote."""
    enhanced = enhanced_code(code, reply)
    kind = REPLY_CLASSES.get(code // 100, "unexpected reply")
    if enhanced is None:
        return f"{code} ({kind})"
    subject = SUBJECTS.get(int(enhanced.split(".")[1]), "other")
    return f"{code} {enhanced} ({kind}: {subject})"


def reply_code(code: int, reply: bytes | str) -> str:
    """What the worker logs of a reply: ``smtp 550 5.1.1``."""
    enhanced = enhanced_code(code, reply)
    return f"smtp {code}" + (f" {enhanced}" if enhanced else "")


class _Scrubber:
    """The server's reply text, for a DEBUG line only, with the customer masked: any address-like word, the
    mailbox name with and without its ``+tag``, the name and each word of it (lines joined first, so that a
    name split over reply lines is still found)."""

    def __init__(self, invitation: ReadyInvitation):
        local = invitation.email.rpartition("@")[0]
        values = {invitation.email, local, local.partition("+")[0], invitation.name, *invitation.name.split()}
        self.personal = [re.compile(rf"(?<!\w){re.escape(value)}(?!\w)", re.IGNORECASE)
                         for value in sorted(values, key=len, reverse=True) if len(value.strip()) > 1]

    def __call__(self, reply: bytes | str) -> str:
        text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)
        text = " ".join(text.split())
        text = _EMAILISH.sub(lambda m: mask_email(m.group(0)), text)
        for pattern in self.personal:
            text = pattern.sub("***", text)
        return text[:200]


class SmtpSender:
    def __init__(self, settings: SmtpSettings, *, clock: Clock = utcnow, templates: EmailTemplates | None = None):
        self.settings = settings
        self.clock = clock
        self.templates = templates or emails.templates(settings.template_dir)
        self._tls = settings.tls_context()
        self._conn: smtplib.SMTP | None = None
        self._sent_on_conn = 0
        self._warned_plaintext_login = False
        dkim = settings.dkim
        if dkim is not None and not dkim.aligned_with(ascii_domain(settings.mail_from.domain)):
            log.warning("DKIM: the signing domain %s is neither MAIL_FROM's domain nor a parent of it: the emails are "
                        "signed, but DMARC does not count the signature", dkim.domain)

    # -- the message ------------------------------------------------------------------------------

    def build_message(self, invitation: ReadyInvitation) -> EmailMessage:
        """The ``multipart/alternative`` email for one invitation (text and HTML, both with the link, and with its
        unsubscribe URL when it has one, which the ``List-Unsubscribe`` headers carry too)."""
        email = self.templates.render(invitation, self.settings.business_name)
        local, _, domain = invitation.email.rpartition("@")
        message = EmailMessage(policy=policy.SMTP)
        message["Subject"] = email.subject
        message["From"] = self.settings.mail_from
        # An ASCII mailbox gets its domain in IDNA form; a non-ASCII one goes as it is (the message is sent with SMTPUTF8).
        message["To"] = Address(display_name=invitation.name, username=local,
                                domain=ascii_domain(domain) if local.isascii() else domain)
        if self.settings.reply_to:
            message["Reply-To"] = self.settings.reply_to
        message["Date"] = format_datetime(self.clock())
        message["Message-ID"] = message_id(invitation, self.settings.mail_from.domain)
        message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no out-of-office replies, please
        if invitation.unsubscribe_url:  # RFC 2369's header, and RFC 8058's one-click POST to the same URL
            message["List-Unsubscribe"] = f"<{invitation.unsubscribe_url}>"
            message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
        message.set_content(email.text)
        message.add_alternative(email.html, subtype="html")
        message["Content-Language"] = email.language  # after the parts: set_content() clears Content-* headers
        return message

    # -- the connection ---------------------------------------------------------------------------

    def _where(self) -> str:
        return f"{self.settings.host}:{self.settings.port}"

    def _helo_name(self) -> str:
        return ascii_domain(self.settings.mail_from.domain)

    def _open(self) -> smtplib.SMTP:
        s = self.settings
        if s.implicit_tls:
            conn: smtplib.SMTP = smtplib.SMTP_SSL(s.host, s.port, local_hostname=self._helo_name(), timeout=s.timeout,
                                                  context=self._tls)
        else:
            conn = smtplib.SMTP(s.host, s.port, local_hostname=self._helo_name(), timeout=s.timeout)
        try:
            conn.ehlo_or_helo_if_needed()
            secure = s.implicit_tls
            if not secure and conn.has_extn("starttls"):
                conn.starttls(context=self._tls)
                conn.ehlo()
                secure = True
            elif not secure and s.require_starttls:
                raise SendFailure(f"the SMTP server {self._where()} does not offer STARTTLS "
                                  "(SMTP_URL has ?starttls=require)", transient=True)
            if s.username:
                if not (secure or self._warned_plaintext_login):
                    log.warning("SMTP: logging in to %s without TLS: the password travels in clear", self._where())
                    self._warned_plaintext_login = True
                conn.login(s.username, s.password or "")
        except BaseException:
            conn.close()
            raise
        return conn

    def _connect(self) -> smtplib.SMTP:
        """The open connection if it still answers, else a new one; SendFailure (transient) if none can be had."""
        if self._conn is not None and self._sent_on_conn < MESSAGES_PER_CONNECTION:
            try:
                if self._conn.noop()[0] == 250:
                    return self._conn
            except (smtplib.SMTPException, OSError):
                pass
        self._drop()
        try:
            self._conn = self._open()
        except SendFailure:
            raise
        except smtplib.SMTPAuthenticationError as exc:
            raise SendFailure(f"the SMTP server {self._where()} refused the login from SMTP_URL "
                              f"({exc.smtp_code})", transient=True, code=f"smtp {exc.smtp_code} login") from None
        except smtplib.SMTPResponseException as exc:
            raise SendFailure(f"the SMTP server {self._where()} refused the session: "
                              f"{describe_reply(exc.smtp_code, exc.smtp_error)}", transient=True,
                              code=reply_code(exc.smtp_code, exc.smtp_error)) from None
        except ssl.SSLCertVerificationError as exc:
            raise SendFailure(f"the TLS certificate of the SMTP server {self._where()} cannot be verified "
                              f"({exc.verify_message}); trust it with SMTP_CA_FILE", transient=True,
                              code="smtp tls certificate") from None
        except (smtplib.SMTPException, OSError) as exc:
            why = f" ({exc.strerror})" if isinstance(exc, OSError) and exc.strerror else ""
            raise SendFailure(f"cannot talk to the SMTP server {self._where()}: {type(exc).__name__}{why}",
                              transient=True, code="smtp connection error") from None
        self._sent_on_conn = 0
        return self._conn

    def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.close()
            except OSError:
                pass

    # -- sending ----------------------------------------------------------------------------------

    def send(self, invitation: ReadyInvitation) -> None:
        scrub = _Scrubber(invitation)
        local, _, domain = invitation.email.rpartition("@")
        try:
            recipient = f"{local}@{ascii_domain(domain)}"
        except ValueError:
            raise SendFailure("the recipient's domain cannot be written in ASCII (IDNA)", transient=False) from None
        needs_utf8 = not local.isascii()
        message = self.build_message(invitation)
        conn = self._connect()
        if needs_utf8 and not conn.has_extn("smtputf8"):
            raise SendFailure("the recipient's address is not ASCII and the SMTP server does not offer SMTPUTF8",
                              transient=False)
        data = message.as_bytes(policy=policy.SMTPUTF8 if needs_utf8 else policy.SMTP)
        if self.settings.dkim is not None:  # over the very bytes that are sent: nothing may change them after this
            data = signatures.sign(data, self.settings.dkim)
        try:
            self._transaction(conn, recipient, data, ["SMTPUTF8"] if needs_utf8 else [], scrub)
        except SendFailure:
            raise
        except smtplib.SMTPResponseException as exc:  # DATA refused before the message went
            self._after_refusal(conn, exc.smtp_code)
            raise self._refused("the message", exc.smtp_code, exc.smtp_error, scrub) from None
        except (smtplib.SMTPException, OSError) as exc:
            self._drop()
            raise SendFailure(f"the connection to the SMTP server {self._where()} failed while sending: "
                              f"{type(exc).__name__}", transient=True, code="smtp connection lost") from None
        self._sent_on_conn += 1
        log.debug("SMTP: invitation %s handed to %s", invitation.id, self._where())

    def _transaction(self, conn: smtplib.SMTP, recipient: str, data: bytes, options: list[str],
                     scrub: _Scrubber) -> None:
        code, reply = conn.mail(self.settings.mail_from.addr_spec, options)
        if code != 250:
            self._after_refusal(conn, code)
            log.debug("SMTP: MAIL FROM refused: %s", scrub(reply))
            raise SendFailure(f"the SMTP server refused MAIL_FROM: {describe_reply(code, reply)}", transient=True,
                              code=reply_code(code, reply))
        code, reply = conn.rcpt(recipient)
        if code not in (250, 251):
            self._after_refusal(conn, code)
            raise self._refused("the recipient", code, reply, scrub)
        for bcc in self.settings.bcc:
            code, _ = conn.rcpt(bcc.addr_spec)
            if code not in (250, 251):
                log.warning("SMTP: the server refused the MAIL_BCC address %s (%s); sending without that copy",
                            mask_email(bcc.addr_spec), code)
        code, reply = conn.data(data)
        if code != 250:
            self._after_refusal(conn, code)
            raise self._refused("the message", code, reply, scrub)

    def _after_refusal(self, conn: smtplib.SMTP, code: int) -> None:
        """Clear the transaction so the connection can carry the next invitation; drop it if it is closing."""
        if code == 421:
            self._drop()
            return
        try:
            conn.rset()
        except (smtplib.SMTPException, OSError):
            self._drop()

    @staticmethod
    def _refused(what: str, code: int, reply: bytes | str, scrub: _Scrubber) -> SendFailure:
        permanent = 500 <= code < 600
        log.debug("SMTP: %s refused: %s", what, scrub(reply))
        return SendFailure(f"the SMTP server refused {what}: {describe_reply(code, reply)}", transient=not permanent,
                           code=reply_code(code, reply))

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is None:
            return
        try:
            conn.quit()
        except (smtplib.SMTPException, OSError):
            conn.close()
