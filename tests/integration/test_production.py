"""Production behaviour: nothing personal in any log or output, errors as JSON."""

import json
import re

from click.testing import CliRunner

from receiver import bgl
from receiver.cli import main
from receiver.config import load_settings
from receiver.store import Store
from receiver.web import create_app
from support.data import AUTH_KEY, DATA_KEY_BYTES, ENCRYPT_KEY, FIXTURES, base_env, basic_auth, fixture
from support.logs import Captured
from support.net import free_port

# an invitation link as the log sender prints it; its p= is ciphertext in base64, random on every run
LINK = re.compile(r"https://[a-z-]+\.trustpilot\.com/evaluate-bgl/[^\s\"?]+\?p=[A-Za-z0-9%+/=_-]+")
KEYS = bgl.Keys.from_base64(ENCRYPT_KEY, AUTH_KEY)


def without_links(output):
    """``output`` with each invitation link, which must decode with the keys, replaced by one opaque word.

    Random base64 holds any three letters now and then ("Sam", "Kim", "Mug"): matched there, a name is noise,
    and a link that decodes carries nothing readable.
    """
    def opaque(match):
        bgl.decode(match.group(0), KEYS)  # a real link: anything else that looks like one stays in the text
        return "<link>"

    return LINK.sub(opaque, output)


def mentions(text, value):
    """Whether ``value`` stands in ``text`` as whole words (not inside a longer word)."""
    return re.search(rf"(?<!\w){re.escape(value)}(?!\w)", text) is not None


def test_nothing_personal_reaches_any_log_or_output(tmp_path):
    """The whole path, at DEBUG, JSON and text: no address, no name, no key anywhere."""
    personal = set()
    for path in FIXTURES.rglob("*.json"):
        if "real-world" in path.relative_to(FIXTURES).parts:  # `replay fixtures/` leaves the corpus out
            continue
        text = path.read_text()
        for key in ("email", "name", "surname", "first_name", "last_name", "firstName", "lastName"):
            for match in re.finditer(rf'"{key}":\s*"([^"]+)"', text):
                if len(match.group(1)) > 2:
                    personal.add(match.group(1))
    assert "test@example.com" in personal and "Johnson" in personal
    outputs = []
    for fmt in ("json", "text"):
        env = base_env(DATABASE_URL=f"sqlite:///{tmp_path / f'{fmt}.db'}", LOG_LEVEL="DEBUG", LOG_FORMAT=fmt,
                       SENDER="smtp", SMTP_URL=f"smtp://127.0.0.1:{free_port()}", MAIL_FROM="Shop <shop@example.org>")
        replayed = CliRunner().invoke(main, ["replay", str(FIXTURES)], env=env)
        failing = CliRunner().invoke(main, ["worker", "--once"], env=env)  # nobody listens: every send fails
        assert "retrying 10" in failing.output, failing.output
        working = {**env, "SENDER": "log"}
        runs = [replayed, failing, *(CliRunner().invoke(main, command, env=working) for command in (
            ["status"], ["retry"], ["worker", "--once"], ["forget", "test@example.com"], ["purge"], ["config"]))]
        assert "sent 10," in runs[4].output
        assert ('"logger": "receiver.worker"' if fmt == "json" else "INFO receiver.worker") in runs[4].output
        outputs += [run.output for run in runs]
    everything = without_links("\n".join(outputs))
    assert everything.count("<link>") == 20  # each run of the log sender printed its 10 links
    assert sorted(value for value in personal if mentions(everything, value)) == []
    for secret in (ENCRYPT_KEY, AUTH_KEY, "test-api-key"):
        assert secret not in everything


def test_an_unexpected_error_is_a_json_500_logged_once_with_a_masked_traceback(sqlite_url):
    def broken_add(rows, **kw):
        raise RuntimeError(f"exploded while storing {rows[0].invitation.email}")

    settings = load_settings(base_env(DATABASE_URL=sqlite_url))
    store = Store(sqlite_url, data_key=DATA_KEY_BYTES)
    store.upgrade()
    store.outbox.add = broken_add
    client = create_app(settings, store=store).test_client()
    with Captured() as captured:
        response = client.post("/segment", json=fixture("order-completed-seed.json"), headers=basic_auth())
    assert response.status_code == 500
    assert response.get_json() == {"message": "Internal error"}
    [line] = [line for line in captured.lines if line["level"] == "error"]
    assert "RuntimeError" in line["traceback"] and "t***@example.com" in line["traceback"]
    assert "test@example.com" not in json.dumps(line)


def test_no_flask_html_error_pages(client):
    for response in (client.get("/nowhere"), client.put("/segment"), client.get("/v1/batch")):
        assert response.content_type == "application/json" and response.get_json()["message"]
