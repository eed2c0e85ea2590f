"""Logs hold no secret and cannot be forged: a real ``receiver serve --worker`` (the http sender)
is fed hostile input, at every LOG_LEVEL and in both LOG_FORMATs, and everything it writes is scanned for every
configured secret, every customer's address and name, and for any line that a client's text could have begun."""

import base64
import gzip
import json
import os
import re
import socket
import time

import pytest
import requests

from support.data import AUTH_KEY, ENCRYPT_KEY, base_env, fixture
from support.servers import callback_server
from support.serving import receiver_serve
from support.wait import wait_until

SECRETS = {
    "SEGMENT_API_KEYS": "apikey-Yq3T9w,apikey-Pm7Kx2",
    "SEGMENT_SHARED_SECRETS": "shared-Rb4Vn8",
    "SEGMENT_BEARER_TOKENS": "bearer-Hs6Lc1",
    "CONSOLE_PASSWORD": "console-Zt5Wq9-passphrase",
    "SECRET_KEY": "secretkey-Jd2Fg7-0123456789abcdef",
    "METRICS_TOKEN": "metrics-Nc8Xe3",
    "CALLBACK_SECRET": "whsec_" + base64.b64encode(b"callback secret of the log test").decode(),
    "CALLBACK_HEADERS": json.dumps({"Authorization": "Bearer header-Ku9Pa4"}),
}
SECRET_VALUES = ["apikey-Yq3T9w", "apikey-Pm7Kx2", "shared-Rb4Vn8", "bearer-Hs6Lc1", "console-Zt5Wq9-passphrase",
                 "secretkey-Jd2Fg7", "metrics-Nc8Xe3", SECRETS["CALLBACK_SECRET"], "header-Ku9Pa4", "pathsecret-Wm1Qz6",
                 "querysecret-Ev5Rt2", ENCRYPT_KEY, AUTH_KEY, ENCRYPT_KEY[:20], AUTH_KEY[:20]]
CUSTOMERS = [("zebulon.quartermaine@example.org", "Zebulon", "Quartermaine"),
             ("ottoline.fairweather@example.net", "Ottoline", "Fairweather"),
             ("leocadia\u00e9.brandtstaetter@example.com", "Leocadia", "Brandtstaetter")]
FORGED = "FORGEDLINE"
HOSTILE = f"\n2026-01-01 00:00:00,000 INFO receiver.web: {FORGED}\r\x1b[2J\x1b]0;title\x07\u2028{FORGED}\u202e"
TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} [A-Z]+ [\w.]+: ")


def order(number, customer, message_id=None):
    email, first, last = customer
    message = fixture("order-completed-seed.json")
    message["messageId"] = message_id or f"log-{number}"
    message["properties"] = dict(message["properties"], order_id=f"O-{number}", email=email,
                                 name=f"{first} {last}")
    message["context"] = dict(message.get("context", {}), traits={"email": email, "firstName": first,
                                                                  "lastName": last})
    return message


def basic(user):
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:".encode()).decode()}


def raw_request(port, data):
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(data)
        try:
            while sock.recv(65536):
                pass
        except OSError:
            pass


def hostile_traffic(url, port):
    """What a stranger and a careless client send; the real secrets travel in some of it."""
    key = "apikey-Yq3T9w"
    post = lambda body, **headers: requests.post(f"{url}/segment", json=body, timeout=10, headers=headers)  # noqa: E731
    for number, customer in enumerate(CUSTOMERS):
        assert post(order(number, customer), **basic(key)).status_code == 200
    post(order(10, CUSTOMERS[0], message_id=f"evil{HOSTILE}"), **basic(key))
    post(order(11, CUSTOMERS[1], message_id=HOSTILE), **basic(key))
    post(order(12, CUSTOMERS[2]), **basic(f"wrong{HOSTILE}"))
    post(order(13, CUSTOMERS[2]), **basic("apikey-Pm7Kx2" + HOSTILE))  # a real key with more after it
    body = json.dumps(order(14, CUSTOMERS[0])).encode()
    raw_request(port, b"POST /segment HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nAuthorization: Bearer "
                b"bearer-Hs6Lc1\x1b[2J\x07 " + HOSTILE.replace("\n", " ").replace("\r", " ").encode() +
                b"\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
    post(order(15, CUSTOMERS[1]), **{"X-Signature": "00" * 20, "X-Customer": CUSTOMERS[1][0]})
    post({"type": "identify", "messageId": f"id{HOSTILE}", "userId": f"u{HOSTILE}",
          "traits": {"email": CUSTOMERS[2][0], "name": f"{CUSTOMERS[2][1]} {CUSTOMERS[2][2]}"}}, **basic(key))
    bad_email = order(16, CUSTOMERS[0])
    bad_email["properties"]["email"] = f"{CUSTOMERS[0][0]}{HOSTILE}"
    post(bad_email, **basic(key))
    requests.post(f"{url}/segment", data=gzip.compress(b"[]") + HOSTILE.encode(), timeout=10,
                  headers={**basic(key), "Content-Encoding": "gzip", "Content-Type": "application/json"})
    requests.post(f"{url}/v1/track", data=b"{\"a\": " + HOSTILE.encode() + b"}", timeout=10, headers=basic(key))
    raw_request(port, b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: Bearer metrics-Nc8Xe3"
                + HOSTILE.replace("\n", " ").replace("\r", " ").encode() + b"\r\n\r\n")
    requests.get(f"{url}/metrics", headers={"Authorization": "Bearer metrics-Nc8Xe3"}, timeout=10)
    requests.get(f"{url}/nowhere{HOSTILE.replace(chr(10), '%0A')}?token=querysecret-Ev5Rt2", timeout=10)
    session = requests.Session()
    login = session.get(f"{url}/console/login", timeout=10).text
    csrf = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', login)
    form = {"password": "console-Zt5Wq9-passphrase", **({"csrf_token": csrf.group(1)} if csrf else {})}
    session.post(f"{url}/console/login", data=form, timeout=10)
    session.post(f"{url}/console/login", data={**form, "password": f"console-Zt5Wq9-passphrase{HOSTILE}"}, timeout=10)
    raw_request(port, f"POST /segment HTTP/1.1\r\nHost: x\r\nAuthorization: Basic {key}\r\nBad{HOSTILE}\r\n\r\n"
                .encode("utf-8", "surrogatepass"))
    raw_request(port, b"GET /" + HOSTILE.encode() + b" HTTP/1.1\r\nHost: x\r\n\r\n")
    with socket.create_connection(("127.0.0.1", port), timeout=10) as slow:  # missing the header deadline
        slow.sendall(b"POST /segment HTTP/1.1\r\nAuthorization: Basic apikey-Yq3T9w\r\n")
        time.sleep(2.5)


def written_lines(output, fmt):
    lines = output.splitlines()
    if fmt == "json":
        return [json.dumps(json.loads(line)) for line in lines]  # every line is one JSON object
    for line in lines:
        assert TIMESTAMP.match(line) or line.startswith("    | "), f"a line no record began: {line!r}"
        assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e]", line), repr(line)
    return lines


@pytest.mark.timeout(120)
@pytest.mark.parametrize("fmt", ["text", "json"])
@pytest.mark.parametrize("level", ["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"])
def test_nothing_secret_personal_or_forged_in_anything_the_service_writes(tmp_path, level, fmt):
    with callback_server("/hooks/pathsecret-Wm1Qz6?token=querysecret-Ev5Rt2") as callback:
        env = {**os.environ, **base_env(DATABASE_URL=f"sqlite:///{tmp_path / 'r.db'}", WEB_CONCURRENCY="1",
                                        LOG_LEVEL=level, LOG_FORMAT=fmt, SENDER="http", CALLBACK_URL=callback.url,
                                        POLL_INTERVAL="0.1s", HEADER_TIMEOUT="1s", **SECRETS)}
        with receiver_serve(env, tmp_path, "--worker") as served:
            hostile_traffic(served.url, int(served.url.rsplit(":", 1)[1]))
            wait_until(lambda: len(callback.requests) >= 3, "the worker to deliver the three orders", timeout=30)
        output = served.output()
    assert served.process.returncode == 0
    lines = written_lines(output, fmt)
    if level == "DEBUG":  # what is scanned holds the worker's DEBUG lines and the server's (the http sender talks
        # through http.client now, so urllib3 writes nothing here; its lines are filtered all the same, logs.HidePaths)
        assert any("receiver.worker" in line for line in lines) and any("receiver.web" in line for line in lines)
    everything = "\n".join(lines)
    assert [value for value in SECRET_VALUES if value in everything] == []
    words = [word for email, first, last in CUSTOMERS for word in (email, first, last)]
    assert [word for word in words if re.search(rf"(?<!\w){re.escape(word)}(?!\w)", everything)] == []
    assert not any(line.lstrip().startswith(FORGED) or f"\n{FORGED}" in line for line in output.splitlines())
