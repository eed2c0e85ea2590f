"""How a setting is declared, and what comes from a list of declarations.

A ``Setting`` says everything about one environment variable: its name, its value type (a ``Kind``), its
default, an example, what it means, whether it is a secret, which process needs it and its group. From a
list of them come, without another word about any one setting: the values (``read``: every problem one
line naming the variable, never a secret's value), what ``receiver config`` shows (``describe``) and the
README's table (``markdown``). The list itself is ``config.SETTINGS``.

A ``Kind`` is a marshmallow field: ``read`` builds one schema from the declarations and loads the
environment's text with it, so every setting is checked and every problem collected in one pass.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from marshmallow import Schema, ValidationError, fields

WEB, WORKER, ANY = "web", "worker", "any"  # the process that needs a setting; any: every command
NOT_SET = "(not set)"


class ConfigError(ValueError):
    """Settings that cannot be used; ``problems`` holds one readable line each (``str()`` joins them).

    A ``ValueError``, so that a plug-in sender's factory raising a plain ``ValueError`` is reported alike."""

    def __init__(self, problems: Iterable[str]):
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


class Kind(fields.Field):
    """The value type of one setting: the text of the environment in, a value out.

    ``parse`` raises ``ValueError`` whose text is the whole problem, one line per problem, naming the setting;
    a kind used for a secret never repeats the text it was given. ``label`` is the README's word for the type,
    ``empty`` the value when the setting is not set and has no default, and ``refused`` a few values the kind
    must refuse (the table test gives each to its setting).
    """

    label = "text"
    refused: tuple[str, ...] = ()

    def __init__(self, *, empty: Any = None):
        super().__init__(load_default=empty)
        self.empty = empty
        self.setting: Setting | None = None

    def _deserialize(self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any) -> Any:
        assert self.setting is not None, "a kind is used through its Setting"
        name = self.setting.name
        try:
            return self.parse(str(value).strip(), self.setting)
        except ValueError as exc:  # a line that does not name the setting (a library's words) is made to name it
            lines = str(exc).splitlines() or ["cannot be used"]
            raise ValidationError([line if line.startswith(name) else f"{name}: {line}" for line in lines]) from None

    def parse(self, text: str, setting: Setting) -> Any:
        return text

    def shown(self, text: str, setting: Setting) -> str:
        """How ``receiver config`` shows a value that was given."""
        return "*** (set)" if setting.secret else text


@dataclass(frozen=True, eq=False)
class Setting:
    """One environment variable, declared once.

    ``attr``: the attribute of its group's settings object it fills (None when a rule of ``config`` makes
    something else of it, as the two keys make ``Keys``). ``required``: a problem when not set, worded
    ``NAME is not set (hint)``. ``unset``: what leaving it unset means, for the README when not the default.
    """

    name: str
    kind: Kind
    group: str
    description: str
    example: str = ""
    default: str = ""
    attr: str | None = None
    process: str = ANY
    secret: bool = False
    required: bool = False
    hint: str = ""
    unset: str = ""

    def __post_init__(self) -> None:
        if self.kind.setting is not None:
            raise ValueError(f"{self.name}: every setting needs its own kind instance")
        self.kind.setting = self

    def missing(self) -> str:
        return f"{self.name} is not set" + (f" ({self.hint})" if self.hint else "")

    def default_text(self) -> str:
        """The README's default column."""
        if self.unset:
            return self.unset
        if self.required:
            return "— (required)"
        return f"`{self.default}`" if self.default else "none"


def given(environ: Mapping[str, str], name: str) -> str:
    """The text set for ``name``, white space around it removed; '' when unset or blank (blank means unset)."""
    return (environ.get(name) or "").strip()


@lru_cache(maxsize=64)
def _schema(settings: tuple[Setting, ...]) -> Schema:
    return Schema.from_dict({setting.name: setting.kind for setting in settings}, name="Settings")()


def read(settings: Sequence[Setting], environ: Mapping[str, str],
         defaults: Mapping[str, str] | None = None) -> tuple[dict[str, Any], list[str]]:
    """The value of each setting by name, and every problem in the order of ``settings``.

    A setting not given takes ``defaults[name]`` if there is one, else its declared default; both are parsed
    like a given value. A setting in trouble takes its kind's empty value, so that the caller can go on and
    report the problems of the rest.
    """
    data: dict[str, str] = {}
    missing: dict[str, str] = {}
    for setting in settings:
        text = given(environ, setting.name) or (defaults or {}).get(setting.name, "") or setting.default
        if text:
            data[setting.name] = text
        elif setting.required:
            missing[setting.name] = setting.missing()
    try:
        values, errors = _schema(tuple(settings)).load(data), {}
    except ValidationError as exc:
        values, errors = dict(exc.valid_data or {}), exc.messages
    problems: list[str] = []
    for setting in settings:
        if setting.name in missing:
            problems.append(missing[setting.name])
        elif setting.name in errors:
            problems.extend(_lines(errors[setting.name]))
        values.setdefault(setting.name, setting.kind.empty)
    return values, problems


def _lines(messages: Any) -> list[str]:
    if isinstance(messages, str):
        return [messages]
    if isinstance(messages, Mapping):
        return [line for value in messages.values() for line in _lines(value)]
    return [line for value in messages for line in _lines(value)]


def describe(settings: Iterable[Setting], environ: Mapping[str, str]) -> list[tuple[str, str]]:
    """Each setting and the value in force, secrets masked: for ``receiver config`` and the console."""
    shown = []
    for setting in settings:
        text = given(environ, setting.name)
        if text:
            value = setting.kind.shown(text, setting)
        elif setting.default:
            value = f"{setting.kind.shown(setting.default, setting)} (default)"
        else:
            value = NOT_SET
        shown.append((setting.name, value))
    return shown


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def markdown(settings: Sequence[Setting]) -> str:
    """The README's configuration tables: one per group, in the order of ``settings``."""
    out: list[str] = []
    for group in dict.fromkeys(setting.group for setting in settings):
        out += ["", f"**{group}**", "", "| Variable | Type | Default | Example | Used by | Meaning |",
                "|---|---|---|---|---|---|"]
        for s in (s for s in settings if s.group == group):
            name = f"`{s.name}`" + (" (secret)" if s.secret else "")
            example = f"`{s.example}`" if s.example else ""
            out.append(f"| {name} | {s.kind.label} | {_cell(s.default_text())} | {_cell(example)} | {s.process} "
                       f"| {_cell(s.description)} |")
    return "\n".join(out).strip() + "\n"
