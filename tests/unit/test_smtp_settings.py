"""The smtp sender's settings (SMTP_URL, MAIL_FROM, ...), without a server."""

import pytest

from receiver.config import ConfigError
from receiver.senders.smtp import settings_from_environ


def test_every_problem_is_reported_at_once_naming_the_variable_and_never_the_password(tmp_path):
    with pytest.raises(ConfigError) as error:
        settings_from_environ({"SMTP_URL": "smtp://user:s3cret-pass@mail.example.com:587?starttls=maybe&pool=3",
                               "MAIL_FROM": "not an address", "MAIL_BCC": "also, not", "SMTP_TIMEOUT": "soon",
                               "SMTP_CA_FILE": str(tmp_path / "nope.pem"), "TEMPLATE_DIR": str(tmp_path / "none")})
    assert error.value.problems == [
        "SMTP_URL: ?starttls= takes auto or require",
        "SMTP_URL: unknown option 'pool' (known: starttls, verify)",
        "MAIL_FROM must be one address, e.g. Shop <reviews@example.com>",
        "MAIL_BCC must be one or more addresses, comma-separated",
        "SMTP_TIMEOUT must be a duration such as 30s or 2m",
        "SMTP_CA_FILE cannot be read as PEM certificates",
        "TEMPLATE_DIR is not a directory",
    ]
    assert "s3cret" not in str(error.value)


@pytest.mark.parametrize(("url", "problem"), [
    ("", "SMTP_URL is not set (e.g. smtp://user:password@smtp.example.com:587)"),
    ("https://mail.example.com", "SMTP_URL must start with smtp:// or smtps://"),
    ("smtp://user:pw@:25", "SMTP_URL has no host name"),
    ("smtp://mail.example.com:99999", "SMTP_URL is not a URL such as smtp://user:password@smtp.example.com:587"),
    ("smtp://jörg:pw@mail.example.com", "SMTP_URL: the user name and password must be ASCII once URL-decoded"),
    ("smtps://mail.example.com?starttls=require", "SMTP_URL: ?starttls=require is for smtp://; smtps:// is TLS from "
                                                  "the start"),
])
def test_smtp_url_problems(url, problem):
    with pytest.raises(ConfigError) as error:
        settings_from_environ({"SMTP_URL": url, "MAIL_FROM": "reviews@example.com"})
    assert error.value.problems == [problem]


def test_smtp_url_forms_and_defaults():
    plain = settings_from_environ({"SMTP_URL": "smtp://relay.internal", "MAIL_FROM": "Shop <r@example.com>"})
    assert (plain.host, plain.port, plain.implicit_tls, plain.username, plain.require_starttls, plain.verify) == (
        "relay.internal", 25, False, None, False, True)
    assert plain.business_name == "Shop" and plain.timeout == 30.0
    tls = settings_from_environ({"SMTP_URL": "smtps://a%40b.com:p%3Aw%40rd@smtp.example.com", "MAIL_FROM": "r@example.com",
                                 "TRUSTPILOT_DOMAIN": "shop.example", "BUSINESS_NAME": " Shop GmbH ", "SMTP_TIMEOUT": "2m"})
    assert (tls.port, tls.implicit_tls, tls.username, tls.password, tls.business_name, tls.timeout) == (
        465, True, "a@b.com", "p:w@rd", "Shop GmbH", 120.0)
    assert "p:w@rd" not in repr(tls)
    unnamed = settings_from_environ({"SMTP_URL": "smtp://h:2525", "MAIL_FROM": "r@example.com",
                                     "TRUSTPILOT_DOMAIN": "shop.example"})
    assert unnamed.business_name == "shop.example"
