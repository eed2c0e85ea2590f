"""Segment's HTTP Tracking API (/v1/*), over real HTTP, and Segment's own Python SDK pointed at a live receiver."""

import json

import pytest
import requests
from segment.analytics import Client
from segment.analytics.request import APIError

from receiver.bgl import Keys, decode
from support.data import API_KEY, FIXTURES, basic_auth, fixture
from support.workers import worker_for

CALLS = ["track", "identify", "page", "screen", "group", "alias"]


def post(base, path, body, headers=None):
    return requests.post(f"{base}{path}", data=json.dumps(body), timeout=5,
                         headers={**basic_auth(), "Content-Type": "application/json", **(headers or {})})


def order_properties(number: int, **extra):
    return {"order_id": f"SDK-{number}", "email": f"buyer{number}@example.com", "name": "Buyer", "surname": str(number),
            "products": [{"product_id": f"p-{number}", "sku": f"SKU-{number}"}], **extra}


def test_the_track_endpoint_takes_a_message_without_its_type(live_app, store):
    body = fixture("order-completed-seed.json")
    del body["type"]
    response = post(live_app, "/v1/track", body)
    assert response.status_code == 200
    assert response.json()["success"] is True and response.json()["accepted"] == 1
    assert store.reports.find(message_id=body["messageId"]).ref == "50314b8e9bcf000000000000"


def test_the_path_says_the_call_type(live_app, store):
    body = {**fixture("order-completed-seed.json"), "type": "identify"}
    assert post(live_app, "/v1/track", body).json()["accepted"] == 1


@pytest.mark.parametrize("call", CALLS[1:])
def test_calls_we_do_not_use_are_accepted_and_ignored(live_app, store, call):
    body = {"userId": "u-1", "messageId": f"{call}-1", "traits": {"plan": "pro"}, "groupId": "g-1",
            "previousId": "u-0", "name": "Home"}
    response = post(live_app, f"/v1/{call}", body)
    assert response.status_code == 200
    assert response.json() == {"success": True, "received": 1, "accepted": 0, "waiting": 0, "duplicate": 0, "suppressed": 0,
                               "ignored": 1, "rejected": 0, "errors": []}
    assert sum(store.reports.counts().values()) == 0


def test_the_batch_endpoint_and_what_it_answers_for_messages_we_cannot_use(live_app, store):
    body = json.loads((FIXTURES / "dialects" / "v1-batch.json").read_text())
    body["batch"].append({"type": "track", "event": "Order Completed", "messageId": "no-email",
                          "properties": {"order_id": "X-1"}})
    response = post(live_app, "/v1/batch", body)
    # like Segment's own API: 200 for every readable request, outcomes listed for whoever looks
    assert response.status_code == 200
    assert response.json()["success"] is True
    assert (response.json()["accepted"], response.json()["ignored"], response.json()["rejected"]) == (1, 2, 1)
    assert response.json()["errors"] == [{"index": 3, "messageId": "no-email", "reason": "Missing email address"}]
    assert store.reports.find(message_id="sdk-5f0e6a2c-0002").email == "max.mustermann@example.de"


@pytest.mark.parametrize("request_kwargs, status, code", [
    ({"headers": basic_auth("wrong-write-key")}, 401, "unauthorized"),
    ({"data": "{not json"}, 400, "invalid_request"),
    ({"data": "[1, 2]", "path": "/v1/track"}, 400, "invalid_request"),
    ({"path": "/v1/nothing"}, 404, "not_found"),
    ({"method": "GET"}, 405, "method_not_allowed"),
    ({"headers": {"Content-Encoding": "br"}}, 415, "unsupported_media_type"),
])
def test_errors_carry_a_code_and_a_message_as_sdks_expect(live_app, store, request_kwargs, status, code):
    method = request_kwargs.get("method", "POST")
    data = request_kwargs.get("data", json.dumps({"batch": [fixture("order-completed-seed.json")]}))
    response = requests.request(method, live_app + request_kwargs.get("path", "/v1/batch"), data=data, timeout=5,
                                headers={**basic_auth(), "Content-Type": "application/json",
                                         **request_kwargs.get("headers", {})})
    assert response.status_code == status
    assert response.json()["code"] == code and response.json()["message"]
    assert sum(store.reports.counts().values()) == 0


# -- segment-analytics-python itself ----------------------------------------------------------------

def sdk(base: str, *, gzip: bool, sync_mode: bool = True, write_key: str = API_KEY, errors=None) -> Client:
    return Client(write_key=write_key, host=base, gzip=gzip, sync_mode=sync_mode, max_retries=1, timeout=5,
                  upload_interval=0.01, on_error=(lambda error, batch: errors.append(error)) if errors is not None
                  else None)


@pytest.mark.parametrize("gzip", [False, True], ids=["plain", "gzip"])
def test_every_order_the_sdk_sends_becomes_an_invitation(live_app, store, gzip):
    client = sdk(live_app, gzip=gzip)
    for number in range(3):
        client.track(user_id=f"user-{number}", event="Order Completed", properties=order_properties(number),
                     context={"locale": "de-DE"}, message_id=f"sdk-{gzip}-{number}")
    # everything else an SDK sends is taken too (a failure would raise here, in sync mode)
    client.identify(user_id="user-9", traits={"email": "nine@example.com", "firstName": "Nine", "lastName": "Nein"})
    client.track(user_id="user-9", event="Order Completed", properties={"order_id": "SDK-9"}, message_id="sdk-9")
    client.page(user_id="user-9", name="Thank you")
    client.screen(user_id="user-9", name="Receipt")
    client.group(user_id="user-9", group_id="g-1", traits={"name": "Team"})
    client.alias(previous_id="anon-9", user_id="user-9")
    client.track(user_id="user-9", event="Product Viewed", properties={"sku": "X"})

    assert store.reports.counts()["pending"] == 4
    for number in range(3):
        row = store.reports.find(message_id=f"sdk-{gzip}-{number}")
        assert (row.email, row.name, row.ref, row.skus, row.locale) == (
            f"buyer{number}@example.com", f"Buyer {number}", f"SDK-{number}", (f"SKU-{number}",), "de-DE")
    nine = store.reports.find(message_id="sdk-9")
    assert (nine.email, nine.name) == ("nine@example.com", "Nine Nein")  # from the identify call


def test_the_sdk_in_its_usual_background_mode(live_app, store):
    errors: list = []
    client = sdk(live_app, gzip=True, sync_mode=False, errors=errors)
    for number in range(25):
        client.track(user_id=f"user-{number}", event="Order Completed", properties=order_properties(number))
    client.flush()
    client.join()
    assert errors == []
    assert store.reports.counts()["pending"] == 25


def test_the_sdk_hears_a_wrong_write_key_as_an_api_error(live_app, store):
    client = sdk(live_app, gzip=False, write_key="not-our-key")
    with pytest.raises(APIError) as failed:
        client.track(user_id="u", event="Order Completed", properties=order_properties(1))
    assert (failed.value.status, failed.value.code, failed.value.message) == (
        401, "unauthorized", "Missing or invalid API key")
    assert sum(store.reports.counts().values()) == 0


def test_an_sdk_order_goes_all_the_way_to_a_link(live_app, store, settings):
    from receiver.senders import ReadyInvitation

    sent: list[ReadyInvitation] = []

    class Collect:
        def send(self, invitation):
            sent.append(invitation)

        def close(self):
            pass

    sdk(live_app, gzip=True).track(user_id="u-1", event="Order Completed", context={"locale": "en-GB"},
                                   properties=order_properties(1))
    assert worker_for(store, settings, Collect()).drain().sent == 1
    [invitation] = sent
    assert invitation.link.startswith("https://uk.trustpilot.com/evaluate-bgl/example.com?p=")
    assert decode(invitation.link, Keys(settings.trustpilot.keys.encrypt, settings.trustpilot.keys.auth)) == {
        "email": "buyer1@example.com", "name": "Buyer 1", "ref": "SDK-1", "skus": ["SKU-1"]}
