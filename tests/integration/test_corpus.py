"""The real-world corpus (issue 13 §8) replayed over real HTTP, checked against ``fixtures/real-world/MANIFEST.json``.

Every file goes, in sorted order, into one fresh receiver served on a socket, to the door with the method and the
headers its entry names (signed files carry Segment's own ``X-Signature``), its bytes as the body. After each
request the answer, the stored rows and the stored traits are checked against the entry; after the last, the
worker runs with a capturing sender and each invitation's link is decoded (``receiver.bgl.decode``) and checked,
field by field and host; then the clock passes ``EMAIL_WAIT`` and the orders still waiting must end as the
manifest says. Each entry's ``alternatives`` are replayed alone (with the files of its sequence before it) into
a fresh receiver under their own settings.
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest
import requests
from werkzeug.serving import make_server

from receiver import bgl
from receiver.config import load_settings
from receiver.store import DEAD, PENDING, SENT, SUPPRESSED, WAITING, Store
from receiver.web import create_app
from support.clock import FakeClock
from support.data import AUTH_KEY, DATA_KEY_BYTES, ENCRYPT_KEY, FIXTURES, base_env
from support.workers import worker_for

CORPUS = FIXTURES / "real-world"
MANIFEST = json.loads((CORPUS / "MANIFEST.json").read_text())
ENTRIES = MANIFEST["files"]
KEYS = bgl.Keys.from_base64(ENCRYPT_KEY, AUTH_KEY)
pytestmark = pytest.mark.env(**MANIFEST["env"])


class Capture:
    """A sender that keeps each invitation's link by the invitation's id."""

    def __init__(self) -> None:
        self.links: dict[int, list[str]] = {}

    def send(self, ready: Any) -> None:
        self.links.setdefault(ready.id, []).append(ready.link)

    def close(self) -> None:
        pass


def send(base: str, entry: dict[str, Any]) -> requests.Response:
    body = (CORPUS / entry["file"]).read_bytes()
    return requests.request(entry["method"], base + entry["door"], data=body, headers=entry["headers"], timeout=10)


def payload(invitation: dict[str, Any]) -> dict[str, Any]:
    """What the link of an expected invitation must decode to."""
    expected = {"email": invitation["email"], "name": invitation["name"], "ref": invitation["ref"]}
    return {**expected, **{key: invitation[key] for key in ("skus", "tags") if invitation[key]}}


def answer_problems(name: str, expected: dict[str, Any], response: requests.Response) -> list[str]:
    """How the HTTP answer to one file differs from its entry."""
    problems = []
    body = response.json()
    if response.status_code != expected["http_status"]:
        problems.append(f"{name}: HTTP {response.status_code}, expected {expected['http_status']}: {body}")
    for key, value in expected.get("body", {}).items():
        if body.get(key) != value:
            problems.append(f"{name}: answer {key}={body.get(key)!r}, expected {value!r}")
    messages = expected["messages"]
    if "status" in body:  # one message on /segment: its own status
        [message] = messages
        if body["status"] != message["status"]:
            problems.append(f"{name}: status {body['status']!r} ({body['message']}), expected {message['status']!r}")
        elif message["status"] == "rejected" and body["message"] != message["reason"]:
            problems.append(f"{name}: rejected for {body['message']!r}, expected {message['reason']!r}")
        return problems
    tally = Counter(message["status"] for message in messages)  # a batch, or any /v1 door: counts
    for status in ("accepted", "waiting", "duplicate", "suppressed", "ignored", "rejected"):
        if body.get(status, 0) != tally[status]:
            problems.append(f"{name}: {body.get(status, 0)} {status}, expected {tally[status]}: {body}")
    errors = [(error["index"], error["reason"]) for error in body.get("errors", [])]
    wanted = [(message.get("index", 0), message["reason"]) for message in messages if message["status"] == "rejected"]
    if errors != wanted:
        problems.append(f"{name}: errors {errors}, expected {wanted}")
    return problems


def invites(message: dict[str, Any]) -> bool:
    """An accepted message that makes an invitation (an accepted user deletion makes none)."""
    return message["status"] == "accepted" and not message.get("erases")


def stored_problems(name: str, messages: list[dict[str, Any]], store: Store) -> list[str]:
    """How the rows and the traits stored for one file differ from its entry, right after its request."""
    problems = []
    for message in messages:
        label, row = f"{name}#{message.get('index', 0)}", None
        if message["messageId"] is not None:
            row = store.reports.find(message_id=message["messageId"])
        status = message["status"]
        if status == "accepted" and message.get("erases"):  # a user-deletion request: no row, nothing left of it
            if row is not None or store.traits.known([f"user:{message['erases']}"]):
                problems.append(f"{label}: a deletion of {message['erases']}, yet something of it is stored")
        elif status == "accepted":
            invitation = message["invitation"]
            found = row and (row.state, row.email, row.name, row.ref, list(row.skus), list(row.tags), row.locale)
            wanted = (PENDING, invitation["email"], invitation["name"], invitation["ref"], invitation["skus"],
                      invitation["tags"], invitation["locale"])
            if found != wanted:
                problems.append(f"{label}: stored {found}, expected {wanted}")
        elif status == "waiting" and not (row and row.state == WAITING and row.email is None):
            problems.append(f"{label}: expected a waiting row without an email, found {row}")
        elif status == "suppressed" and not (row and row.state == SUPPRESSED
                                             and row.last_error == f"suppressed: {message['reason']}"):
            problems.append(f"{label}: expected suppressed by {message['reason']}, found {row}")
        elif status in ("rejected", "ignored", "duplicate") and row is not None:
            problems.append(f"{label}: {status}, yet a row was stored: {row}")
        problems += trait_problems(label, message.get("stores_traits"), store)
    return problems


def trait_problems(label: str, stores: dict[str, Any] | None, store: Store) -> list[str]:
    if not stores:
        return []
    identities = [f"user:{stores['userId']}"] if "userId" in stores else []
    identities += [f"anon:{stores['anonymousId']}"] if "anonymousId" in stores else []
    recalled = store.traits.recalled(identities)
    problems = []
    for identity in identities:
        kept = recalled.get(identity, {})
        found = {name: kept[name].value for name in stores["traits"] if name in kept}
        if found != stores["traits"]:
            problems.append(f"{label}: traits of {identity} are {found}, expected {stores['traits']}")
        setters = {kept[name].user_id for name in stores["traits"] if name in kept}
        if identity.startswith("anon:") and setters != {stores.get("userId")}:
            problems.append(f"{label}: traits of {identity} remember userId {setters}, expected {stores.get('userId')}")
    return problems


def link_problems(label: str, row: Any, invitation: dict[str, Any], capture: Capture) -> list[str]:
    """The one link sent for ``row``, decoded field by field, and its host."""
    links = capture.links.get(row.id, []) if row else []
    if row is None or row.state != SENT or len(links) != 1:
        return [f"{label}: expected one link sent, found {row and row.state} with {len(links)} link(s)"]
    decoded, host = bgl.decode(links[0], KEYS), links[0].split("/")[2]
    problems = []
    if decoded != payload(invitation):
        problems.append(f"{label}: the link decodes to {decoded}, expected {payload(invitation)}")
    if host != invitation["host"]:
        problems.append(f"{label}: the link is on {host}, expected {invitation['host']}")
    return problems


def delivery_problems(entries: list[dict[str, Any]], messages_of: Any, store: Store, settings: Any,
                      clock: FakeClock) -> list[str]:
    """Run the worker, check each invitation's link; then let EMAIL_WAIT pass and check what the waiting became."""
    capture = Capture()
    worker = worker_for(store, settings, capture, clock=clock)
    worker.drain()
    problems = []
    for entry in entries:
        for message in messages_of(entry):
            label = f"{entry['file']}#{message.get('index', 0)}"
            row = store.reports.find(message_id=message["messageId"]) if message["messageId"] else None
            later = message.get("eventually", {})
            if invites(message) or later.get("state") == "sent":
                problems += link_problems(label, row, message.get("invitation") or later["invitation"], capture)
    clock.advance(seconds=settings.trustpilot.email_wait + 60)
    worker.drain()
    for entry in entries:
        for message in messages_of(entry):
            later = message.get("eventually", {})
            if later.get("state") != "dead":
                continue
            label = f"{entry['file']}#{message.get('index', 0)}"
            row = store.reports.find(message_id=message["messageId"])
            if not (row and row.state == DEAD and row.last_error == later["error"] and row.id not in capture.links):
                problems.append(f"{label}: expected dead ({later['error']}) and never sent, found {row}")
            never = later.get("never", {}).get("email")
            sent_to = {bgl.decode(link, KEYS)["email"] for links in capture.links.values() for link in links}
            if never and row and row.email is None and never in sent_to and row.id in capture.links:
                problems.append(f"{label}: sent to {never}")
    return problems


def test_the_corpus_is_72_files_with_an_entry_each():
    files = sorted(path.name for path in CORPUS.glob("*.json") if path.name != "MANIFEST.json")
    assert [entry["file"] for entry in ENTRIES] == files and len(files) == 72


def test_the_corpus_replayed_over_http(live_app, store, settings, clock):
    problems = []
    for entry in ENTRIES:
        response = send(live_app, entry)
        problems += answer_problems(entry["file"], entry["expected"], response)
        problems += stored_problems(entry["file"], entry["expected"]["messages"], store)
    problems += delivery_problems(ENTRIES, lambda entry: entry["expected"]["messages"], store, settings, clock)
    assert problems == []
    messages = [message for entry in ENTRIES for message in entry["expected"]["messages"]]
    sent = [message for message in messages
            if invites(message) or message.get("eventually", {}).get("state") == "sent"]
    counts = store.reports.counts()
    assert counts[SENT] == len(sent) == 30  # every invitation of the corpus, each checked link by link above
    assert counts[WAITING] == 0 and counts[DEAD] == sum(message.get("eventually", {}).get("state") == "dead"
                                                         for message in messages)


def test_every_signed_file_carries_segment_s_own_signature():
    """The corpus signs as Segment does: a single event over its body, a batch over its first element."""
    from receiver.auth import first_element, signature

    for entry in ENTRIES:
        if "signature" in entry:
            body = (CORPUS / entry["file"]).read_bytes()
            signed = first_element(body) if body.startswith(b"[") else body
            assert signature(signed, entry["signature"]["shared_secret"]) == entry["headers"]["X-Signature"]
            if "x_signature_whole_body" in entry["signature"]:
                assert signature(body, entry["signature"]["shared_secret"]) == entry["signature"][
                    "x_signature_whole_body"]


def before_in_sequence(entry: dict[str, Any]) -> list[dict[str, Any]]:
    sequence = entry.get("sequence")
    if not sequence:
        return []
    return [other for other in ENTRIES if (other.get("sequence") or {}).get("name") == sequence["name"]
            and other["sequence"]["step"] < sequence["step"]]


ALTERNATIVES = [(entry, alternative) for entry in ENTRIES for alternative in entry.get("alternatives", [])]


@contextmanager
def served(env: dict[str, str], url: str, clock: FakeClock) -> Iterator[tuple[str, Store, Any]]:
    settings = load_settings(base_env(DATABASE_URL=url, **env), intake=True)
    store = Store(url, data_key=DATA_KEY_BYTES)
    store.upgrade()
    server = make_server("127.0.0.1", 0, create_app(settings, store=store, clock=clock), threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", store, settings
    finally:
        server.shutdown()
        thread.join(5)
        store.close()


@pytest.mark.parametrize("entry, alternative", ALTERNATIVES,
                         ids=[f"{entry['file']}:{','.join(alt['env'])}" for entry, alt in ALTERNATIVES])
def test_the_alternatives_under_their_own_settings(tmp_path, entry, alternative):
    clock = FakeClock()
    env = {**MANIFEST["env"], **alternative["env"]}
    messages = [{"index": index, **message} for index, message in enumerate(alternative["messages"])]
    with served(env, f"sqlite:///{tmp_path / 'alternative.db'}", clock) as (base, store, settings):
        for earlier in before_in_sequence(entry):
            assert send(base, earlier).status_code < 500
        response = send(base, entry)
        problems = answer_problems(entry["file"], {**alternative, "messages": messages}, response)
        problems += stored_problems(entry["file"], messages, store)
        problems += delivery_problems([entry], lambda _entry: messages, store, settings, clock)
    assert problems == []


def test_the_corpus_covers_every_outcome_and_door():
    statuses = Counter(message["status"] for entry in ENTRIES for message in entry["expected"]["messages"])
    assert set(statuses) == {"accepted", "waiting", "duplicate", "suppressed", "ignored", "rejected"}
    assert {entry["door"] for entry in ENTRIES} == {"/segment", "/v1/batch", "/v1/track", "/v1/identify"}
    assert {entry["method"] for entry in ENTRIES} == {"POST", "PUT", "PATCH"}
    assert sum(len(entry["expected"]["messages"]) for entry in ENTRIES) == 77
    assert timedelta(seconds=load_settings(base_env(**MANIFEST["env"])).trustpilot.email_wait) == timedelta(minutes=15)
