"""One-click unsubscribe: the signed token of an invitation, and the URL that carries it.

A token names the invitation (its id, and a short digest of its Segment ``messageId``, so that a token still in
someone's mailbox never names another customer's invitation once ids are reused, say in a database made afresh)
and is signed with itsdangerous under a key of its own, derived from ``DATA_KEY`` (HMAC-SHA256 of ``DATA_KEY`` and
a purpose label), so that it cannot be guessed or altered, and holds no address. It never expires: the link of an
email kept for years must still work. Pure: no Flask, no store.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass, field

from itsdangerous import BadData, URLSafeSerializer

PURPOSE = b"receiver: unsubscribe tokens"  # the label that makes this key differ from every other use of DATA_KEY
SALT = "unsubscribe"
PATH = "/unsubscribe/"
MAX_TOKEN = 200  # characters: a real token has about 75; anything longer is refused before it is looked at
_CHECK_BYTES = 8


def token_key(data_key: bytes) -> bytes:
    """The tokens' signing key: HMAC-SHA256 of ``DATA_KEY`` under the purpose label."""
    return hmac.new(data_key, PURPOSE, hashlib.sha256).digest()


def message_check(message_id: str) -> str:
    """A short digest of an invitation's Segment ``messageId``, which its token carries."""
    digest = hashlib.sha256(message_id.encode("utf-8")).digest()[:_CHECK_BYTES]
    return base64.urlsafe_b64encode(digest).decode("ascii").rstrip("=")


@dataclass(frozen=True)
class Ticket:
    """What a genuine token says: the invitation's id, and the digest its ``messageId`` must have."""

    invitation_id: int
    check: str

    def names(self, message_id: str) -> bool:
        """True when the invitation found under the id is the one the token was made for."""
        return hmac.compare_digest(self.check, message_check(message_id))


@dataclass(frozen=True)
class UnsubscribeTokens:
    """Makes and reads the tokens under the key derived from ``data_key``."""

    data_key: bytes = field(repr=False)

    def _serializer(self) -> URLSafeSerializer:
        return URLSafeSerializer(token_key(self.data_key), salt=SALT, signer_kwargs={"digest_method": hashlib.sha256})

    def token(self, invitation_id: int, message_id: str) -> str:
        return str(self._serializer().dumps([invitation_id, message_check(message_id)]))

    def read(self, token: str) -> Ticket | None:
        """The ticket of a genuine token; None for anything else (altered, truncated, another key's, too long).

        Only the one spelling this class makes is genuine: base64 leaves a few bits of a last character unused, and a
        token differing there alone would otherwise read the same."""
        if not token or len(token) > MAX_TOKEN:
            return None
        serializer = self._serializer()
        try:
            payload = serializer.loads(token)
        except BadData:
            return None
        if (not isinstance(payload, list) or len(payload) != 2 or type(payload[0]) is not int
                or not isinstance(payload[1], str)):
            return None
        if not hmac.compare_digest(str(serializer.dumps(payload)), token):
            return None
        return Ticket(invitation_id=payload[0], check=payload[1])


@dataclass(frozen=True)
class UnsubscribeLinks:
    """``PUBLIC_URL`` and the tokens -> the unsubscribe URL of an invitation."""

    public_url: str
    tokens: UnsubscribeTokens

    @classmethod
    def from_settings(cls, public_url: str | None, data_key: bytes) -> UnsubscribeLinks | None:
        """The links, or None when ``PUBLIC_URL`` (or ``DATA_KEY``) is not set: then no invitation carries one."""
        if not public_url or not data_key:
            return None
        return cls(public_url=public_url.rstrip("/"), tokens=UnsubscribeTokens(data_key))

    def url(self, invitation_id: int, message_id: str) -> str:
        return f"{self.public_url}{PATH}{self.tokens.token(invitation_id, message_id)}"
