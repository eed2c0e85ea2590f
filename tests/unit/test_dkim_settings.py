"""DKIM's settings (DKIM_PRIVATE_KEY, DKIM_SELECTOR, DKIM_DOMAIN) and ``receiver dkim-record``, without a server."""

import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from receiver.cli import main
from receiver.config import ConfigError
from receiver.senders.smtp import SmtpSender, settings_from_environ
from support.data import base_env
from support.dkim import pem, published_value, rsa_key
from support.logs import Captured

SMTP = {"SMTP_URL": "smtp://relay.internal", "MAIL_FROM": "Shop <reviews@Bücher.example>"}


def problems_of(**env):
    with pytest.raises(ConfigError) as error:
        settings_from_environ({**SMTP, **env})
    return error.value.problems


def test_the_key_inline_in_either_pem_form_or_with_escaped_line_breaks_signs_as_mail_froms_domain():
    for text in (pem(rsa_key()), pem(rsa_key(), serialization.PrivateFormat.TraditionalOpenSSL),
                 pem(rsa_key()).replace("\n", "\\n"), pem(rsa_key()).replace("\n", "\r\n")):
        signing = settings_from_environ({**SMTP, "DKIM_PRIVATE_KEY": text, "DKIM_SELECTOR": "Mail2026"}).dkim
        assert (signing.selector, signing.domain) == ("mail2026", "xn--bcher-kva.example")
        assert signing.record_name() == "mail2026._domainkey.xn--bcher-kva.example"
        assert signing.key.record_value() == published_value(rsa_key())
        assert "PRIVATE" not in repr(signing)
    assert settings_from_environ(SMTP).dkim is None  # not set: not signed


@pytest.mark.parametrize("env,problem", [
    ({"DKIM_PRIVATE_KEY": "PEM"}, "DKIM_SELECTOR is not set: DKIM_PRIVATE_KEY needs it (e.g. mail2026)"),
    ({"DKIM_SELECTOR": "mail2026"}, "DKIM_SELECTOR is set but DKIM_PRIVATE_KEY is not (nothing would be signed)"),
    ({"DKIM_DOMAIN": "example.com"}, "DKIM_DOMAIN is set but DKIM_PRIVATE_KEY is not (nothing would be signed)"),
    ({"DKIM_PRIVATE_KEY": "/nonexistent/dkim.pem", "DKIM_SELECTOR": "s"},
     "DKIM_PRIVATE_KEY is neither PEM text (-----BEGIN ...) nor a readable file"),
    ({"DKIM_PRIVATE_KEY": "-----BEGIN PRIVATE KEY-----\nMIIBroken\n-----END PRIVATE KEY-----", "DKIM_SELECTOR": "s"},
     "DKIM_PRIVATE_KEY is not a PEM private key"),
    ({"DKIM_PRIVATE_KEY": "ENCRYPTED", "DKIM_SELECTOR": "s"},
     "DKIM_PRIVATE_KEY is encrypted: give the key without a passphrase"),
    ({"DKIM_PRIVATE_KEY": "ED25519", "DKIM_SELECTOR": "s"},
     "DKIM_PRIVATE_KEY must be an RSA key (Ed25519 and others are not supported)"),
    ({"DKIM_PRIVATE_KEY": "PEM", "DKIM_SELECTOR": "not_a_label"},
     "DKIM_SELECTOR must be a DNS label such as mail2026 (letters, digits, - and .)"),
])
def test_each_problem_is_one_line_naming_the_setting_and_never_the_key(env, problem):
    ed = ed25519.Ed25519PrivateKey.generate()
    texts = {"PEM": pem(rsa_key()), "ED25519": pem(ed),
             "ENCRYPTED": rsa_key().private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                  serialization.BestAvailableEncryption(b"passphrase")).decode()}
    env = {name: texts.get(value, value) for name, value in env.items()}
    problems = problems_of(**env)
    assert problems == [problem]
    assert "KEY-----" not in problems[0] and "MII" not in problems[0]


def test_a_bad_key_among_other_smtp_problems_is_still_its_one_line():
    assert problems_of(MAIL_FROM="nobody", DKIM_PRIVATE_KEY="not a key") == [
        "MAIL_FROM must be one address, e.g. Shop <reviews@example.com>",
        "DKIM_PRIVATE_KEY is neither PEM text (-----BEGIN ...) nor a readable file"]


def test_the_worker_refuses_to_start_with_one_line_and_exit_2():
    env = base_env(SENDER="smtp", **SMTP, DKIM_PRIVATE_KEY=pem(rsa_key()))
    result = CliRunner().invoke(main, ["send-test", "--to", "someone@example.com"], env=env)
    assert result.exit_code == 2
    assert result.output.splitlines() == ["configuration error: DKIM_SELECTOR is not set: DKIM_PRIVATE_KEY needs it "
                                          "(e.g. mail2026)"]


def test_dkim_record_prints_the_txt_record_and_a_zone_file_line_without_trustpilot_keys(tmp_path):
    key_file = tmp_path / "dkim.pem"
    key_file.write_text(pem(rsa_key()))
    env = {"DKIM_PRIVATE_KEY": str(key_file), "DKIM_SELECTOR": "mail2026", "MAIL_FROM": "Shop <reviews@example.com>"}
    result = CliRunner().invoke(main, ["dkim-record"], env=env)
    assert result.exit_code == 0, result.output
    name, kind, value, zone = result.output.splitlines()
    assert name == "name:  mail2026._domainkey.example.com" and kind == "type:  TXT"
    assert value == f"value: {published_value(rsa_key())}"
    assert zone.startswith("zone file: mail2026._domainkey.example.com. 3600 IN TXT ( \"v=DKIM1; k=rsa; p=")
    strings = zone.split("( ", 1)[1].removesuffix(" )").split(" ")
    assert all(len(s) <= 257 for s in strings) and len(strings) > 1  # 255 characters and the quotes
    assert "".join(s.strip('"') for s in strings) == published_value(rsa_key()).replace(" ", "")
    other = CliRunner().invoke(main, ["dkim-record"], env={**env, "DKIM_DOMAIN": "mail.example.org"})
    assert other.output.startswith("name:  mail2026._domainkey.mail.example.org\n")


@pytest.mark.parametrize("env,problem", [
    ({}, "DKIM_PRIVATE_KEY is not set (an RSA private key in PEM, or its file)"),
    ({"DKIM_PRIVATE_KEY": "PEM"}, "DKIM_SELECTOR is not set: DKIM_PRIVATE_KEY needs it (e.g. mail2026)"),
    ({"DKIM_PRIVATE_KEY": "PEM", "DKIM_SELECTOR": "s"},
     "DKIM_DOMAIN is not set and there is no MAIL_FROM to take the domain from"),
    ({"DKIM_PRIVATE_KEY": "nope", "DKIM_SELECTOR": "s", "DKIM_DOMAIN": "example.com"},
     "DKIM_PRIVATE_KEY is neither PEM text (-----BEGIN ...) nor a readable file"),
])
def test_dkim_record_problems_are_one_line_each_and_exit_2(env, problem):
    env = {name: pem(rsa_key()) if value == "PEM" else value for name, value in env.items()}
    result = CliRunner().invoke(main, ["dkim-record"], env=env)
    assert result.exit_code == 2
    assert result.output.splitlines() == [f"configuration error: {problem}"]


def test_a_signing_domain_that_dmarc_does_not_align_with_mail_from_is_warned_about_at_start():
    env = {**SMTP, "DKIM_PRIVATE_KEY": pem(rsa_key()), "DKIM_SELECTOR": "s"}
    for domain, warned in (("", False), ("bücher.example", False), ("mail.example.net", True)):
        with Captured() as captured:
            SmtpSender(settings_from_environ({**env, "DKIM_DOMAIN": domain}))
        lines = [line["message"] for line in captured.lines if line["level"] == "warning"]
        assert bool(lines) == warned, (domain, lines)
    assert lines == ["DKIM: the signing domain mail.example.net is neither MAIL_FROM's domain nor a parent of it: "
                     "the emails are signed, but DMARC does not count the signature"]
    signing = settings_from_environ({**env, "DKIM_DOMAIN": "example.com"}).dkim
    assert signing.aligned_with("news.example.com") and not signing.aligned_with("badexample.com")
