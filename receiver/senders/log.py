"""The ``log`` sender: prints the link and a masked recipient. For trying things out, not for customers."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import TextIO

from ..privacy import mask_email
from . import ReadyInvitation


class LogSender:
    def __init__(self, environ: Mapping[str, str] | None = None, *, stream: TextIO | None = None):
        self.stream = stream

    def send(self, invitation: ReadyInvitation) -> None:
        stream = self.stream or sys.stdout
        print(f"invitation {invitation.id} for {mask_email(invitation.email)}: {invitation.link}", file=stream,
              flush=True)

    def close(self) -> None:
        pass
