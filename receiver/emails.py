"""The review-invitation email: subject, plain text and HTML, rendered from Jinja2 templates per language.

Pure: no network, no store, no Flask. The SMTP sender renders with it, and so can anything that wants
to show the same email (a preview in a console). The templates ship in the package under
``templates/email/<language>/{subject.txt,body.txt,body.html}`` (the HTML ones extend
``templates/email/_layout.html``); a ``TEMPLATE_DIR`` with the same layout overrides them file by file
and may add languages. The invitation's locale picks the language (``de-DE`` -> ``de``), English when
there is no set for it. Templates get ``name``, ``ref``, ``link``, ``unsubscribe_url`` (None when there is
none: the footer's link shows only with one), ``business_name`` and ``language`` (the HTML ones also
``subject``); HTML is autoescaped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Protocol

from jinja2 import (
    ChoiceLoader,
    Environment,
    FileSystemLoader,
    PackageLoader,
    StrictUndefined,
    TemplateError,
    TemplateNotFound,
    TemplateSyntaxError,
    select_autoescape,
)

from .text import is_language, language_of

DEFAULT_LANGUAGE = "en"
TEMPLATE_FILES = ("subject.txt", "body.txt", "body.html")
_BREAKING_SPACE = re.compile(r"[ \t\r\n\f\v\x85\u2028\u2029]+")
_SAMPLE_LINK = "https://www.trustpilot.com/evaluate-bgl/example.com?p=sample%2Bpayload%3D"
_SAMPLE_UNSUBSCRIBE = "https://reviews.example.com/unsubscribe/sample-token"


class EmailFields(Protocol):
    """What rendering needs from an invitation (a ``ReadyInvitation`` has it, and its ``unsubscribe_url``, which
    rendering reads when there is one: a caller's own object without it renders as before)."""

    @property
    def name(self) -> str: ...

    @property
    def ref(self) -> str: ...

    @property
    def link(self) -> str: ...

    @property
    def locale(self) -> str | None: ...


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    text: str
    html: str
    language: str


@dataclass(frozen=True)
class _Sample:
    name: str = "Jane Doe"
    ref: str = "SAMPLE-1"
    link: str = _SAMPLE_LINK
    locale: str | None = None
    unsubscribe_url: str | None = _SAMPLE_UNSUBSCRIBE


class TemplateProblem(ValueError):
    """The templates cannot be used; one readable line per problem (file and line, never personal data)."""


def one_line(text: str) -> str:
    """A header value: runs of spaces and line breaks folded to one space (no-break spaces, as French uses, kept)."""
    return _BREAKING_SPACE.sub(" ", text).strip(" ")


class EmailTemplates:
    """The template sets of the package, overridden file by file by ``template_dir`` when given."""

    def __init__(self, template_dir: str | Path | None = None):
        self.template_dir = Path(template_dir) if template_dir else None
        loaders = [FileSystemLoader(str(self.template_dir))] if self.template_dir else []
        loaders.append(PackageLoader("receiver", "templates/email"))
        self.env = Environment(
            loader=ChoiceLoader(loaders),
            autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False, default=False),
            undefined=StrictUndefined,
            keep_trailing_newline=True,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.languages = frozenset(self._complete_languages())

    def _complete_languages(self) -> set[str]:
        found = {name.split("/", 1)[0] for name in self.env.list_templates() if "/" in name}
        return {lang for lang in found if is_language(lang) and all(self._exists(lang, f) for f in TEMPLATE_FILES)}

    def _exists(self, language: str, file: str) -> bool:
        try:
            self.env.get_template(f"{language}/{file}")
        except TemplateNotFound:
            return False
        except TemplateError:
            return True  # present but broken: ``problems()`` says how
        return True

    def language_for(self, locale: str | None) -> str:
        language = language_of(locale)
        return language if language in self.languages else DEFAULT_LANGUAGE

    def render(self, invitation: EmailFields, business_name: str) -> RenderedEmail:
        language = self.language_for(invitation.locale)
        values = {"name": invitation.name, "ref": invitation.ref, "link": invitation.link,
                  "unsubscribe_url": getattr(invitation, "unsubscribe_url", None), "business_name": business_name,
                  "language": language}
        subject = one_line(self.env.get_template(f"{language}/subject.txt").render(values))
        text = self.env.get_template(f"{language}/body.txt").render(values)
        html = self.env.get_template(f"{language}/body.html").render(values, subject=subject)
        return RenderedEmail(subject=subject, text=text, html=html, language=language)

    def problems(self) -> list[str]:
        """What stops the templates from rendering: a missing directory, an incomplete set, a syntax error."""
        if self.template_dir and not self.template_dir.is_dir():
            return ["TEMPLATE_DIR is not a directory"]
        problems = []
        if self.template_dir:
            for entry in sorted(self.template_dir.iterdir()):
                if entry.is_dir() and is_language(entry.name) and entry.name not in self.languages:
                    missing = [f for f in TEMPLATE_FILES if not self._exists(entry.name, f)]
                    problems.append(f"TEMPLATE_DIR: {entry.name}/ lacks {', '.join(missing)}")
        if DEFAULT_LANGUAGE not in self.languages:
            problems.append(f"TEMPLATE_DIR: no complete {DEFAULT_LANGUAGE}/ set to fall back on")
        for language in sorted(self.languages):
            try:
                self.render(_Sample(locale=language), "Sample Shop")
            except TemplateSyntaxError as exc:
                problems.append(f"TEMPLATE_DIR: {exc.name or language} line {exc.lineno}: {exc.message}")
            except TemplateError as exc:
                problems.append(f"TEMPLATE_DIR: the {language} templates do not render: {exc.message}")
        return problems


@lru_cache(maxsize=8)
def templates(template_dir: str | None = None) -> EmailTemplates:
    return EmailTemplates(template_dir)


def render_email(invitation: EmailFields, business_name: str, template_dir: str | Path | None = None) -> RenderedEmail:
    """The email for one invitation, in the language of its locale (English when there is no set for it)."""
    return templates(str(template_dir) if template_dir else None).render(invitation, business_name)
