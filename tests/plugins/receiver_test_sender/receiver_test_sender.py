"""A third-party sender: appends each ready invitation, as one JSON line, to the file ``TEST_SENDER_FILE``."""

from __future__ import annotations

import json
from collections.abc import Mapping

from receiver.senders import ReadyInvitation, SendFailure


class JsonLinesSender:
    def __init__(self, environ: Mapping[str, str]):
        self.path = (environ.get("TEST_SENDER_FILE") or "").strip()
        if not self.path:
            raise ValueError("TEST_SENDER_FILE is not set (the file the jsonl-file sender appends to)")

    def send(self, invitation: ReadyInvitation) -> None:
        if invitation.ref.startswith("REFUSE"):
            raise SendFailure("the jsonl-file sender refuses this one", transient=False)
        line = {"id": invitation.id, "ref": invitation.ref, "locale": invitation.locale, "link": invitation.link}
        with open(self.path, "a", encoding="utf-8") as file:
            file.write(json.dumps(line) + "\n")

    def close(self) -> None:
        pass
