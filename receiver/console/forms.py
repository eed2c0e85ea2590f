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
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from ..segment import DuplicateKey, loads
from ..text import normal_address

MAX_PREVIEW = 256 * 1024  # characters of a pasted message
MAX_PAGE = 1_000_000
# a console path, with a query of plain words: what the console's own links look like, and nothing else
_CONSOLE_PATH = re.compile(r"^/console(/[A-Za-z0-9_.-]+)*/?(\?[A-Za-z0-9_.=&-]*)?$")
MAX_NEXT = 200
MAX_SEARCH = 320  # characters of a search: an address, an order ref or a messageId


@dataclass(frozen=True)
class Problem:
    status: int
    message: str


@dataclass(frozen=True)
class InvitationsQuery:
    """What the invitations page was asked for: a state, a creation date range (UTC days, both included), a
    search (an order ref or ``messageId``, or an address), and a page."""

    state: str | None = None  # None: every state
    page: int = 1  # from 1
    since: date | None = None
    until: date | None = None
    search: str = ""  # as typed, shown again in the search box (never on a page's other parts)
    address: str | None = None  # the search read as an address: its normal form (``text.normal_address``)

    @property
    def ref_or_message_id(self) -> str | None:
        return self.search if self.search and self.address is None else None

    @property
    def since_time(self) -> datetime | None:
        return datetime.combine(self.since, time(), UTC) if self.since else None

    @property
    def until_time(self) -> datetime | None:
        """The end of ``until``'s day: the first moment after it."""
        return datetime.combine(self.until, time(), UTC) + timedelta(days=1) if self.until else None

    @property
    def filtered(self) -> bool:
        return bool(self.state or self.since or self.until or self.search)

    def args(self, **changes: Any) -> dict[str, str]:
        """The query string of this query (what a link to another page of it, or a form repeating it, carries),
        with ``changes``; empty fields left out."""
        values = {"state": self.state or "", "since": self.since.isoformat() if self.since else "",
                  "until": self.until.isoformat() if self.until else "", "q": self.search,
                  "page": str(self.page) if self.page != 1 else ""}
        values.update({name: str(value) for name, value in changes.items()})
        return {name: value for name, value in values.items() if value and value != "None"}


def _day(args: Mapping[str, str], name: str) -> date | None | Problem:
    given = (args.get(name) or "").strip()
    if not given:
        return None
    try:
        return date.fromisoformat(given) if len(given) == 10 else _not_a_day(name)
    except ValueError:
        return _not_a_day(name)


def _not_a_day(name: str) -> Problem:
    return Problem(400, f"{name} must be a date as YYYY-MM-DD (UTC).")


def invitations_query(args: Mapping[str, str], states: Sequence[str]) -> InvitationsQuery | Problem:
    """``?state=&since=&until=&q=&page=`` of the invitations page (and of the forms that retry what it lists)."""
    state = args.get("state") or None
    if state is not None and state not in states:
        return Problem(400, f"Unknown state: one of {', '.join(states)}.")  # what was asked is not repeated
    try:
        page = int(args.get("page") or "1")
    except ValueError:
        page = 0
    if page < 1 or page > MAX_PAGE:
        return Problem(400, "page must be a whole number from 1.")
    since, until = _day(args, "since"), _day(args, "until")
    for found in (since, until):
        if isinstance(found, Problem):
            return found
    if since and until and since > until:  # type: ignore[operator]
        return Problem(400, "since must not be after until.")
    search = (args.get("q") or "").strip()
    if len(search) > MAX_SEARCH:
        return Problem(400, f"The search is longer than {MAX_SEARCH} characters.")
    address = None
    if "@" in search:
        address = normal_address(search)
        if address is None:
            return Problem(400, "The search has an @ but is not an email address: search by an exact address, "
                                "an order ref or a messageId.")
    return InvitationsQuery(state=state, page=page, since=since, until=until,  # type: ignore[arg-type]
                            search=search, address=address)


def confirmed(form: Mapping[str, str]) -> bool:
    """The confirmation step's own field: a bulk retry is done only from the page that said what it would do."""
    return form.get("confirm") == "yes"


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


def queued_again(count: int) -> str:
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
