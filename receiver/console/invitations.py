"""The invitations: a page of them (searched, filtered, masked), one in detail with its attempts, and retrying: one,
all the dead ones, or those a filtered list shows, the last two after a confirmation step."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from flask import flash, get_flashed_messages, redirect, request, url_for

from ..privacy import mask_email, mask_name
from ..store import DEAD, EVERYTHING, QUEUED, RETRYING, STATES, InvitationFilter, InvitationRow
from . import health, services
from .blueprint import console, page, problem
from .forms import (
    NOTHING_TO_RETRY,
    QUEUED_ONE,
    InvitationsQuery,
    Problem,
    confirmed,
    invitations_query,
    queued_again,
)

PAGE_SIZE = 50
RETRYABLE = (DEAD, RETRYING)


def _masked(row: InvitationRow) -> InvitationRow:
    return replace(row, email=mask_email(row.email) if row.email else "(erased)",
                   name=mask_name(row.name) if row.name else "(erased)")


def _filter(query: InvitationsQuery) -> InvitationFilter:
    """The store's filter of what the page was asked for; an address is looked for by its address key."""
    key = services.store().address_key(query.address) if query.address is not None else None
    return InvitationFilter(state=query.state, since=query.since_time, until=query.until_time,
                            ref_or_message_id=query.ref_or_message_id, address_key=key)


def _retryable_states(query: InvitationsQuery) -> tuple[str, ...]:
    """What "retry these" re-queues of a list: its dead and retrying ones (of its state only, when it has one)."""
    return tuple(state for state in RETRYABLE if query.state in (None, state))


@console.get("/invitations")
def invitations() -> Any:
    query = invitations_query(request.args, STATES)
    if isinstance(query, Problem):
        return problem(query)
    store = services.store()
    matching = _filter(query)
    rows, total = store.reports.page(matching, limit=PAGE_SIZE, offset=(query.page - 1) * PAGE_SIZE)
    pages = max(1, -(-total // PAGE_SIZE))
    retryable = store.reports.count(matching, states=_retryable_states(query)) if query.filtered else 0
    return page("invitations.html", rows=[_masked(row) for row in rows], query=query, states=STATES,
                pages=pages, total=total, retryable=RETRYABLE, queued=QUEUED, retry_these=retryable,
                dead=store.reports.count(EVERYTHING, states=(DEAD,)), notice=_notice())


@console.get("/invitations/<int:invitation_id>")
def invitation(invitation_id: int) -> Any:
    store = services.store()
    row = store.reports.get(invitation_id)
    if row is None:
        return problem(Problem(404, f"There is no invitation {invitation_id}."))
    return page("invitation.html", row=_masked(row), retryable=row.state in RETRYABLE, queued=QUEUED,
                attempts=health.history(store, invitation_id), notice=_notice())


@console.post("/invitations/<int:invitation_id>/retry")
def retry_one(invitation_id: int) -> Any:
    changed = services.store().outbox.retry(now=services.now(), invitation_id=invitation_id)
    flash(QUEUED_ONE if changed else NOTHING_TO_RETRY)
    return redirect(url_for("console.invitation", invitation_id=invitation_id))


@console.route("/invitations/retry-dead", methods=["GET", "POST"])
def retry_dead() -> Any:
    """Every ``dead`` invitation (never a ``retrying`` one: those are due again on their own) queued again, once
    confirmed on this page's GET."""
    store = services.store()
    if request.method == "POST" and confirmed(request.form):
        flash(queued_again(store.outbox.requeue(now=services.now(), states=(DEAD,), matching=EVERYTHING)))
        return redirect(url_for("console.invitations"))
    if request.method == "POST":
        return redirect(url_for("console.retry_dead"), 303)  # not confirmed: say what it would do first
    count = store.reports.count(EVERYTHING, states=(DEAD,))
    return page("confirm.html", count=count, what="dead", action=url_for("console.retry_dead"), fields={},
                back=url_for("console.invitations", state=DEAD))


@console.route("/invitations/retry", methods=["GET", "POST"])
def retry_these() -> Any:
    """The dead and retrying invitations of a filtered list (every page of it) queued again, once confirmed."""
    asked = request.form if request.method == "POST" else request.args
    query = invitations_query(asked, STATES)
    if isinstance(query, Problem):
        return problem(query)
    if not query.filtered:
        return problem(Problem(400, "Filter the list first (a search, a state or dates): to retry every dead "
                                    "invitation, use Retry all dead."))
    store = services.store()
    states = _retryable_states(query)
    fields = query.args(page="")
    if request.method == "POST" and confirmed(request.form):
        flash(queued_again(store.outbox.requeue(now=services.now(), states=states, matching=_filter(query))))
        return redirect(url_for("console.invitations", **fields))
    if request.method == "POST":
        return redirect(url_for("console.retry_these", **fields), 303)
    count = store.reports.count(_filter(query), states=states)
    return page("confirm.html", count=count, what=" or ".join(states) if states else "retryable",
                action=url_for("console.retry_these"), fields=fields,
                back=url_for("console.invitations", **fields))


def _notice() -> str | None:
    """The notice the last action left (``notice=`` in a URL says nothing: anyone can write a link)."""
    found = get_flashed_messages()
    return found[-1] if found else None
