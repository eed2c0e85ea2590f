"""``RecentKeys``: the keys a process sealed with lately, bounded in number and in age (an injected clock)."""

from receiver.store.sealed import RecentKeys


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_key_is_kept_for_its_time_and_no_longer() -> None:
    clock = Clock()
    recent = RecentKeys(size=10, seconds=300, clock=clock)
    recent.put({"a": b"1"})
    clock.now += 299.9
    assert recent.get("a") == b"1"
    clock.now += 0.1
    assert recent.get("a") is None
    assert recent.get("a") is None  # gone, not just hidden


def test_putting_a_key_again_restarts_its_time() -> None:
    clock = Clock()
    recent = RecentKeys(size=10, seconds=300, clock=clock)
    recent.put({"a": b"1"})
    clock.now += 200
    recent.put({"a": b"2"})
    clock.now += 200
    assert recent.get("a") == b"2"


def test_the_least_recently_used_goes_first() -> None:
    recent = RecentKeys(size=2, seconds=300, clock=Clock())
    recent.put({"a": b"1", "b": b"2"})
    assert recent.get("a") == b"1"  # now b is the least recently used
    recent.put({"c": b"3"})
    assert (recent.get("a"), recent.get("b"), recent.get("c")) == (b"1", None, b"3")


def test_dropped_keys_are_gone() -> None:
    recent = RecentKeys(size=10, seconds=300, clock=Clock())
    recent.put({"a": b"1", "b": b"2"})
    recent.drop(["a", "unknown"])
    assert (recent.get("a"), recent.get("b")) == (None, b"2")
