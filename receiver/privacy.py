"""Masking personal data for logs, metrics, errors and screens."""

from __future__ import annotations


def mask_email(email: str | None) -> str:
    """``jane.doe@example.com`` -> ``j***@example.com``; anything unreadable -> ``***``."""
    if not email or "@" not in email:
        return "***"
    local, _, domain = email.rpartition("@")
    return f"{local[:1]}***@{domain}" if local else f"***@{domain}"


def mask_name(name: str | None) -> str:
    """``Jane Doe`` -> ``J***``; nothing -> ``***``."""
    text = (name or "").strip()
    return f"{text[:1]}***" if text else "***"
