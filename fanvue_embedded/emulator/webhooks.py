"""The webhook sender: one event, signed as Fanvue signs, POSTed to the app.

``X-Fanvue-Signature: t=<unix seconds>,v0=<hex HMAC-SHA256 of "{t}.{raw body}">``. Sent with
``urllib`` in a worker thread so the emulator needs no HTTP client library.
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
    body = json.dumps({"id": event_id, "type": event_type, "createdAt": timestamp, "data": data})
    raw = body.encode()
    headers = {
        "Content-Type": "application/json",
        "X-Fanvue-Signature": signature_header(secret, timestamp, raw),
    }
    status = await asyncio.to_thread(_post, url, raw, headers)
    return {"id": event_id, "status": status}
