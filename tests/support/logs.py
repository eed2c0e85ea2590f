"""Log records as the receiver's JSON log lines, captured for a test to read."""

from __future__ import annotations

import json
import logging
from typing import Any

from receiver import logs


class Captured(logging.Handler):
    """Every record, formatted as the JSON log line it would be; a context manager on the root logger."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[dict[str, Any]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(json.loads(logs.JsonFormatter().format(record)))

    def __enter__(self) -> Captured:
        root = logging.getLogger()
        self.root_level = root.level
        root.addHandler(self)
        root.setLevel(logging.DEBUG)
        return self

    def __exit__(self, *exc: object) -> None:
        logging.getLogger().removeHandler(self)
        logging.getLogger().setLevel(self.root_level)
