"""The edges of a request body, over real HTTP: every gzip member is read and nothing may follow the last one; a
chunked body (no Content-Length) past MAX_BODY is a 413 like an announced one, never cut and read as a 400."""

import copy
import gzip
import json

import pytest
import requests

from support.data import basic_auth, fixture


def order(number):
    message = copy.deepcopy(fixture("order-completed-seed.json"))
    message["messageId"] = f"m-{number}"
    message["properties"]["order_id"] = f"O-{number}"
    return message


def post(base, data, **headers):
    return requests.post(f"{base}/segment", data=data, timeout=10,
                         headers={**basic_auth(), "Content-Type": "application/json", **headers})


def test_every_gzip_member_is_read(live_app, store):
    # five messages, one gzip member each, concatenated: RFC 1952 says this is one body (gzip -c a b > c)
    text = json.dumps([order(number) for number in range(5)])
    cuts = [0] + [text.rfind(', {', 0, text.index(f'"m-{n}"')) for n in range(1, 5)] + [len(text)]
    members = b"".join(gzip.compress(text[a:b].encode()) for a, b in zip(cuts, cuts[1:], strict=False))
    response = post(live_app, members, **{"Content-Encoding": "gzip"})
    assert (response.status_code, response.json()["accepted"]) == (200, 5)
    assert sum(store.reports.counts().values()) == 5


@pytest.mark.parametrize("tail, reason", [
    (b"garbage", "The body is not valid gzip: it goes on after the gzip stream"),
    (b"\0\0\0\0", "The body is not valid gzip: it goes on after the gzip stream"),
    (gzip.compress(b"[]")[:-6], "The body is not valid gzip: it ends inside a gzip stream"),
])
def test_anything_after_the_last_gzip_member_is_refused(live_app, store, tail, reason):
    response = post(live_app, gzip.compress(json.dumps(order(1)).encode()) + tail, **{"Content-Encoding": "gzip"})
    assert (response.status_code, response.json()) == (400, {"message": reason})
    assert sum(store.reports.counts().values()) == 0


def test_a_gzip_stream_cut_short_is_refused(live_app, store):
    whole = gzip.compress(json.dumps(order(1)).encode())
    response = post(live_app, whole[: len(whole) // 2], **{"Content-Encoding": "gzip"})
    assert response.status_code == 400 and response.json()["message"].startswith("The body is not valid gzip")


def chunks(data, size=1000):
    for start in range(0, len(data), size):
        yield data[start:start + size]


@pytest.mark.env(MAX_BODY="2KB")
def test_a_chunked_body_past_max_body_is_a_413(live_app, store):
    big = json.dumps([order(number) for number in range(10)]).encode()
    assert len(big) > 2048
    response = post(live_app, chunks(big))  # a generator: requests sends it chunked, with no Content-Length
    assert response.request.headers.get("Transfer-Encoding") == "chunked"
    assert (response.status_code, response.json()) == (413, {"message": "The body is larger than 2048 bytes"})
    small = post(live_app, chunks(json.dumps(order(1)).encode(), 100))
    assert (small.status_code, small.json()["status"]) == (200, "accepted")
    assert sum(store.reports.counts().values()) == 1
