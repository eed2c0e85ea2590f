"""Trustpilot Business Generated Links: payload -> link, and link -> payload.

Encrypt-then-MAC as Trustpilot's reference encryptor does it: AES-256-CBC with PKCS#7 padding over
the UTF-8 JSON, HMAC-SHA256 over IV + ciphertext, base64(IV + ciphertext + MAC), URL-encoded.
Pure: plain values in, plain values out; the IV source is injected for exact tests.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, unquote, urlsplit

from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

IV_SIZE = 16
MAC_SIZE = 32
KEY_SIZE = 32
DEFAULT_HOST = "www.trustpilot.com"

IvSource = Callable[[], bytes]


class KeyProblem(ValueError):
    """A configured key cannot be used; the message names the setting, never the key."""


class InvalidLink(ValueError):
    """A link or payload that is malformed, tampered with, or made with other keys."""


def load_key(value: str, setting: str) -> bytes:
    """Decode one base64 key as Trustpilot shows it; raise KeyProblem naming ``setting``."""
    text = (value or "").strip()
    if not text:
        raise KeyProblem(f"{setting} is not set")
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise KeyProblem(f"{setting} is not valid base64") from None
    if len(raw) != KEY_SIZE:
        raise KeyProblem(f"{setting} must decode to {KEY_SIZE} bytes, not {len(raw)}")
    return raw


@dataclass(frozen=True)
class Keys:
    encrypt: bytes = field(repr=False)
    auth: bytes = field(repr=False)

    @classmethod
    def from_base64(cls, encrypt_key: str, auth_key: str) -> Keys:
        problems, keys = [], {}
        for name, setting, value in (
            ("encrypt", "TRUSTPILOT_ENCRYPT_KEY", encrypt_key),
            ("auth", "TRUSTPILOT_AUTH_KEY", auth_key),
        ):
            try:
                keys[name] = load_key(value, setting)
            except KeyProblem as exc:
                problems.append(str(exc))
        if problems:
            raise KeyProblem("; ".join(problems))
        return cls(**keys)


def serialise(payload: Mapping[str, Any]) -> bytes:
    """The compact UTF-8 JSON the reference encryptor encrypts (non-ASCII kept as is)."""
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def encrypt(plaintext: bytes, keys: Keys, iv: bytes) -> str:
    """base64(IV + AES-256-CBC(plaintext) + HMAC-SHA256(IV + ciphertext))."""
    if len(iv) != IV_SIZE:
        raise ValueError(f"the IV must be {IV_SIZE} bytes")
    padder = padding.PKCS7(128).padder()
    padded = padder.update(plaintext) + padder.finalize()
    encryptor = Cipher(algorithms.AES(keys.encrypt), modes.CBC(iv)).encryptor()
    ciphertext = encryptor.update(padded) + encryptor.finalize()
    mac = hmac.new(keys.auth, iv + ciphertext, hashlib.sha256).digest()
    return base64.b64encode(iv + ciphertext + mac).decode("ascii")


def link_for(domain: str, payload_b64: str, host: str = DEFAULT_HOST) -> str:
    return f"https://{host}/evaluate-bgl/{domain}?p={quote(payload_b64, safe='')}"


def build_link(
    payload: Mapping[str, Any],
    keys: Keys,
    domain: str,
    host: str = DEFAULT_HOST,
    iv_source: IvSource | None = None,
) -> str:
    """The whole link for one invitation payload (email, name, ref, optional skus and tags)."""
    iv = (iv_source or (lambda: os.urandom(IV_SIZE)))()
    return link_for(domain, encrypt(serialise(payload), keys, iv), host)


def payload_from_link(link_or_payload: str) -> str:
    """The base64 payload in a link, a query string, or a bare (possibly URL-encoded) payload."""
    text = link_or_payload.strip()
    if "?" in text or text.startswith(("http://", "https://")):
        query = urlsplit(text).query
        for part in query.split("&"):
            name, _, value = part.partition("=")
            if name == "p":
                return unquote(value)
        raise InvalidLink("the link has no p= parameter")
    return unquote(text)


def decrypt(payload_b64: str, keys: Keys) -> bytes:
    """Verify the MAC (in constant time) and only then decrypt; the plaintext bytes."""
    try:
        raw = base64.b64decode(payload_b64, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidLink("the payload is not valid base64") from None
    if len(raw) < IV_SIZE + 16 + MAC_SIZE or (len(raw) - IV_SIZE - MAC_SIZE) % 16:
        raise InvalidLink("the payload has the wrong length")
    iv, ciphertext, mac = raw[:IV_SIZE], raw[IV_SIZE:-MAC_SIZE], raw[-MAC_SIZE:]
    expected = hmac.new(keys.auth, iv + ciphertext, hashlib.sha256).digest()
    if not hmac.compare_digest(mac, expected):
        raise InvalidLink("the signature does not match: tampered, or made with other keys")
    decryptor = Cipher(algorithms.AES(keys.encrypt), modes.CBC(iv)).decryptor()
    padded = decryptor.update(ciphertext) + decryptor.finalize()
    unpadder = padding.PKCS7(128).unpadder()
    try:
        return unpadder.update(padded) + unpadder.finalize()
    except ValueError:
        raise InvalidLink("the payload does not decrypt with the encryption key") from None


def decode(link_or_payload: str, keys: Keys) -> dict[str, Any]:
    """The payload dict inside a link or payload; InvalidLink for anything else."""
    plaintext = decrypt(payload_from_link(link_or_payload), keys)
    try:
        value = json.loads(plaintext.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise InvalidLink("the payload does not hold JSON") from None
    if not isinstance(value, dict):
        raise InvalidLink("the payload does not hold a JSON object")
    return value
