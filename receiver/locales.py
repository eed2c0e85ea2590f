"""Locale -> the Trustpilot country site a review link opens on (``de-DE`` -> ``de.trustpilot.com``).

Pure: a locale and the settings in, a host name out. The most specific entry wins: the whole
locale (``de-AT``) in ``LOCALE_HOSTS`` then in the shipped table, then its language alone (``de``)
in ``LOCALE_HOSTS`` then in the table, else the default host (``www.trustpilot.com``).
A ``TRUSTPILOT_HOST`` set explicitly beats all of them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from . import bgl
from .config import TrustpilotSettings, normal_locale
from .invitation import link_payload

# Trustpilot's country sites, by the locale (or bare language) their pages declare as hreflang.
COUNTRY_SITES: Mapping[str, str] = {
    "en": "www.trustpilot.com",
    "en-US": "www.trustpilot.com",
    "en-GB": "uk.trustpilot.com",
    "en-IE": "ie.trustpilot.com",
    "en-CA": "ca.trustpilot.com",
    "en-AU": "au.trustpilot.com",
    "en-NZ": "nz.trustpilot.com",
    "da": "dk.trustpilot.com",
    "de": "de.trustpilot.com",
    "de-AT": "at.trustpilot.com",
    "de-CH": "ch.trustpilot.com",
    "es": "es.trustpilot.com",
    "fi": "fi.trustpilot.com",
    "fr": "fr.trustpilot.com",
    "fr-BE": "fr-be.trustpilot.com",
    "it": "it.trustpilot.com",
    "ja": "jp.trustpilot.com",
    "nb": "no.trustpilot.com",
    "nn": "no.trustpilot.com",
    "no": "no.trustpilot.com",
    "nl": "nl.trustpilot.com",
    "nl-BE": "nl-be.trustpilot.com",
    "pl": "pl.trustpilot.com",
    "pt": "pt.trustpilot.com",
    "pt-BR": "br.trustpilot.com",
    "sv": "se.trustpilot.com",
}


def _language_and_region(locale: str) -> tuple[str, str | None]:
    """``zh-Hant-TW`` -> (``zh``, ``zh-TW``): the language, and language-region when there is a region."""
    parts = normal_locale(locale).split("-")
    region = next((part for part in parts[1:] if len(part) == 2 or (len(part) == 3 and part.isdigit())), None)
    return parts[0], f"{parts[0]}-{region}" if region else None


def host_for(locale: str | None, settings: TrustpilotSettings) -> str:
    """The host of the review link for a customer in ``locale`` (None or unknown: the default host)."""
    if settings.force_host or not locale or not locale.strip():
        return settings.trustpilot_host
    overrides = dict(settings.locale_hosts)
    language, specific = _language_and_region(locale[:35])
    for key in (specific, language):
        if key is None:
            continue
        for table in (overrides, COUNTRY_SITES):
            if key in table:
                return table[key]
    return settings.trustpilot_host


def invitation_link(
    email: str, name: str, ref: str, skus: Iterable[str], tags: Iterable[str], locale: str | None,
    settings: TrustpilotSettings, iv_source: bgl.IvSource | None = None,
) -> str:
    """The review link of one invitation: its payload, the configured keys and domain, the host of its locale."""
    payload = link_payload(email, name, ref, skus, tags)
    return bgl.build_link(payload, settings.keys, settings.domain, host=host_for(locale, settings), iv_source=iv_source)
