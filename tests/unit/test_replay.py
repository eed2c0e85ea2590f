"""The pieces of ``receiver replay`` (the command itself is tested in tests/integration/test_replay_command.py)."""

from collections import Counter

from receiver.replay import count, describe, fixture_files, replay_url, summary
from support.data import FIXTURES


def test_describe_one_message_a_batch_and_what_is_not_json():
    assert describe(200, {"status": "accepted", "message": "Invitation stored"}) == ("accepted", "Invitation stored")
    assert describe(401, {"message": "Wrong API key"}) == ("unauthorised", "Wrong API key")
    assert describe(400, {"message": "bad"}) == ("rejected", "bad")
    assert describe(501, {"status": "ignored", "message": "no"}) == ("unsupported", "no")
    assert describe(502, None) == ("error", "HTTP 502")
    batch = {"received": 3, "accepted": 2, "duplicate": 0, "rejected": 1}
    assert describe(200, batch) == ("batch", "2 accepted, 1 rejected")
    assert describe(200, {"received": 0}) == ("batch", "empty")


def test_the_summary_adds_batches_by_their_counts():
    totals = Counter()
    count(totals, "accepted", {})
    count(totals, "batch", {"received": 3, "accepted": 2, "ignored": 1})
    count(totals, "unsupported", {})
    assert summary(totals) == "summary: 3 accepted, 1 ignored, 1 unsupported"
    assert summary(Counter()) == "summary: nothing"


def test_a_bare_address_means_its_segment_endpoint():
    assert replay_url("http://127.0.0.1:8000") == "http://127.0.0.1:8000/segment"
    assert replay_url("http://127.0.0.1:8000/") == "http://127.0.0.1:8000/segment"
    assert replay_url("http://host/v1/batch") == "http://host/v1/batch"


def test_folders_are_walked_for_json_and_gzipped_json_in_order(tmp_path):
    (tmp_path / "b.json").write_text("{}")
    (tmp_path / "notes.txt").write_text("")
    (tmp_path / "inner").mkdir()
    (tmp_path / "inner" / "a.json.gz").write_bytes(b"")
    single = FIXTURES / "order-completed-seed.json"
    found = list(fixture_files((str(tmp_path), str(single))))
    assert found == [tmp_path / "b.json", tmp_path / "inner" / "a.json.gz", single]
