"""The review-invitation email as rendered from the templates: languages, escaping, overrides, shipped files."""

from dataclasses import dataclass
from importlib.resources import files

import pytest

from receiver.emails import TEMPLATE_FILES, EmailTemplates, language_of, render_email
from support.servers import html_links_and_text

LINK = "https://www.trustpilot.com/evaluate-bgl/example.com?p=abc%2Bdef%3D&x=1"
SHIPPED = ("en", "de", "fr", "es", "nl", "da")


@dataclass(frozen=True)
class Order:
    name: str = "Jane Doe"
    ref: str = "A-1001"
    link: str = LINK
    locale: str | None = None


@pytest.mark.parametrize(("locale", "language", "subject"), [
    (None, "en", "How was your order from Bücherwelt?"),
    ("en-GB", "en", "How was your order from Bücherwelt?"),
    ("de-DE", "de", "Wie zufrieden sind Sie mit Ihrer Bestellung bei Bücherwelt?"),
    ("de_AT", "de", "Wie zufrieden sind Sie mit Ihrer Bestellung bei Bücherwelt?"),
    ("fr-FR", "fr", "Comment s’est passée votre commande chez Bücherwelt\u202f?"),
    ("es-ES", "es", "¿Qué tal fue su pedido en Bücherwelt?"),
    ("nl-NL", "nl", "Hoe was uw bestelling bij Bücherwelt?"),
    ("da-DK", "da", "Hvad synes du om din bestilling hos Bücherwelt?"),
    ("pt-BR", "en", "How was your order from Bücherwelt?"),
    ("not a locale", "en", "How was your order from Bücherwelt?"),
])
def test_the_locale_picks_the_language_and_english_is_the_fallback(locale, language, subject):
    email = render_email(Order(locale=locale), "Bücherwelt")
    assert (email.language, email.subject) == (language, subject)
    assert f'<html lang="{language}">' in email.html


@pytest.mark.parametrize("language", SHIPPED)
def test_every_shipped_language_has_the_name_ref_link_and_business_in_both_parts(language):
    email = render_email(Order(name="Zoë Ørsted", locale=language), "Bücherwelt")
    assert "\n" not in email.subject and "Bücherwelt" in email.subject
    for part in (email.text, email.html):
        assert "Zoë Ørsted" in part and "A-1001" in part and "Bücherwelt" in part and "Trustpilot" in part
    assert LINK in email.text.splitlines()  # on a line of its own, so every client makes it clickable
    hrefs, visible = html_links_and_text(email.html)
    assert hrefs == [LINK, LINK]  # the button, then the copy-me fallback
    assert "{{" not in email.text + email.html and "{%" not in email.text + email.html


def test_the_languages_are_really_different_texts():
    bodies = {language: render_email(Order(locale=language), "Shop").text for language in SHIPPED}
    assert len(set(bodies.values())) == len(SHIPPED)
    assert bodies["de"].startswith("Hallo Jane Doe,\n\nvielen Dank für Ihre Bestellung A-1001 bei Shop.")
    assert bodies["fr"].startswith("Bonjour Jane Doe,\n\nMerci pour votre commande A-1001 chez Shop.")
    assert bodies["es"].startswith("Hola, Jane Doe:\n\nGracias por su pedido A-1001 en Shop.")
    assert bodies["nl"].startswith("Beste Jane Doe,\n\nHartelijk dank voor uw bestelling A-1001 bij Shop.")
    assert bodies["da"].startswith("Hej Jane Doe,\n\nTak for din bestilling A-1001 hos Shop.")


def test_html_is_escaped_and_text_is_not():
    email = render_email(Order(name='O\'Brien & <b>Sons</b>', ref='R"1'), 'Tom & "Jerry"')
    assert "O&#39;Brien &amp; &lt;b&gt;Sons&lt;/b&gt;" in email.html and "<b>Sons</b>" not in email.html
    assert 'href="https://www.trustpilot.com/evaluate-bgl/example.com?p=abc%2Bdef%3D&amp;x=1"' in email.html
    assert "Tom &amp; &#34;Jerry&#34;" in email.html
    assert "O'Brien & <b>Sons</b>" in email.text and 'Tom & "Jerry"' in email.text
    hrefs, visible = html_links_and_text(email.html)
    assert hrefs[0] == LINK and "O'Brien & <b>Sons</b>" in visible


def test_a_subject_is_always_one_line(tmp_path):
    (tmp_path / "en").mkdir()
    (tmp_path / "en" / "subject.txt").write_text("Your order\n  {{ ref }}\r\nat {{ business_name }}\n")
    email = render_email(Order(), "Shop", template_dir=tmp_path)
    assert email.subject == "Your order A-1001 at Shop"


def test_template_dir_overrides_file_by_file_and_can_add_a_language(tmp_path):
    (tmp_path / "de").mkdir()
    (tmp_path / "de" / "subject.txt").write_text("Moin {{ name }}!\n")
    italian = tmp_path / "it"
    italian.mkdir()
    (italian / "subject.txt").write_text("Com'è andato il tuo ordine {{ ref }}?")
    (italian / "body.txt").write_text("Ciao {{ name }},\n{{ link }}\n")
    (italian / "body.html").write_text('{% extends "_layout.html" %}{% block content %}<p>Ciao {{ name }}</p>'
                                       "{% endblock %}{% block button %}Scrivi una recensione{% endblock %}")
    templates = EmailTemplates(tmp_path)
    assert templates.problems() == []
    assert templates.languages == {*SHIPPED, "it"}
    german = templates.render(Order(locale="de-DE"), "Shop")
    assert german.subject == "Moin Jane Doe!"
    assert german.text.startswith("Hallo Jane Doe,")  # the shipped body, as it was not overridden
    italian_email = templates.render(Order(locale="it-IT"), "Shop")
    assert italian_email.language == "it" and italian_email.subject == "Com'è andato il tuo ordine A-1001?"
    assert html_links_and_text(italian_email.html)[0] == [LINK, LINK]  # the shipped layout, with the button


def test_template_problems_name_the_file_and_line(tmp_path):
    (tmp_path / "en").mkdir()
    (tmp_path / "en" / "body.txt").write_text("Hello {{ name }},\n\n{% if %}\n")
    (tmp_path / "sv").mkdir()
    (tmp_path / "sv" / "subject.txt").write_text("Hej")
    (tmp_path / "fr").mkdir()
    (tmp_path / "fr" / "subject.txt").write_text("{{ nom }}")
    problems = EmailTemplates(tmp_path).problems()
    assert problems == [
        "TEMPLATE_DIR: sv/ lacks body.txt, body.html",
        "TEMPLATE_DIR: en/body.txt line 3: Expected an expression, got 'end of statement block'",
        "TEMPLATE_DIR: the fr templates do not render: 'nom' is undefined",
    ]
    assert EmailTemplates(tmp_path / "missing").problems() == ["TEMPLATE_DIR is not a directory"]


def test_language_of():
    assert [language_of(x) for x in ("de-DE", "DE", "pt_BR", "zh-Hant-TW", "", None, "x", "english")] == [
        "de", "de", "pt", "zh", None, None, None, None]


def test_the_templates_are_package_data():
    """Shipped inside the package (pyproject's package-data), so an installed wheel has them, not just a checkout."""
    root = files("receiver") / "templates" / "email"
    assert (root / "_layout.html").is_file()
    for language in SHIPPED:
        for name in TEMPLATE_FILES:
            assert (root / language / name).is_file(), f"{language}/{name}"
