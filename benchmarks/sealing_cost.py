"""What sealing costs on the intake path: µs per message for the store's writes of one order (``outbox.add``) and
one identify call (``traits.remember``), sealed as the receiver does it and with sealing taken out, on SQLite (a
temporary file) and on PostgreSQL (``--postgres URL``, a database of your own: its tables are created there).

    .venv/bin/python -m benchmarks.sealing_cost [--postgres postgresql://postgres@127.0.0.1:5432/bench] [-n 2000]

A quick in-process timing, printed; not part of ``python -m benchmarks``."""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from receiver.invitation import Invitation
from receiver.store import Keyring, NewInvitation, Store, TraitUpdate
from receiver.store.sealed import Sealer

DATA_KEY = b"sealing benchmark data key 32 b!"


class _Unsealed(Keyring):
    """Seals nothing: what the store wrote before sealing."""

    def __init__(self) -> None:
        super().__init__({})

    def seal(self, subject: str, text: str | None) -> str | None:
        return text

    def seal_value(self, subject: str, value: Any) -> Any:
        return value


def _unsealed(store: Store) -> None:
    def keyring(*_args: Any, **_kwargs: Any) -> Keyring:
        return _Unsealed()

    for part in (store.outbox, store.traits, store.waiting):
        part.sealer = _NoKeys(store.sealer, keyring)


class _NoKeys:
    def __init__(self, sealer: Sealer, keyring: Callable[..., Keyring]):
        self._sealer, self.keyring = sealer, keyring

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sealer, name)


def _per_message(run: Callable[[int], None], count: int) -> float:
    """Median µs of this process's CPU time for ``run`` over ``count`` calls (after a warm-up): on a shared machine
    the wall clock mostly measures the other processes; the database server's own time is not in it."""
    for number in range(20):
        run(-1 - number)
    times = []
    for number in range(count):
        start = time.process_time()
        run(number)
        times.append(time.process_time() - start)
    return statistics.median(times) * 1e6


def measure(url: str, count: int, *, sealed: bool, tag: str) -> tuple[float, float]:
    store = Store(url, data_key=DATA_KEY)
    store.upgrade()
    if not sealed:
        _unsealed(store)
    now = datetime(2026, 12, 1, tzinfo=UTC)

    def order(number: int) -> None:
        invitation = Invitation(message_id=f"{tag}-m-{number}", email=f"customer.{tag}.{number}@example.com",
                                name="Jörg Müller", ref=f"{tag}-r-{number}")
        store.outbox.add([NewInvitation(invitation)], domain="example.com", now=now)

    def identify(number: int) -> None:
        traits = {"email": f"customer.{tag}.{number}@example.com", "first_name": "Jörg", "last_name": "Müller"}
        store.traits.remember([TraitUpdate(f"user:{tag}-{number}", traits, now + timedelta(seconds=number),
                                           f"{tag}-{number}")], now=now)

    try:
        return _per_message(order, count), _per_message(identify, count)
    finally:
        store.close()


def seal_only(count: int) -> float:
    """µs to seal one invitation's email and name with a key at hand (the AES-GCM work alone)."""
    keys = Keyring({"a" * 64: b"k" * 32})

    def run(_number: int) -> None:
        keys.seal("a" * 64, "customer@example.com")
        keys.seal("a" * 64, "Jörg Müller")

    return _per_message(run, count)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postgres", help="a PostgreSQL URL of your own (postgresql+psycopg://...)")
    parser.add_argument("-n", type=int, default=2000, help="messages per measurement")
    options = parser.parse_args()
    print(f"AES-256-GCM of an email and a name, key at hand: {seal_only(options.n):.1f} µs")
    with tempfile.TemporaryDirectory() as folder:
        databases = [("SQLite", f"sqlite:///{Path(folder) / 'bench.db'}")]
        if options.postgres:
            databases.append(("PostgreSQL", options.postgres.replace("postgresql://", "postgresql+psycopg://", 1)))
        for name, url in databases:
            stamp = str(time.time_ns())
            rounds = [(measure(url, options.n, sealed=False, tag=f"p{stamp}{turn}"),
                       measure(url, options.n, sealed=True, tag=f"s{stamp}{turn}")) for turn in range(3)]
            plain = tuple(statistics.median(one[0][index] for one in rounds) for index in (0, 1))
            sealed = tuple(statistics.median(one[1][index] for one in rounds) for index in (0, 1))
            for what, before, after in (("order (outbox.add)", plain[0], sealed[0]),
                                        ("identify (traits.remember)", plain[1], sealed[1])):
                print(f"{name:10} {what:28} unsealed {before:7.1f} µs  sealed {after:7.1f} µs  "
                      f"cost {after - before:+7.1f} µs of CPU per message (a new customer)")


if __name__ == "__main__":
    main()
