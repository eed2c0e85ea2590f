"""The preview: one pasted message (or a fixture of the repository) through the endpoint's own path
(``Intake.preview``), which stores nothing; the invitation, where each field came from, the link and the email.

What the pasted message did not say, the page does not reveal: an email or a name taken from stored traits is
shown masked (``privacy``), with whose traits it came from, and the link, its payload and the email are made from
the masked values. Otherwise any console user could look anyone up by a ``userId``."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from flask import request
from jinja2 import TemplateError

from .. import bgl
from ..config import email_look
from ..emails import render_email
from ..intake import Preview
from ..invitation import STORED_TRAITS, Invitation
from ..links import LinkBuilder
from ..privacy import mask_email, mask_name
from ..store import StoreUnavailable
from . import services
from .blueprint import console, page
from .forms import preview_input

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"  # the repository's sample events, when present


def fixture_names() -> list[str]:
    if not FIXTURES.is_dir():
        return []
    return sorted(path.name for path in FIXTURES.glob("*.json") if path.is_file())


def _read_fixture(name: str) -> str:
    return (FIXTURES / name).read_text(encoding="utf-8")


@dataclass(frozen=True)
class _EmailFields:
    name: str
    ref: str
    link: str
    locale: str | None


MASKS = {"email": mask_email, "name": mask_name}


def _stored_source(source: str, owners: Mapping[str, str]) -> str | None:
    """``stored traits of user:u-9 (first_name + last_name)`` for a value read from stored traits, else None."""
    prefix = f"{STORED_TRAITS}."
    keys = [part.removeprefix(prefix) for part in source.split(" + ") if part.startswith(prefix)]
    if not keys:
        return None
    whose = ", ".join(dict.fromkeys(owners.get(key, "this customer") for key in keys))
    return f"{STORED_TRAITS} of {whose} ({' + '.join(keys)}), masked"


def shown_invitation(invitation: Invitation, sources: Mapping[str, str],
                     owners: Mapping[str, str]) -> tuple[Invitation, dict[str, str]]:
    """The invitation as the page shows it, and the sources: the email and name from stored traits masked."""
    sources = dict(sources)
    for name, mask in MASKS.items():
        stored = _stored_source(sources.get(name, ""), owners)
        if stored is not None:
            invitation = replace(invitation, **{name: mask(getattr(invitation, name))})
            sources[name] = stored
    return invitation, sources


def _preview_values(preview: Preview) -> dict[str, Any]:
    """The invitation's fields with their sources, its link and decoded payload, and the email."""
    if preview.invitation is None:
        return {}
    invitation, sources = shown_invitation(preview.invitation, preview.sources, preview.trait_owners)
    settings = services.settings()
    link = LinkBuilder.from_settings(settings.trustpilot).link(invitation)
    fields = [("email", invitation.email), ("name", invitation.name), ("ref", invitation.ref),
              ("skus", ", ".join(invitation.skus) or "(none)"), ("tags", ", ".join(invitation.tags) or "(none)"),
              ("locale", invitation.locale or "(none)")]
    values: dict[str, Any] = {
        "fields": [(name, value, sources.get(name, "")) for name, value in fields],
        "masked": invitation != preview.invitation,
        "link": link,
        "decoded": json.dumps(bgl.decode(link, settings.trustpilot.keys), ensure_ascii=False, indent=2),
    }
    look = email_look(settings.environ)
    try:
        values["email"] = render_email(_EmailFields(invitation.name, invitation.ref, link, invitation.locale),
                                       look.business_name, look.template_dir)
    except (TemplateError, OSError) as exc:  # a broken TEMPLATE_DIR is shown, not a 500
        values["email_problem"] = f"The email templates do not render ({type(exc).__name__})."
    return values


@console.route("/preview", methods=["GET", "POST"])
def preview() -> Any:
    fixtures = fixture_names()
    if request.method == "GET":
        return page("preview.html", fixtures=fixtures, text="")
    given = preview_input(request.form, fixtures, _read_fixture)
    if given.problem is not None:
        return page("preview.html", given.problem.status, fixtures=fixtures, text=given.text,
                    error=given.problem.message)
    try:
        result = services.intake().preview(given.message)
    except StoreUnavailable:
        return page("preview.html", 503, fixtures=fixtures, text=given.text,
                    error="The database is unavailable, so the stored traits cannot be read: try again.")
    return page("preview.html", fixtures=fixtures, text=given.text, chosen=given.chosen, verdict=result.verdict,
                **_preview_values(result))
