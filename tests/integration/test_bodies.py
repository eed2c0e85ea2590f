"""Every body shape on POST /segment, over real HTTP: one message, arrays, {"batch": [...]}, gzip; batch semantics."""

import gzip
import json

import pytest
import requests

from support.data import FIXTURES, basic_auth, fixture

MAX_BATCH = 4000  # the default MAX_BATCH setting

DIALECTS = FIXTURES / "dialects"


def post(base, body=None, raw=None, headers=None):
    data = raw if raw is not None else json.dumps(body).encode()
    return requests.post(f"{base}/segment", data=data, timeout=10,
                         headers={**basic_auth(), "Content-Type": "application/json", **(headers or {})})


def order(number: int, **properties):
    message = fixture("order-completed-seed.json")  # parsed afresh: a copy of its own
    message["messageId"] = f"m-{number}"
    message["properties"].update({"order_id": f"O-{number}", **properties})
    return message


@pytest.mark.env(EMAIL_WAIT="0")  # a missing email is rejected at once, not waited for
def test_an_actions_batch_keeps_the_good_messages_and_lists_the_bad(live_app, store):
    body = json.loads((DIALECTS / "actions-batch.json").read_text())
    response = post(live_app, body)
    assert response.status_code == 200
    assert response.json() == {
        "message": "Batch processed", "received": 4, "accepted": 2, "waiting": 0, "duplicate": 0, "suppressed": 0,
        "ignored": 1, "rejected": 1,
        "errors": [{"index": 3, "messageId": "actions-7d1f2a3b-0004", "reason": "Missing email address"}],
    }
    assert store.reports.find(message_id="actions-7d1f2a3b-0001").ref == "UK-5001"
    assert store.reports.find(message_id="actions-7d1f2a3b-0002").name == "Léa Martin"
    assert sum(store.reports.counts().values()) == 2
    again = post(live_app, body)  # Segment retries the whole batch: nothing new
    assert again.json()["duplicate"] == 2 and sum(store.reports.counts().values()) == 2


def test_a_v1_batch_body_on_the_destination_endpoint(live_app, store):
    body = json.loads((DIALECTS / "v1-batch.json").read_text())
    response = post(live_app, body)
    assert response.status_code == 200
    assert (response.json()["accepted"], response.json()["ignored"]) == (1, 2)
    row = store.reports.find(message_id="sdk-5f0e6a2c-0002")
    # the order carries no email: the identify call just before it in the batch does
    assert (row.email, row.name, row.locale) == ("max.mustermann@example.de", "Max Mustermann", "de-DE")


def test_the_batch_envelope_context_and_integrations_apply_to_each_message(live_app, store):
    first, second, third = order(1), order(2), order(3)
    for message in (first, second, third):
        del message["context"]
    second["context"] = {"locale": "fr-FR"}
    third["integrations"] = {"Trustpilot": True}
    body = {"batch": [first, second, third], "context": {"locale": "de-DE"}, "integrations": {"Trustpilot": False},
            "sentAt": "2026-11-21T09:30:00.120Z"}
    response = post(live_app, body)
    assert (response.json()["accepted"], response.json()["ignored"]) == (1, 2)
    assert store.reports.find(message_id="m-3").locale == "de-DE"  # shared context; its own integrations win


def test_a_gzip_body(live_app, store):
    raw = (DIALECTS / "order-completed-gzip.json.gz").read_bytes()
    response = post(live_app, raw=raw, headers={"Content-Encoding": "gzip"})
    assert response.status_code == 200 and response.json()["status"] == "accepted"
    assert store.reports.find(message_id="gzip-2b4c6d8e-0001").ref == "NL-7001"
    batch = gzip.compress(json.dumps([order(1), order(2)]).encode())
    assert post(live_app, raw=batch, headers={"Content-Encoding": "x-gzip"}).json()["accepted"] == 2


def test_the_decompressed_size_is_capped(app, live_app, store):
    app.config["MAX_DECOMPRESSED"] = 4096
    bomb = gzip.compress(json.dumps([order(i) for i in range(40)]).encode())  # far more than 4096 bytes inflated
    assert len(bomb) < 4096
    response = post(live_app, raw=bomb, headers={"Content-Encoding": "gzip"})
    assert response.status_code == 413
    assert response.json() == {"message": "The decompressed body is larger than 4096 bytes"}
    assert sum(store.reports.counts().values()) == 0
    brotli = post(live_app, raw=b"x", headers={"Content-Encoding": "br"})
    assert brotli.status_code == 415


@pytest.mark.parametrize("shape", ["array", "envelope"])
def test_a_full_batch_is_taken_and_one_more_is_refused(live_app, store, shape):
    def wrap(messages):
        return messages if shape == "array" else {"batch": messages}

    viewed = [{"type": "track", "event": "Product Viewed", "messageId": f"v-{i}"} for i in range(MAX_BATCH + 1)]
    refused = post(live_app, wrap(viewed))
    assert refused.status_code == 413 and refused.json() == {"message": "A batch holds at most 4000 messages"}
    full = post(live_app, wrap([*viewed[:MAX_BATCH - 10], *(order(i) for i in range(10))]))
    assert full.status_code == 200 and (full.json()["accepted"], full.json()["ignored"]) == (10, MAX_BATCH - 10)
    assert sum(store.reports.counts().values()) == 10


@pytest.mark.both_databases
def test_a_batch_of_4000_orders_is_stored_in_one_go(live_app, store):
    """Webhooks (Actions) batches up to 4000 events: all of them orders must fit one insert on both databases."""
    response = post(live_app, [order(i) for i in range(MAX_BATCH)])
    assert response.status_code == 200 and response.json()["accepted"] == MAX_BATCH
    assert store.reports.counts()["pending"] == MAX_BATCH


@pytest.mark.env(EMAIL_WAIT="0")
def test_only_a_batch_where_nothing_is_accepted_is_a_400(live_app, store):
    bad = [order(1, email=""), 42, {"type": 7, "messageId": "x-1"}, order(2, order_id=None)]
    response = post(live_app, bad)
    assert response.status_code == 400
    assert response.json()["message"] == "No message in the batch could be accepted"
    assert response.json()["errors"] == [
        {"index": 0, "messageId": "m-1", "reason": "Missing email address"},
        {"index": 1, "messageId": None, "reason": "A message must be a JSON object"},
        {"index": 2, "messageId": "x-1", "reason": "Invalid message type"},
        {"index": 3, "messageId": "m-2", "reason": "Missing order_id"},
    ]
    assert sum(store.reports.counts().values()) == 0
    one_good = post(live_app, [*bad, order(3)])
    assert one_good.status_code == 200 and one_good.json()["accepted"] == 1 and one_good.json()["rejected"] == 4


def test_a_batch_of_only_ignored_messages_is_fine_and_an_empty_one_is_not(live_app, store):
    ignored = post(live_app, [fixture("page.json"), fixture("track-product-viewed.json")])
    assert ignored.status_code == 200 and ignored.json()["ignored"] == 2
    empty = post(live_app, {"batch": []})
    assert empty.status_code == 400 and empty.json() == {"message": "The batch is empty"}


def test_the_same_order_twice_in_one_batch(live_app, store):
    response = post(live_app, [order(1), order(1), {**order(1), "messageId": "retry-with-a-new-id"}])
    assert (response.json()["accepted"], response.json()["duplicate"]) == (1, 2)
