"""What the console's forms and query strings say, checked: each reader takes the submitted fields and returns the
value a page works with, or a ``Problem`` (the status and the sentence the page shows).

Plain functions, not WTForms classes: Flask-WTF's ``CSRFProtect`` checks the token of every form already, so a
form class would only restate three fields, and the console's answers to bad input carry their own status codes
(413 for a message that is too long, 400 for JSON that repeats a key) that WTForms' lists of field errors do not.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..segment import DuplicateKey, loads

MAX_PREVIEW = 256 * 1024  # characters of a pasted message
MAX_PAGE = 1_000_000
# a console path, with a query of plain words: what the console's own links look like, and nothing else
_CONSOLE_PATH = re.compile(r"^/console(/[A-Za-z0-9_.-]+)*/?(\?[A-Za-z0-9_.=&-]*)?$")
MAX_NEXT = 200


@dataclass(frozen=True)
class Problem:
    status: int
    message: str


@dataclass(frozen=True)
class InvitationsQuery:
    state: str | None  # None: every state
    page: int  # from 1


def invitations_query(args: Mapping[str, str], states: Sequence[str]) -> InvitationsQuery | Problem:
    """``?state=...&page=...`` of the invitations page."""
    state = args.get("state") or None
    if state is not None and state not in states:
        return Problem(400, f"Unknown state: one of {', '.join(states)}.")  # what was asked is not repeated
    try:
        page = int(args.get("page", "1"))
    except ValueError:
        page = 0
    if page < 1 or page > MAX_PAGE:
        return Problem(400, "page must be a whole number from 1.")
    return InvitationsQuery(state=state, page=page)


def safe_next(target: str | None) -> str | None:
    """``target`` if it is a path inside the console with a query of plain words (letters, digits, ``_.=&-``),
    else None: a login never leads to another site, and no text a link's author chose (a line break, a script, a
    sentence) reaches a header or a page."""
    if target and len(target) <= MAX_NEXT and _CONSOLE_PATH.match(target) and "/.." not in target:
        return target.rstrip("?")
    return None


# What a console action says once it is done: a fixed text, shown once (Flask's flashed messages, kept in the
# signed session), never text from the URL, which whoever wrote a link would choose.
QUEUED_ONE = "Queued again: it is due now."
NOTHING_TO_RETRY = "Nothing to retry: it is not dead or retrying."


def queued_dead(count: int) -> str:
    return f"{count} invitation(s) queued again."


@dataclass(frozen=True)
class PreviewInput:
    text: str  # what the form shows again
    chosen: str  # the fixture picked, or ""
    message: Any = None  # the decoded message, when there is no problem
    problem: Problem | None = None


def preview_input(form: Mapping[str, str], fixtures: Sequence[str], read: Callable[[str], str]) -> PreviewInput:
    """The pasted message or the picked fixture (``read`` gives a fixture's text), decoded as strictly as
    ``POST /segment`` decodes a body."""
    text, chosen = form.get("message", ""), form.get("fixture", "")
    if chosen:
        if chosen not in fixtures:
            return PreviewInput(text, chosen, problem=Problem(400, "Unknown fixture."))
        text = read(chosen)
    if not text.strip():
        return PreviewInput(text, chosen, problem=Problem(400, "Paste a Segment message, or pick a fixture."))
    if len(text) > MAX_PREVIEW:
        return PreviewInput("", chosen, problem=Problem(413, f"The message is longer than {MAX_PREVIEW // 1024} KB."))
    try:
        return PreviewInput(text, chosen, message=loads(text))
    except DuplicateKey:
        problem = Problem(400, "The message names a key twice in one object; POST /segment refuses it (400).")
    except RecursionError:
        problem = Problem(400, "The JSON is nested too deeply.")
    except ValueError as exc:
        problem = Problem(400, f"The message is not valid JSON (line {getattr(exc, 'lineno', '?')}, "
                               f"column {getattr(exc, 'colno', '?')}).")
    return PreviewInput(text, chosen, problem=problem)
