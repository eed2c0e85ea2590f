"""Call types as Webhooks send them (issue 13 §6), over real HTTP: on /segment every type we do not use is 200
``ignored`` (Webhooks (Classic) retries every 5xx for four hours), Segment's user-deletion notice is answered 200
and acted on (tests/integration/test_erasure_by_address_key.py), and PUT and PATCH are taken like POST (Webhooks
(Actions) offers them)."""

import hashlib
import hmac
import json

import pytest
import requests

from support.data import basic_auth, fixture

SECRET = "whk-classic-test"


@pytest.fixture
def database_url(sqlite_url):
    return sqlite_url


def post(base, body, method="POST", headers=None):
    return requests.request(method, f"{base}/segment", data=json.dumps(body), timeout=10,
                            headers={"Content-Type": "application/json", **(headers or basic_auth())})


def stored(store):
    return sum(store.reports.counts().values())


def counted(base, call_type, outcome="ignored"):
    line = f'receiver_messages_total{{outcome="{outcome}",type="{call_type}"}} '
    found = [row for row in requests.get(f"{base}/metrics", timeout=5).text.splitlines() if row.startswith(line)]
    return float(found[0].split()[-1]) if found else 0.0


@pytest.mark.parametrize("call, message", [
    ("page", "Ignored: page calls make no invitation"),
    ("screen", "Ignored: screen calls make no invitation"),
    ("group", "Ignored: group calls make no invitation"),
    ("alias", "Ignored: alias calls make no invitation"),
    ("Page", "Ignored: page calls make no invitation"),
    ("purchase", "Ignored: calls of this type make no invitation"),
])
def test_every_call_type_we_do_not_use_is_200_ignored(live_app, store, call, message):
    label = call.lower() if call.lower() in ("page", "screen", "group", "alias") else "other"
    before = counted(live_app, label)
    answer = post(live_app, {"type": call, "messageId": f"{call}-1", "userId": "u-1", "name": "Home"})
    assert answer.status_code == 200
    assert answer.json() == {"status": "ignored", "message": message, "messageId": f"{call}-1"}
    assert stored(store) == 0 and counted(live_app, label) == before + 1  # an unknown type is counted as other


def test_a_user_deletion_notice_is_answered_200_and_counted(live_app, store):
    notice = {"type": "delete", "userId": "u-gone", "context": {"library": {"name": "unknown"}}}
    before = counted(live_app, "delete", "accepted")
    answer = post(live_app, notice)
    assert answer.status_code == 200 and answer.json()["status"] == "accepted"
    assert answer.json()["message"].startswith("User deleted: erased from 0 invitation(s)")
    assert answer.json()["messageId"].startswith("sha256:")
    assert counted(live_app, "delete", "accepted") == before + 1
    nobody = post(live_app, {"type": "delete", "messageId": "d-2", "anonymousId": "a-1"})
    assert nobody.status_code == 200 and nobody.json()["status"] == "ignored"


def test_a_missing_or_unreadable_type_is_still_400(live_app, store):
    for body, reason in (({"messageId": "m"}, "Missing message type"), ({"type": 3}, "Invalid message type"),
                         ({"type": ""}, "Missing message type")):
        answer = post(live_app, body)
        assert answer.status_code == 400 and answer.json()["message"] == reason


@pytest.mark.env(SEGMENT_SHARED_SECRETS=SECRET)
@pytest.mark.parametrize("method", ["PUT", "PATCH"])
def test_put_and_patch_are_taken_like_post(live_app, store, method):
    body = json.dumps(fixture("order-completed-seed.json"), separators=(",", ":")).encode()
    signed = {"X-Signature": hmac.new(SECRET.encode(), body, hashlib.sha1).hexdigest()}
    answer = requests.request(method, f"{live_app}/segment", data=body, timeout=10,
                              headers={"Content-Type": "application/json", "User-Agent": "Segment (Actions)", **signed})
    assert answer.status_code == 200 and answer.json()["status"] == "accepted" and stored(store) == 1
    batch = [fixture("order-completed-non-ascii-name.json"), fixture("identify.json")]
    answer = post(live_app, batch, method=method)
    assert answer.status_code == 200 and answer.json()["accepted"] == 1
    unsigned = post(live_app, fixture("order-completed-seed.json"), method=method, headers={"X-Signature": "0" * 40})
    assert unsigned.status_code == 401


def test_other_methods_are_405_in_json(live_app):
    for method in ("GET", "DELETE"):
        answer = requests.request(method, f"{live_app}/segment", headers=basic_auth(), timeout=5)
        assert answer.status_code == 405 and answer.json()["message"]
    assert requests.put(f"{live_app}/v1/batch", json={"batch": []}, headers=basic_auth(), timeout=5).status_code == 405
