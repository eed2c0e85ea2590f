"""DKIM test keys, and the DNS answer dkimpy's verifier asks for, made from the test's key alone (never from the
receiver's code, whose record is what the tests check)."""

from __future__ import annotations

import base64
from collections.abc import Callable
from functools import cache

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa


@cache
def rsa_key(bits: int = 2048) -> rsa.RSAPrivateKey:
    """One RSA key per size for the whole run (making one takes a while)."""
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


def pem(key: rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey,
        form: serialization.PrivateFormat = serialization.PrivateFormat.PKCS8) -> str:
    return key.private_bytes(serialization.Encoding.PEM, form, serialization.NoEncryption()).decode("ascii")


def published_value(key: rsa.RSAPrivateKey) -> str:
    """The TXT record a domain publishes for ``key``: ``v=DKIM1; k=rsa; p=<base64 SubjectPublicKeyInfo>``."""
    der = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return f"v=DKIM1; k=rsa; p={base64.b64encode(der).decode('ascii')}"


def txt_lookup(records: dict[str, str]) -> Callable[..., bytes | None]:
    """A ``dnsfunc`` for ``dkim.verify``: the TXT record of each name in ``records`` (``sel._domainkey.example.com``),
    nothing for any other name; the names asked for are kept in ``.asked``."""
    asked: list[str] = []

    def lookup(name: bytes, timeout: float = 5) -> bytes | None:
        asked.append(name.decode("ascii").rstrip("."))
        value = records.get(asked[-1])
        return value.encode("ascii") if value is not None else None

    lookup.asked = asked  # type: ignore[attr-defined]
    return lookup
