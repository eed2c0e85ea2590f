"""Issue 17, point 4: the address validated is the address mailed (``text.valid_email``, by ``email-validator``)."""

import pytest

from receiver.text import valid_email

# Local parts that would need quoting, display names, comments, IP literals and odd domains: every one is refused,
# so no sender can be made to re-parse it into another mailbox.
HOSTILE = [
    "root,jane@example.com",
    "foo<bar@evil.example",
    "Jane <jane@example.com>",
    'a"b@x.com',
    '"a b"@x.com',
    "(c)a@x.com",
    "a(c)@x.com",
    "a;b@x.com",
    "a:b@x.com",
    "a>b@x.com",
    "a\\b@x.com",
    "a@[127.0.0.1]",
    "a@exa\u2028mple.com",
    "a@-x.com",
    "a@x-.com",
    "a@xn--.com",
    "a@x..com",
    "a\ud800@x.com",
    "a@x\udfff.com",
    "a\x00@x.com",
    "a\r\nRCPT TO:<b@evil.example>@x.com",
    "a@localhost",
    "a@example.test",
]


@pytest.mark.parametrize("address", HOSTILE)
def test_an_address_a_sender_would_reparse_is_refused(address):
    assert valid_email(address) is None


@pytest.mark.parametrize("address, stored", [
    ("Jane.Doe+shop@Example.COM", "Jane.Doe+shop@example.com"),
    ("jürgen@BÜCHER.de", "jürgen@xn--bcher-kva.de"),
    ("x@ＥＸＡＭＰＬＥ.com", "x@example.com"),  # full-width letters: NFKC, as IDNA reads a domain
    ("  jane@example.com\t", "jane@example.com"),
])
def test_the_domain_is_stored_in_idna_form(address, stored):
    assert valid_email(address) == stored
    assert valid_email(stored) == stored
