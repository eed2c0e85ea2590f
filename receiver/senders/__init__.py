"""Senders hand a ready invitation (with its link) to the customer, or to the business's mailer.

One small interface: ``send(invitation)`` returns on success and raises ``SendFailure`` otherwise,
saying whether the failure is transient (the worker retries) or permanent. ``SENDER`` picks a
sender by name among the entry points of the group ``receiver.senders``; this package registers
its own there too, so a third-party sender is picked exactly like a built-in one.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import Any, Protocol

ENTRY_POINT_GROUP = "receiver.senders"


@dataclass(frozen=True)
class ReadyInvitation:
    """Everything a sender may need: who, what, in which language, and the link itself."""

    id: int
    message_id: str
    email: str
    name: str
    ref: str
    skus: tuple[str, ...]
    tags: tuple[str, ...]
    locale: str | None
    link: str


class SendFailure(Exception):
    """Delivery failed. ``transient``: worth retrying; ``retry_after``: seconds the peer asked us to wait.

    The message must not contain personal data: it is stored and shown to operators.
    """

    def __init__(self, message: str, *, transient: bool, retry_after: float | None = None):
        super().__init__(message)
        self.transient = transient
        self.retry_after = retry_after


class Sender(Protocol):
    def send(self, invitation: ReadyInvitation) -> None: ...

    def close(self) -> None: ...


# A factory takes the process's environment (SMTP_URL, CALLBACK_URL, ...) and returns a Sender;
# it raises ValueError with a readable message for a setting it cannot use: one line per problem,
# naming the variable, never showing a secret. The built-in ones read their settings through
# ``config.read_group`` and raise ``config.ConfigError`` (a ValueError) with every problem at once.
SenderFactory = Callable[[Mapping[str, str]], Sender]


class UnknownSender(ValueError):
    pass


def available() -> dict[str, Any]:
    return {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}


def load_sender(name: str, environ: Mapping[str, str]) -> Sender:
    """The sender registered as ``name``, built from ``environ``; ``UnknownSender``/``ValueError`` if not."""
    found = available()
    if name not in found:
        names = ", ".join(sorted(found)) or "none"
        raise UnknownSender(f"SENDER={name!r} is not a known sender (available: {names})")
    factory: SenderFactory = found[name].load()
    return factory(environ)
