"""The two doors for Segment's messages, and the one path behind them: authenticate, decode the body, hand the
messages to intake, answer as Segment expects.

- ``POST /segment`` (``PUT`` and ``PATCH`` alike): the destination endpoint (Direct, Webhooks (Classic), Webhooks
  (Actions)). One message gets that message's status (400 for a rejected one; 200 ``ignored`` for a call type we
  do not use, since Webhooks retry every 5xx for hours); a batch gets 200 with counts and the rejected entries,
  or 400 when nothing in it could be accepted.
- ``POST /v1/batch``, ``/v1/track``, ``/v1/identify``, ``/v1/page``, ``/v1/screen``, ``/v1/group``, ``/v1/alias``:
  Segment's HTTP Tracking API, for Segment's SDKs pointed at this host. Like Segment's own API, every readable,
  authenticated request gets 200 (``{"success": true, ...}`` with the same counts); errors are
  ``{"code": ..., "message": ...}``.
"""

from __future__ import annotations

import logging
import zlib
from collections import Counter
from typing import Any

from flask import Blueprint, current_app, jsonify, request

from .. import logs, metrics
from ..auth import authenticate
from ..config import SegmentAuth
from ..intake import ACCEPTED, DUPLICATE, IGNORED, REJECTED, SUPPRESSED_VERDICT, WAITING_VERDICT, Verdict
from ..segment import CALL_TYPES, DuplicateKey, MessageProblem, loads, messages_in, with_call_type
from ..store import StoreUnavailable
from .errors import BadRequest, error
from .services import services

log = logging.getLogger("receiver.web")

STATUS = {ACCEPTED: 200, WAITING_VERDICT: 200, DUPLICATE: 200, SUPPRESSED_VERDICT: 200, IGNORED: 200, REJECTED: 400}

segment = Blueprint("segment", __name__)
tracking = Blueprint("tracking", __name__, url_prefix="/v1")


def _raw_body(limit: int) -> bytes:
    """The body as received; ``BadRequest`` 413 past ``limit`` bytes, announced or not (a chunked body)."""
    if request.content_length is not None or not request.environ.get("wsgi.input_terminated"):
        return request.get_data(cache=False)  # werkzeug answers 413 to a Content-Length past MAX_CONTENT_LENGTH
    # werkzeug cuts an unannounced body at the limit without a word: it is read here, one byte past it
    chunks, size = [], 0
    while size <= limit:
        chunk = request.input_stream.read(limit + 1 - size)
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    if size > limit:
        raise BadRequest(413, f"The body is larger than {limit} bytes")
    return b"".join(chunks)


def _authenticated_body(auth: SegmentAuth) -> bytes:
    """The raw body, once the request proved it comes from Segment (a signature covers these bytes)."""
    raw = _raw_body(current_app.config["MAX_CONTENT_LENGTH"])
    failure = authenticate(request.headers, raw, auth)
    if failure:
        metrics.UNAUTHORISED.inc()
        raise BadRequest(401, failure)
    return raw


def _decompressed(raw: bytes, max_decompressed: int) -> bytes:
    encoding = (request.headers.get("Content-Encoding") or "identity").strip().lower()
    if encoding in ("identity", ""):
        return raw
    if encoding not in ("gzip", "x-gzip"):
        raise BadRequest(415, f"Unsupported Content-Encoding: {encoding[:32]}")
    return _gunzipped(raw, max_decompressed)


def _gunzipped(raw: bytes, limit: int) -> bytes:
    """Every gzip member of ``raw``, one after the other (RFC 1952), as one body of at most ``limit`` bytes;
    anything after the last member that is not another member is a 400."""
    parts: list[bytes] = []
    size, rest = 0, raw
    while True:
        decompressor = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
        try:
            part = decompressor.decompress(rest, limit - size + 1)
        except zlib.error:
            raise BadRequest(400, "The body is not valid gzip") from None
        size += len(part)
        if size > limit or decompressor.unconsumed_tail:
            raise BadRequest(413, f"The decompressed body is larger than {limit} bytes")
        if not decompressor.eof:
            raise BadRequest(400, "The body is not valid gzip: it ends inside a gzip stream")
        parts.append(part)
        rest = decompressor.unused_data
        if not rest:
            return b"".join(parts)
        if not rest.startswith(b"\x1f\x8b"):
            raise BadRequest(400, "The body is not valid gzip: it goes on after the gzip stream")


def _json_body(raw: bytes, max_decompressed: int) -> Any:
    content_type = (request.mimetype or "").lower()
    if content_type and "json" not in content_type and content_type != "text/plain":
        raise BadRequest(415, "Content-Type must be application/json")
    body = _decompressed(raw, max_decompressed)
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise BadRequest(400, "The body is not valid UTF-8") from None
    try:
        return loads(text)
    except DuplicateKey as exc:
        raise BadRequest(400, str(exc)) from None
    except RecursionError:
        raise BadRequest(400, "The JSON is nested too deeply") from None
    except ValueError:
        raise BadRequest(400, "The body is not valid JSON") from None


def _read_body() -> Any:
    """The decoded JSON of an authenticated request; ``BadRequest`` (401, 400, 413, 415) otherwise."""
    raw = _authenticated_body(services().settings.auth)
    return _json_body(raw, current_app.config["MAX_DECOMPRESSED"])


def _messages(body: Any) -> tuple[list[Any], bool]:
    try:
        messages, is_batch = messages_in(body)
    except MessageProblem as problem:
        raise BadRequest(400, str(problem)) from None
    max_batch = services().settings.limits.max_batch
    if is_batch and len(messages) > max_batch:
        raise BadRequest(413, f"A batch holds at most {max_batch} messages")
    return messages, is_batch


def _process(messages: list[Any], *, as_api: bool = False) -> list[Verdict]:
    try:
        verdicts = services().intake.process(messages, as_api=as_api)
    except StoreUnavailable as exc:
        log.warning("answered 503 so that Segment retries: %s", exc)
        raise BadRequest(503, "Temporarily unable to store messages; please retry") from None
    _account(verdicts)
    return verdicts


def _account(verdicts: list[Verdict]) -> None:
    """The messages counted, once per request and label (a batch's thousand messages are a few increments), and one
    log line for the request (ids and outcomes only)."""
    for (call_type, outcome), count in Counter((verdict.call_type, verdict.outcome) for verdict in verdicts).items():
        metrics.MESSAGES.labels(call_type, outcome).inc(count)
    rejected = Counter(verdict.message[:80] for verdict in verdicts if verdict.outcome == REJECTED)
    for reason, count in rejected.items():
        metrics.REJECTIONS.labels(reason).inc(count)
    if len(verdicts) == 1:
        token = logs.message_id.set(verdicts[0].message_id)
        log.info("message %s: %s", verdicts[0].outcome, verdicts[0].message)
        logs.message_id.reset(token)
    else:
        tally: dict[str, int] = {}
        for verdict in verdicts:
            tally[verdict.outcome] = tally.get(verdict.outcome, 0) + 1
        log.info("batch of %d: %s", len(verdicts), ", ".join(f"{n} {k}" for k, n in sorted(tally.items())))


def batch_counts(verdicts: list[Verdict]) -> dict[str, Any]:
    """``received``, a count per outcome, and under ``errors`` each rejected message's ``index`` in the batch,
    ``messageId`` and ``reason``."""
    counts: dict[str, Any] = {name: 0 for name in STATUS}
    errors = []
    for index, verdict in enumerate(verdicts):
        counts[verdict.outcome] += 1
        if verdict.outcome == REJECTED:
            errors.append({"index": index, "messageId": verdict.message_id, "reason": verdict.message})
    return {"received": len(verdicts), **counts, "errors": errors}


def batch_response(verdicts: list[Verdict]) -> tuple[Any, int]:
    counts = batch_counts(verdicts)
    status = 400 if verdicts and counts[REJECTED] == len(verdicts) else 200
    message = "No message in the batch could be accepted" if status == 400 else "Batch processed"
    return jsonify({"message": message, **counts}), status


@segment.route("/segment", methods=["POST", "PUT", "PATCH"])  # Webhooks (Actions) may send with PUT or PATCH
def receive() -> tuple[Any, int]:
    try:
        messages, is_batch = _messages(_read_body())
        if is_batch and not messages:
            raise BadRequest(400, "The batch is empty")
        verdicts = _process(messages)
    except BadRequest as bad:
        return error(bad.status, bad.message)
    if is_batch:
        return batch_response(verdicts)
    verdict = verdicts[0]
    return jsonify(verdict.as_json()), STATUS[verdict.outcome]


def _tracking_answer(verdicts: list[Verdict]) -> tuple[Any, int]:
    """What Segment's own API answers an SDK: 200 for every message it could read; outcomes for the curious."""
    counts = batch_counts(verdicts)
    if counts["errors"]:
        log.info("tracking API: %d of %d messages rejected (%s)", counts[REJECTED], len(verdicts),
                 "; ".join(sorted({entry["reason"] for entry in counts["errors"]})))
    return jsonify({"success": True, **counts}), 200


@tracking.post("/batch")
def tracking_batch() -> tuple[Any, int]:
    try:
        messages, _ = _messages(_read_body())
        verdicts = _process(messages, as_api=True)
    except BadRequest as bad:
        return error(bad.status, bad.message)
    return _tracking_answer(verdicts)


@tracking.post(f"/<any({', '.join(CALL_TYPES)}):call>")
def tracking_call(call: str) -> tuple[Any, int]:
    try:
        body = _read_body()
        if not isinstance(body, dict):
            raise BadRequest(400, f"The body of /v1/{call} must be one JSON object")
        verdicts = _process([with_call_type(body, call)], as_api=True)
    except BadRequest as bad:
        return error(bad.status, bad.message)
    return _tracking_answer(verdicts)
