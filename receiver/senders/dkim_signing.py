"""DKIM signatures (RFC 6376) of the smtp sender's messages, made by dkimpy: ``relaxed/relaxed``, over the headers
that say who, what and how to unsubscribe.

The signature is computed over the very bytes that go to the server (``message.as_bytes()`` with CRLF line ends,
what ``smtplib`` sends unchanged but for the dot-stuffing that the receiving server undoes), and put in front of
them: nothing may touch those bytes after ``sign``.
"""

from __future__ import annotations

import dkim

from ..sender_setting_types import DkimSigning
from . import SendFailure

SIGNED_HEADERS = ("From", "To", "Subject", "Date", "Message-ID", "List-Unsubscribe", "List-Unsubscribe-Post")
CANONICALIZATION = (b"relaxed", b"relaxed")


def sign(data: bytes, signing: DkimSigning) -> bytes:
    """``data`` with its ``DKIM-Signature`` header first; the headers of ``SIGNED_HEADERS`` that it carries are
    signed (From always: a message without it is refused by dkimpy, and by every verifier)."""
    try:
        message = dkim.DKIM(data, linesep=b"\r\n")
        present = {name.lower() for name, _value in message.headers}
        headers = [name.encode("ascii") for name in SIGNED_HEADERS if name.lower().encode("ascii") in present]
        header = message.sign(signing.selector.encode("ascii"), signing.domain.encode("ascii"),
                              signing.key.private_pem, canonicalize=CANONICALIZATION, include_headers=headers)
    except dkim.DKIMException as exc:  # the key was checked at start: this is the message, so say what, not whose
        raise SendFailure(f"the message could not be DKIM-signed ({type(exc).__name__})", transient=False,
                          code="dkim") from None
    return header + data
