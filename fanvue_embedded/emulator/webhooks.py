"""The webhook sender: one event, signed as Fanvue signs, POSTed to the app.

``X-Fanvue-Signature: t=<unix seconds>,v0=<hex HMAC-SHA256 of "{t}.{raw body}">``. Sent with
``urllib`` in a worker thread so the emulator needs no HTTP client library.

Body: ``{"id", "type", "createdAt", "data"}``. The event types and ``data`` fields below are
the ones ``fanvue_embedded.webhooks`` models (its docstring has the table; amounts in minor
units). A send with no ``data`` gets the sample for its type, so a click or a bare
``{"type": "tip"}`` produces a realistic event.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import urllib.error
import urllib.request
import uuid
from typing import Any

TIMEOUT_SECONDS = 10.0

_CREATOR = "00000000-0000-4000-8000-00000000c0de"
_FAN = "00000000-0000-4000-8000-0000000000fa"
SAMPLE_DATA: dict[str, dict[str, Any]] = {
    "message.received": {
        "creatorUuid": _CREATOR,
        "messageUuid": "00000000-0000-4000-8000-000000000001",
        "fanUuid": _FAN,
        "text": "Hi! Loved your last post.",
    },
    "message.read": {
        "creatorUuid": _CREATOR,
        "messageUuid": "00000000-0000-4000-8000-000000000002",
        "fanUuid": _FAN,
    },
    "follower.new": {"creatorUuid": _CREATOR, "fanUuid": _FAN, "fanHandle": "sample.fan"},
    "subscriber.new": {
        "creatorUuid": _CREATOR,
        "fanUuid": _FAN,
        "fanHandle": "sample.fan",
        "amount": 999,
        "currency": "USD",
    },
    "purchase": {
        "creatorUuid": _CREATOR,
        "fanUuid": _FAN,
        "purchaseUuid": "00000000-0000-4000-8000-000000000003",
        "itemType": "message",
        "itemUuid": "00000000-0000-4000-8000-000000000004",
        "amount": 1500,
        "currency": "USD",
    },
    "tip": {
        "creatorUuid": _CREATOR,
        "fanUuid": _FAN,
        "tipUuid": "00000000-0000-4000-8000-000000000005",
        "amount": 500,
        "currency": "USD",
        "message": "Thank you!",
    },
}


class WebhookError(Exception):
    """The app could not be reached."""


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


async def send_webhook(
    url: str, secret: str, event_type: str, data: dict[str, Any], timestamp: int
) -> dict[str, Any]:
    """POST one event; returns ``{"id", "status"}`` (the app's HTTP status)."""
    event_id = str(uuid.uuid4())
    if not data:
        data = dict(SAMPLE_DATA.get(event_type, {}))
    body = json.dumps({"id": event_id, "type": event_type, "createdAt": timestamp, "data": data})
    raw = body.encode()
    headers = {
        "Content-Type": "application/json",
        "X-Fanvue-Signature": signature_header(secret, timestamp, raw),
    }
    status = await asyncio.to_thread(_post, url, raw, headers)
    return {"id": event_id, "status": status}
