"""Every setting declared once: the checks, ``receiver config`` and the README's tables all come from
``config.SETTINGS``; every refused value of every setting is one readable line and exit code 2."""

import dataclasses
import os

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from receiver import config
from receiver.cli import main
from receiver.declare import read
from receiver.setting_types import Items, Text
from support.data import ROOT, base_env

CORE = [s for s in config.SETTINGS if s.group not in (config.SMTP, config.HTTP)]
SENDERS = {config.SMTP: "smtp", config.HTTP: "http"}
# valid values of a sender's required settings, so that only the setting under test is wrong
SENDER_ENV = {
    "smtp": {"SMTP_URL": "smtp://127.0.0.1:2525", "MAIL_FROM": "Shop <shop@example.com>"},
    "http": {"CALLBACK_URL": "https://mailer.example.com/hook",
             "CALLBACK_SECRET": "whsec_Y2FsbGJhY2sgc2VjcmV0LCAzMiBieXRlcyBsb25nIQ=="},
}


# the shapes settings take, for the property test to build on
SHAPES = ("0", "-1", "1e9", "99999999999999999999", "nan", "inf", "1.5", "30s", "3650d", "99999w", "16MB", "9999999MB",
          "true", "TRUE", "yes", "de=de.trustpilot.com", "de-AT=", "postgres://u:p@h:5432/db", "sqlite://", "smtp://h:0",
          "smtps://u:p@h?starttls=require", "http://h:0/x", "whsec_", "whsec_====", "{}", '{"a": null}', "[]", "a,b,,c",
          " , ", "/", ".", "\x00", "\u2028", "1" * 400)


def refused(settings):
    return [pytest.param(s, value, id=f"{s.name}={value}") for s in settings for value in s.kind.refused]


def problem_lines(output):
    return [line for line in output.splitlines() if line.startswith("configuration error: ")]


def names_it(line, setting):
    return line.removeprefix("configuration error: ").startswith(setting.name)


# -- the declarations themselves --------------------------------------------------------------------

def test_each_setting_is_declared_once_and_each_free_form_kind_is_one_that_cannot_be_wrong():
    names = [s.name for s in config.SETTINGS]
    assert len(names) == len(set(names))
    for setting in config.SETTINGS:
        assert setting.description and setting.group and setting.process in ("web", "worker", "any")
        if not setting.kind.refused:  # every kind that can refuse something has values to prove it
            assert type(setting.kind) in (Text, Items), setting.name


GROUPS = {config.TRUSTPILOT: config.TrustpilotSettings, config.AUTH: config.SegmentAuth,
          config.DATABASE: config.DatabaseSettings, config.WORKER_GROUP: config.WorkerSettings,
          config.LIMITS: config.Limits, config.CONSOLE: config.ConsoleSettings, config.SERVER: config.ServerSettings}
DERIVED = {config.TrustpilotSettings: {"keys", "force_host"}}  # made by a rule from other settings


@pytest.mark.parametrize("group", GROUPS)
def test_each_group_object_holds_its_declared_settings_and_decides_no_default_of_its_own(group):
    cls = GROUPS[group]
    attrs = {s.attr for s in config.SETTINGS if s.group == group and s.attr}
    fields = dataclasses.fields(cls)
    assert {f.name for f in fields} == attrs | DERIVED.get(cls, set())
    assert all(f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING for f in fields)


def test_every_default_is_a_value_its_kind_accepts():
    for setting in config.SETTINGS:
        if setting.default:
            assert read([setting], {})[1] == [], setting.name


@pytest.mark.parametrize("setting,value", refused(config.SETTINGS))
def test_each_refused_value_is_exactly_one_line_naming_the_setting_and_never_a_secret(setting, value):
    values, problems = read([setting], {setting.name: value})
    assert len(problems) == 1 and problems[0].startswith(setting.name), problems
    assert values[setting.name] == setting.kind.empty
    if setting.secret or setting.name.endswith("_URL"):
        assert value not in problems[0]


@pytest.mark.parametrize("setting", [s for s in config.SETTINGS if s.required], ids=lambda s: s.name)
def test_a_required_setting_left_unset_is_one_line(setting):
    assert read([setting], {setting.name: " "})[1] == [setting.missing()]


# -- the same, as a user meets them -----------------------------------------------------------------

@pytest.mark.parametrize("setting,value", refused(CORE))
def test_receiver_config_refuses_each_bad_value_with_one_line_and_exit_2(setting, value):
    result = CliRunner().invoke(main, ["config"], env={**base_env(), setting.name: value})
    assert result.exit_code == 2 and "Traceback" not in result.output
    [line] = problem_lines(result.output)
    assert names_it(line, setting)


@pytest.mark.parametrize("setting,value", refused(s for s in config.SETTINGS if s.group in SENDERS))
def test_the_worker_refuses_each_bad_sender_setting_with_one_line_and_exit_2(setting, value, sqlite_url):
    sender = SENDERS[setting.group]
    env = base_env(DATABASE_URL=sqlite_url, SENDER=sender, **{**SENDER_ENV[sender], setting.name: value})
    result = CliRunner().invoke(main, ["worker", "--once"], env=env)
    assert result.exit_code == 2 and "Traceback" not in result.output
    [line] = problem_lines(result.output)
    assert names_it(line, setting)


def test_the_sender_factories_take_their_defaults_from_the_declarations():
    from receiver.senders.http import settings_from_environ as http_settings
    from receiver.senders.smtp import settings_from_environ as smtp_settings

    assert smtp_settings(SENDER_ENV["smtp"]).timeout == 30.0 == config.parse_duration(
        config.BY_NAME["SMTP_TIMEOUT"].default)
    assert http_settings(SENDER_ENV["http"]).timeout == 10.0 == config.parse_duration(
        config.BY_NAME["CALLBACK_TIMEOUT"].default)


def test_a_bad_log_setting_stops_any_command_but_config_shows_everything_first():
    decoded = CliRunner().invoke(main, ["decode", "x"], env={**base_env(), "LOG_LEVEL": "loud"})
    assert (decoded.exit_code, decoded.output) == (
        2, "configuration error: LOG_LEVEL must be DEBUG, INFO, WARNING, ERROR or CRITICAL\n")
    shown = CliRunner().invoke(main, ["config"], env={**base_env(), "LOG_FORMAT": "xml"})
    assert shown.exit_code == 2 and "LOG_FORMAT=xml" in shown.output
    assert problem_lines(shown.output) == ["configuration error: LOG_FORMAT must be text or json"]


# -- receiver config and the README -----------------------------------------------------------------

def test_receiver_config_shows_every_setting_in_declaration_order_and_no_secret():
    secrets = {s.name: f"secret-of-{s.name.lower()}" for s in config.SETTINGS if s.secret}
    result = CliRunner().invoke(main, ["config"], env={**base_env(), **secrets})
    shown = [line.split("=", 1)[0] for line in result.output.splitlines() if not line.startswith("configuration")]
    assert shown == [s.name for s in config.SETTINGS]
    for value in secrets.values():
        assert value not in result.output


def test_the_readme_tables_are_the_declarations():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    begin = "tests/unit/test_config.py checks them -->\n"
    inside = readme[readme.index(begin) + len(begin):readme.index("<!-- end of the settings tables -->")]
    assert inside.strip() == config.markdown().strip(), (
        "README.md's settings tables differ from config.SETTINGS: paste the output of `receiver config --markdown`")


def test_app_json_offers_declared_settings_only_with_values_they_accept():
    import json

    offered = json.loads((ROOT / "app.json").read_text(encoding="utf-8"))["env"]
    for name, entry in offered.items():
        assert name in config.BY_NAME, f"app.json offers {name}, which is not declared"
        if entry.get("value"):
            assert read([config.BY_NAME[name]], {name: entry["value"]})[1] == []


def test_receiver_config_markdown_prints_the_tables():
    result = CliRunner().invoke(main, ["config", "--markdown"], env=base_env())
    assert result.exit_code == 0 and result.output == config.markdown()
    assert "| `PORT` | whole number, 1 to 65535 | `8000` |" in result.output


# -- .env: the console script's alone ---------------------------------------------------------------



def test_the_click_group_the_tests_invoke_never_reads_dotenv(dotenv_dir, monkeypatch):
    monkeypatch.chdir(dotenv_dir)
    result = CliRunner().invoke(main, ["config"], env=base_env())
    assert "TRUSTPILOT_TAGS=(not set)" in result.output
    assert "TRUSTPILOT_TAGS" not in os.environ


@hypothesis_settings(max_examples=400, deadline=None)
@given(setting=st.sampled_from(config.SETTINGS), text=st.text(max_size=40) | st.sampled_from(SHAPES))
def test_any_text_for_any_setting_is_a_value_or_problem_lines_never_an_exception(setting, text):
    values, problems = read([setting], {setting.name: text})
    assert all(isinstance(line, str) and line.startswith(setting.name) for line in problems)
    if not problems:
        assert setting.name in values


@hypothesis_settings(max_examples=200, deadline=None)
@given(setting=st.sampled_from(CORE), text=st.text(max_size=40) | st.sampled_from(SHAPES))
def test_any_text_for_any_setting_loads_or_is_a_configuration_error(setting, text):
    try:
        config.load_settings({**base_env(), setting.name: text}, intake=True)
    except config.ConfigError as exc:  # a rule may name another setting (CONSOLE_PASSWORD=0: SECRET_KEY is not set)
        assert exc.problems and all(any(name in line for name in config.BY_NAME) for line in exc.problems)
