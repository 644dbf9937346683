"""The webhook sender: an event's body signed as Fanvue signs, POSTed to one endpoint, retried
with backoff while the endpoint answers non-2xx or cannot be reached.

``X-Fanvue-Signature: t=<unix seconds>,v0=<hex HMAC-SHA256 of "{t}.{raw body}">``, computed
afresh for every attempt; the body (and an envelope's ``id``) stays the same across the
attempts of one send, as a retry must. Sent with ``urllib`` in a worker thread so the
emulator needs no HTTP client library.

Platform events are flat JSON objects; checkout, payout and App Store events come in an
envelope ``{id, type, timestamp, data}`` (webhooks.md §1). The documented samples are in
``webhook_samples.py``.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .webhook_samples import ENVELOPED, FLAT, SAMPLE_TYPES, iso

__all__ = [
    "SAMPLE_TYPES",
    "TYPE_HEADER",
    "Outgoing",
    "WebhookError",
    "event",
    "sample_body",
    "send",
    "send_sample",
    "signature_header",
]

TIMEOUT_SECONDS = 10.0
TYPE_HEADER = "X-Fanvue-Event-Type"  # ASSUMED: sent only where no documented shape tells
# Flat types no documented shape identifies: their type travels in TYPE_HEADER.
_NEEDS_TYPE_HEADER = frozenset({"follow.new"})
ENVELOPED_TYPES = frozenset(ENVELOPED)


class WebhookError(Exception):
    """The endpoint could not be reached."""


@dataclass(frozen=True)
class Outgoing:
    """One event ready to send: its raw body, the extra headers it needs, the envelope ``id``
    (None for a flat event) and the creator it concerns (None: the app's own, App Store)."""

    type: str
    body: bytes
    id: str | None = None
    creator: str | None = None
    headers: dict[str, str] = field(default_factory=dict)


def event(event_type: str, payload: dict[str, Any], now: float, creator: str | None) -> Outgoing:
    """A flat event as is, or an enveloped type's resource (``payload`` = ``data``) wrapped in
    ``{id, type, timestamp, data}`` with a fresh id."""
    envelope_id: str | None = None
    if event_type in ENVELOPED_TYPES:
        envelope_id = str(uuid.uuid4())
        payload = {"id": envelope_id, "type": event_type, "timestamp": iso(now), "data": payload}
    headers = {TYPE_HEADER: event_type} if event_type in _NEEDS_TYPE_HEADER else {}
    body = json.dumps(payload, separators=(",", ":")).encode()
    return Outgoing(event_type, body, envelope_id, creator, headers)


def sample_body(event_type: str, now: float) -> tuple[bytes, dict[str, str]]:
    """The documented sample of ``event_type`` as raw JSON, and the extra headers it needs.
    ``KeyError`` for a type with no sample."""
    built = _sample(event_type, now)
    return built.body, built.headers


def _sample(event_type: str, now: float) -> Outgoing:
    builder = ENVELOPED[event_type] if event_type in ENVELOPED_TYPES else FLAT[event_type]
    return event(event_type, builder(now), now, None)


def signature_header(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v0={mac.hexdigest()}"


def _post(url: str, body: bytes, headers: dict[str, str]) -> int:
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:  # noqa: S310
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)
    except (urllib.error.URLError, OSError) as exc:
        raise WebhookError(f"could not deliver to {url}: {exc}") from exc


async def send(
    url: str,
    secret: str,
    outgoing: Outgoing,
    *,
    now: Callable[[], float] = time.time,
    retries: int = 2,
    backoff: float = 0.5,
) -> dict[str, Any]:
    """POST ``outgoing`` to ``url``; retry up to ``retries`` times (after ``backoff`` seconds,
    doubling) while the endpoint answers non-2xx or cannot be reached.

    Returns ``{"id", "status", "error", "attempts": [{"attempt", "status", "error", "at"}]}``:
    ``id`` is the envelope id (None for a flat event), ``status`` the last HTTP status (None
    if never reached), ``error`` ``"unreachable"`` when the last attempt got no answer.
    """
    attempts: list[dict[str, Any]] = []
    for attempt in range(1, retries + 2):
        stamp = int(now())
        headers = {
            "Content-Type": "application/json",
            "X-Fanvue-Signature": signature_header(secret, stamp, outgoing.body),
            **outgoing.headers,
        }
        status: int | None
        try:
            status = await asyncio.to_thread(_post, url, outgoing.body, headers)
            error = None
        except WebhookError:
            status, error = None, "unreachable"
        attempts.append({"attempt": attempt, "status": status, "error": error, "at": stamp})
        if status is not None and 200 <= status < 300:
            break
        if attempt <= retries:
            await asyncio.sleep(backoff * 2 ** (attempt - 1))
    last = attempts[-1]
    return {
        "id": outgoing.id,
        "status": last["status"],
        "error": last["error"],
        "attempts": attempts,
    }


async def send_sample(
    url: str,
    secret: str,
    event_type: str,
    *,
    now: Callable[[], float] = time.time,
    retries: int = 2,
    backoff: float = 0.5,
) -> dict[str, Any]:
    """Send the documented sample of ``event_type`` (see :func:`send`)."""
    return await send(
        url, secret, _sample(event_type, now()), now=now, retries=retries, backoff=backoff
    )
