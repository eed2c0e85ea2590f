"""The invitations: a page of them (masked), one in detail, and retrying the dead or retrying ones."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from flask import flash, get_flashed_messages, redirect, request, url_for

from ..privacy import mask_email, mask_name
from ..store import DEAD, RETRYING, STATES, InvitationRow
from . import services
from .blueprint import console, page, problem
from .forms import NOTHING_TO_RETRY, QUEUED_ONE, Problem, invitations_query, queued_dead

PAGE_SIZE = 50


def _masked(row: InvitationRow) -> InvitationRow:
    return replace(row, email=mask_email(row.email) if row.email else "(erased)",
                   name=mask_name(row.name) if row.name else "(erased)")


@console.get("/invitations")
def invitations() -> Any:
    query = invitations_query(request.args, STATES)
    if isinstance(query, Problem):
        return problem(query)
    rows, total = services.store().reports.page(state=query.state, limit=PAGE_SIZE,
                                                offset=(query.page - 1) * PAGE_SIZE)
    pages = max(1, -(-total // PAGE_SIZE))
    return page("invitations.html", rows=[_masked(row) for row in rows], state=query.state, states=STATES,
                page=query.page, pages=pages, total=total, retryable=(DEAD, RETRYING), notice=_notice())


@console.get("/invitations/<int:invitation_id>")
def invitation(invitation_id: int) -> Any:
    row = services.store().reports.get(invitation_id)
    if row is None:
        return problem(Problem(404, f"There is no invitation {invitation_id}."))
    return page("invitation.html", row=_masked(row), retryable=row.state in (DEAD, RETRYING), notice=_notice())


@console.post("/invitations/<int:invitation_id>/retry")
def retry_one(invitation_id: int) -> Any:
    changed = services.store().outbox.retry(now=services.now(), invitation_id=invitation_id)
    flash(QUEUED_ONE if changed else NOTHING_TO_RETRY)
    return redirect(url_for("console.invitation", invitation_id=invitation_id))


@console.post("/invitations/retry-dead")
def retry_dead() -> Any:
    flash(queued_dead(services.store().outbox.retry(now=services.now(), dead=True)))
    return redirect(url_for("console.invitations"))


def _notice() -> str | None:
    """The notice the last action left (``notice=`` in a URL says nothing: anyone can write a link)."""
    found = get_flashed_messages()
    return found[-1] if found else None
