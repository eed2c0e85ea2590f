"""The shared text rules (``receiver.text``): email addresses, host names, locales, free text as a field."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from receiver.text import (
    MAX_EMAIL,
    MAX_TAG,
    clean_text,
    has_letter,
    is_absent,
    is_domain,
    is_locale,
    language_and_region,
    language_of,
    normal_locale,
    parse_locale,
    sanitise_tag,
    unique,
    valid_email,
)

LOCALE_LIKE = st.text(alphabet="abcdefghDEFGHz019-_.@ ", max_size=16)
# Locale tags as the pattern accepts them, (language, tag): a language, then up to three subtags.
LOCALES = st.builds(
    lambda language, subtags, separator: (language, separator.join([language, *subtags])),
    st.text(alphabet="abcdefghijklmnopqrstuvwxyzABCDEZ", min_size=2, max_size=3),
    st.lists(st.text(alphabet="abcdeHIJKL0123456789", min_size=2, max_size=8), max_size=3),
    st.sampled_from(["-", "_"]),
)


# -- email addresses --------------------------------------------------------------------------------

@pytest.mark.parametrize("value, email", [
    ("jane@example.com", "jane@example.com"),
    ("  jane@example.com\n", "jane@example.com"),
    ("Jane.Doe+shop@Example.COM", "Jane.Doe+shop@example.com"),  # local part as sent: the mailbox may care about case
    ("jürgen@bücher.de", "jürgen@xn--bcher-kva.de"),  # the domain as the envelope writes it: IDNA
    ("a@b.co", "a@b.co"),
    ("not-an-email", None),
    ("a b@c.com", None),
    ("a@localhost", None),
    ("a@@b.co", None),
    ("a\x00@b.co", None),
    ("x" * 65 + "@b.co", None),  # a local part over 64 characters
    ("x" * 64 + "@" + "b" * (MAX_EMAIL - 67) + ".co", None),  # 255 characters
    ("", None),
    (42, None),
    (None, None),
    (["a@b.co"], None),
])
def test_valid_email(value, email):
    assert valid_email(value) == email


def test_an_address_of_exactly_the_longest_length_is_valid():
    longest = "x" * 64 + "@" + "b" * 63 + "." + "b" * 63 + "." + "b" * (MAX_EMAIL - 64 - 1 - 128 - 3) + ".co"  # labels <= 63
    assert len(longest) == MAX_EMAIL and valid_email(longest) == longest


@given(st.text(max_size=80) | st.emails())
def test_a_valid_email_is_stable_and_bounded(value):
    email = valid_email(value)
    if email is not None:
        assert valid_email(email) == email  # checking twice changes nothing
        assert email == email.strip() and len(email) <= MAX_EMAIL and email.count("@") == 1


@given(st.emails())
def test_ordinary_addresses_are_valid(email):
    if len(email) <= MAX_EMAIL and len(email.partition("@")[0]) <= 64 and "." in email.partition("@")[2]:
        local, _, domain = email.rpartition("@")
        assert valid_email(email) == f"{local}@{domain.lower()}"


# -- host names -------------------------------------------------------------------------------------

@pytest.mark.parametrize("value, ok", [
    ("example.com", True), ("de.trustpilot.com", True), ("fr-be.trustpilot.com", True), ("bücher.de", True),
    ("localhost", False), ("https://example.com", False), ("example.com/", False), ("example.com:443", False),
    ("-bad.com", False), ("", False), ("a." * 130 + "com", False),
])
def test_is_domain(value, ok):
    assert is_domain(value) is ok


# -- locales ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("value, parsed", [
    ("de-DE", "de-DE"), ("en_GB", "en-GB"), (" fr ", "fr"), ("zh-Hant-TW", "zh-Hant-TW"), ("DE-de", "de-DE"),
    ("zh_hant_tw", "zh-Hant-TW"), ("es-419", "es-419"), ("sr-Latn", "sr-Latn"), ("nb-NO", "nb-NO"),
    ("en-US-posix-1996", "en-US"),  # variants read past
    ("de-DE-u-co-phonebk", "de-DE"), ("ja-JP-u-ca-japanese-x-shop", "ja-JP"), ("de-CH-1996-x-a", "de-CH"),
    ("zh-yue-HK", "zh-HK"),  # an extended language read past
    ("de_DE.UTF-8@euro", "de-DE"),  # a POSIX locale
    ("en-US-posix-1996-abc", None),  # "abc" can be no subtag there
    ("de-DE-u", None), ("de-DE-x", None), ("de--DE", None), ("de-DE-", None),
    ("x", None), ("x" * 80, None), ("de-DE-" + "x" * 80, None), ("de DE", None), ("12", None), ("C", None),
    ("", None), (None, None), (5, None), (["de-DE"], None),
])
def test_parse_locale_reads_bcp_47(value, parsed):
    assert parse_locale(value) == parsed


@pytest.mark.parametrize("value, normal", [
    ("de_de", "de-DE"), ("DE-de", "de-DE"), ("NL", "nl"), ("zh_hant_tw", "zh-Hant-TW"), ("es-419", "es-419"),
    ("en-us-POSIX", "en-US-posix"), ("de_DE.UTF-8@euro", "de-DE"), (" de - de ", "de-DE"), ("", ""), ("  ", ""),
    ("-_-", ""),
])
def test_normal_locale(value, normal):
    assert normal_locale(value) == normal


@given(LOCALE_LIKE | st.text(max_size=40))
def test_normalising_twice_changes_nothing(value):
    assert normal_locale(normal_locale(value)) == normal_locale(value)


@given(LOCALES)
def test_a_normalised_locale_is_still_a_locale(generated):
    value = generated[1]
    assert is_locale(value) and is_locale(normal_locale(value))


@given(LOCALE_LIKE | st.text(max_size=40) | LOCALES.map(lambda generated: generated[1]))
def test_a_parsed_locale_parses_to_itself_and_keeps_its_language(value):
    parsed = parse_locale(value)
    if parsed is not None:
        assert parse_locale(parsed) == parsed and is_locale(parsed)
        assert language_of(parsed) == language_of(value) == language_and_region(value)[0]


@pytest.mark.parametrize("value, expected", [
    ("de-DE", ("de", "de-DE")), ("de_at", ("de", "de-AT")), ("zh-Hant-TW", ("zh", "zh-TW")),
    ("es-419", ("es", "es-419")), ("de", ("de", None)), ("sr-Latn", ("sr", None)), ("en_GB.UTF-8", ("en", "en-GB")),
])
def test_language_and_region(value, expected):
    assert language_and_region(value) == expected


@pytest.mark.parametrize("value, language", [
    ("de-DE", "de"), ("DE", "de"), ("pt_BR", "pt"), ("zh-Hant-TW", "zh"), ("de_DE.UTF-8", "de"), ("fil", "fil"),
    ("", None), (None, None), ("x", None), ("english", None), ("12-DE", None),
])
def test_language_of(value, language):
    assert language_of(value) == language


@given(LOCALE_LIKE | st.text(max_size=40))
def test_the_email_language_and_the_host_language_agree(value):
    """One parser: the language that picks the email's templates is the one that picks the link's host."""
    language = language_of(value)
    if language is not None:
        assert language_and_region(value)[0] == language == normal_locale(value).split("-")[0]


@given(LOCALES)
def test_every_plausible_locale_has_its_language(generated):
    language, value = generated
    assert language_of(value) == language_and_region(value)[0] == language.lower()


# -- free text as a field ---------------------------------------------------------------------------

@pytest.mark.parametrize("value, limit, text", [
    ("  Jane \t\n Doe ", 200, "Jane Doe"), ("Bad\x07Name", 200, "Bad Name"), ("A\x00-1", 200, "A -1"),
    (100045, 200, "100045"), (12.0, 200, "12"), (1.5, 200, "1.5"), ("abcdef", 3, "abc"),
    (None, 200, ""), (True, 200, ""), ({"a": 1}, 200, ""), (["a"], 200, ""),
])
def test_clean_text(value, limit, text):
    assert clean_text(value, limit) == text


@given(st.text(max_size=120), st.integers(min_value=0, max_value=150))
def test_clean_text_has_no_control_characters_no_runs_of_space_and_is_bounded(value, limit):
    text = clean_text(value, limit)
    assert len(text) <= limit
    assert not any(ord(char) < 0x20 or ord(char) == 0x7F for char in text)
    assert "  " not in text and text == text.lstrip()


@given(st.text(max_size=120))
def test_cleaning_twice_changes_nothing(value):
    assert clean_text(clean_text(value, 1000), 1000) == clean_text(value, 1000)


@pytest.mark.parametrize("value, tag", [
    ("  a \t b\n", "a_b"), ("summer sale", "summer_sale"), ("x\x00y", "xy"), ("t" * 100, "t" * MAX_TAG), ("   ", ""),
])
def test_sanitise_tag(value, tag):
    assert sanitise_tag(value) == tag


@given(st.text(max_size=100))
def test_a_sanitised_tag_is_stable(tag):
    clean = sanitise_tag(tag)
    assert sanitise_tag(clean) == clean and len(clean) <= MAX_TAG and not any(char.isspace() for char in clean)


@given(st.lists(st.sampled_from(["", "a", "b", "c", "dd"]), max_size=12))
def test_unique_keeps_the_first_of_each_in_order_without_blanks(items):
    result = unique(items)
    assert list(result) == [item for index, item in enumerate(items) if item and item not in items[:index]]
    assert unique(result) == result


# -- values that say nothing ------------------------------------------------------------------------

@pytest.mark.parametrize("value, absent", [
    (None, True), ("", True), ("  ", True), ("undefined", True), ("NULL", True), (" None ", True), ("N/A", True),
    ("n/a", True), ("null@example.com", False), ("0", False), (0, False), (False, False), ("na", False), ([], False),
])
def test_is_absent(value, absent):
    assert is_absent(value) is absent


@pytest.mark.parametrize("text, letter", [("Jürgen", True), ("李", True), ("#1002", False), ("12345", False),
                                          ("", False), ("R2-D2", True)])
def test_has_letter(text, letter):
    assert has_letter(text) is letter
