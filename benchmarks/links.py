"""Part 1, link building: ``receiver.bgl.build_link`` against Trustpilot's reference encryptor, on the same
payloads, in one process, in alternating rounds, after checking that both make the same links."""

from __future__ import annotations

import base64
import json
import os
import statistics
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from receiver import bgl

from .harness import DOMAIN, alternating, ratio, seconds_per_item
from .report import Report

REFERENCE_PACKAGE = "trustpilot-authenticated-encryption==1.1.0"
# The reference pins pycryptodome==3.6.6, which no longer imports on Python 3.11 (``0xffffffffL``) and which no
# resolver can pair with a current one: the `bench` extra brings a current pycryptodome (its encrypt() only uses
# AES.new(key, MODE_CBC) and Padding.pad, unchanged since), and the reference goes in beside it with --no-deps.
REFERENCE_SETUP = f".venv/bin/pip install -e '.[bench]' && .venv/bin/pip install --no-deps '{REFERENCE_PACKAGE}'"


def reference_encryptor() -> tuple[Any | None, str]:
    """Trustpilot's reference ``encryption`` module, or None and why it cannot be used (never installs it)."""
    try:
        from trustpilot_authenticated_encryption import encryption
    except ImportError as exc:
        return None, (f"Trustpilot's reference encryptor cannot be imported ({type(exc).__name__}: {exc}); "
                      f"install the `bench` extra and the reference beside it: `{REFERENCE_SETUP}`")
    except SyntaxError:
        return None, ("Trustpilot's reference encryptor came with its pinned pycryptodome 3.6.6, which does not "
                      f"import on this Python; install the `bench` extra over it: `{REFERENCE_SETUP}`")
    return encryption, ""


def link_payloads(count: int) -> list[dict[str, Any]]:
    names = ["Jane Roe", "Jürgen Müller", "Søren Kierkegaard", "Zoë Ødegaard", "John Johnson"]
    return [{"email": f"customer{n}@example.com", "name": names[n % len(names)], "ref": f"ORDER-{n:08d}",
             "skus": [f"SKU-{n}-{k}" for k in range(n % 4)], "tags": ["segment", f"store_{n % 7}"][: 1 + n % 2]}
            for n in range(count)]


def bench_links(report: Report, quick: bool) -> None:
    print("1. link building: ours (receiver.bgl.build_link) against Trustpilot's reference encryptor", flush=True)
    encryption, problem = reference_encryptor()
    if encryption is None:
        report.note(f"link building skipped: {problem}")
        return
    encrypt_b64 = base64.b64encode(os.urandom(32)).decode()
    auth_b64 = base64.b64encode(os.urandom(32)).decode()
    keys = bgl.Keys.from_base64(encrypt_b64, auth_b64)
    payloads = link_payloads(500 if quick else 2000)

    def ours(payload: dict[str, Any]) -> str:
        return bgl.build_link(payload, keys, DOMAIN)

    def reference(payload: dict[str, Any]) -> str:
        # as Trustpilot's documentation builds a BGL with it: JSON, encrypt, URL-encode into ?p=
        token = encryption.encrypt(json.dumps(payload).encode("utf-8"), encrypt_b64, auth_b64).decode("ascii")
        return f"https://www.trustpilot.com/evaluate-bgl/{DOMAIN}?p={quote(token, safe='')}"

    for payload in payloads:  # both must make links that decode (with our decoder) to the same payload
        if bgl.decode(ours(payload), keys) != payload or bgl.decode(reference(payload), keys) != payload:
            raise RuntimeError("the two encryptors disagree on a payload: not timing them")
    report.note(f"link building: all {len(payloads)} payloads checked: both links decode to the same payload")

    def timed(build: Callable[[dict[str, Any]], str]) -> Callable[[], float]:
        def build_all() -> None:
            for payload in payloads:
                build(payload)

        return lambda: seconds_per_item(build_all, len(payloads))

    ours_times, reference_times = alternating(5 if quick else 15, timed(ours), timed(reference))
    ours_s, reference_s = statistics.median(ours_times), statistics.median(reference_times)
    value = ratio(ours_s, reference_s)
    report.add("link", "time per link (median of rounds)", f"{ours_s * 1e6:.1f} µs", f"{reference_s * 1e6:.1f} µs",
               f"{value:.2f}", "ours ≤ 1.0 × reference", value <= 1.0)
