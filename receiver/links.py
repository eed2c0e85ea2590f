"""The review link of an invitation: the Trustpilot country site its locale opens on, and the BGL on that host.

One ``LinkBuilder``, made from the settings, serves the worker, the console's preview and every CLI command,
so a link for one order is the same wherever it is built. Pure: no Flask, no store, no sender.

The host: a ``TRUSTPILOT_HOST`` set explicitly beats everything. Otherwise the most specific entry wins: the
locale's language-region (``de-AT``) in ``LOCALE_HOSTS`` then in the shipped table, then its language alone
(``de``) in ``LOCALE_HOSTS`` then in the table, else the default host (``www.trustpilot.com``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Protocol

from . import bgl
from .invitation import Invitation
from .text import language_and_region

MAX_LOCALE = 35  # characters of a locale looked at: a longer tag adds nothing a host could depend on

# Trustpilot's country sites, by the locale (or bare language) their pages declare as hreflang.
COUNTRY_SITES: Mapping[str, str] = MappingProxyType({
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
})


class LinkSettings(Protocol):
    """What a ``LinkBuilder`` reads from the settings (``config.TrustpilotSettings`` has it)."""

    @property
    def keys(self) -> bgl.Keys: ...

    @property
    def domain(self) -> str: ...

    @property
    def trustpilot_host(self) -> str: ...

    @property
    def force_host(self) -> bool: ...

    @property
    def locale_hosts(self) -> tuple[tuple[str, str], ...]: ...


@dataclass(frozen=True)
class LinkBuilder:
    """Keys, domain and hosts -> the link of any invitation. ``forced_host``: every link uses it."""

    keys: bgl.Keys = field(repr=False)
    domain: str
    default_host: str = bgl.DEFAULT_HOST
    forced_host: str | None = None
    locale_hosts: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}), hash=False)
    country_sites: Mapping[str, str] = field(default_factory=lambda: COUNTRY_SITES, hash=False)

    @classmethod
    def from_settings(cls, settings: LinkSettings) -> LinkBuilder:
        """``TRUSTPILOT_HOST`` is the default host, and forces every link when it was set explicitly."""
        return cls(
            keys=settings.keys,
            domain=settings.domain,
            default_host=settings.trustpilot_host,
            forced_host=settings.trustpilot_host if settings.force_host else None,
            locale_hosts=MappingProxyType(dict(settings.locale_hosts)),
        )

    def host_for(self, locale: str | None) -> str:
        """The host of the review link for a customer in ``locale`` (None or unknown: the default host)."""
        if self.forced_host:
            return self.forced_host
        if not locale or not locale.strip():
            return self.default_host
        language, specific = language_and_region(locale[:MAX_LOCALE])
        for key in (specific, language):
            if key is None:
                continue
            for table in (self.locale_hosts, self.country_sites):
                if key in table:
                    return table[key]
        return self.default_host

    def link(self, invitation: Invitation, iv_source: bgl.IvSource | None = None) -> str:
        """The review link of ``invitation``: its payload, sealed with the keys, on the host of its locale."""
        return bgl.build_link(invitation.payload(), self.keys, self.domain, host=self.host_for(invitation.locale),
                              iv_source=iv_source)
