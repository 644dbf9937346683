"""The webhook sender: Fanvue's documented sample of a type, signed as Fanvue signs, POSTed to
the app, retried with backoff while the app answers non-2xx.

``X-Fanvue-Signature: t=<unix seconds>,v0=<hex HMAC-SHA256 of "{t}.{raw body}">``, computed
afresh for every attempt; the body (and an envelope's ``id``) stays the same across the
attempts of one send, as a retry must. Sent with ``urllib`` in a worker thread so the
emulator needs no HTTP client library.

The samples follow Fanvue's pages field for field (api.fanvue.com/docs/webhooks/...,
/docs/checkout/..., /docs/app-store/webhooks). Where Fanvue documents nothing the sample says
so (``ASSUMED``): the New Subscriber type string (``subscription.new``), the New Follower body
(the New Subscriber body without ``price``, with the type in ``X-Fanvue-Event-Type`` since no
documented shape identifies it), and the dispute resource (``{"object": "dispute"}`` only).
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import hmac
import json
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

__all__ = [
    "SAMPLE_TYPES",
    "TYPE_HEADER",
    "WebhookError",
    "sample_body",
    "send_sample",
    "signature_header",
]

TIMEOUT_SECONDS = 10.0
TYPE_HEADER = "X-Fanvue-Event-Type"  # ASSUMED: sent only where no documented shape tells

_CREATOR = "00000000-0000-4000-8000-00000000c0de"
_FAN = "00000000-0000-4000-8000-0000000000fa"
_LINK = {
    "uuid": "00000000-0000-4000-8000-0000000011c0",
    "name": "Coaching call",
    "product_uuid": "00000000-0000-4000-8000-0000000011c1",
    "product_price_uuid": "00000000-0000-4000-8000-0000000011c2",
}
_PURCHASER = {"uuid": _FAN, "email": "sample.fan@example.test"}


def _iso(now: float) -> str:
    return (
        datetime.fromtimestamp(now, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    )


def _sender() -> dict[str, Any]:
    return {
        "uuid": _FAN,
        "handle": "sample.fan",
        "displayName": "Sample Fan",
        "avatarUrl": "https://avatars.emulator.test/sample.fan.png",
    }


def _message_received(now: float) -> dict[str, Any]:
    message_uuid = str(uuid.uuid4())
    return {
        "messageUuid": message_uuid,
        "message": {
            "uuid": message_uuid,
            "text": "Hi! Loved your last post.",
            "hasMedia": False,
            "mediaUuids": [],
            "price": None,
            "createdAt": _iso(now),
        },
        "sender": _sender(),
        "recipientUuid": _CREATOR,
        "isMuted": False,
        "timestamp": _iso(now),
    }


def _platform(now: float, **fields: Any) -> dict[str, Any]:
    return {**fields, "recipientUuid": _CREATOR, "sender": _sender(), "timestamp": _iso(now)}


def _payment(status: str, now: float) -> dict[str, Any]:
    return {
        "object": "payment",
        "id": "FV-000123",
        "status": status,
        "billing_reason": "one_time",
        "gross": 5000,
        "net": 4000 if status == "succeeded" else None,
        "fees": {"fanvue_fee": 750, "transaction_fee": 250},
        "currency": "USD",
        "paid_in_full": status == "succeeded",
        "installment": None,
        "subscription": None,
        "client_reference_id": "order-42",
        "transaction_id": "txn_000123" if status == "succeeded" else None,
        "created_at": _iso(now - 60),
        "paid_at": _iso(now) if status == "succeeded" else None,
        "checkout_link": dict(_LINK),
        "purchaser": dict(_PURCHASER),
        "creator": {"uuid": _CREATOR},
        "metadata": {"campaign": "spring"},
    }


def _subscription(change: str, now: float) -> dict[str, Any]:
    ended = change == "deactivated"
    return {
        "object": "subscription",
        "id": "00000000-0000-4000-8000-0000000051b0",
        "status": "expired" if ended else "active",
        "cancel_at_period_end": change != "activated",
        "expires_at": _iso(now if ended else now + 30 * 86400),
        "created_at": _iso(now - 86400),
        "client_reference_id": None,
        "deactivation_reason": "NON_RENEWING" if ended else None,
        "checkout_link": dict(_LINK),
        "purchaser": dict(_PURCHASER),
        "creator": {"uuid": _CREATOR},
        "metadata": {},
    }


def _refund(now: float) -> dict[str, Any]:
    return {
        "object": "refund",
        "id": "FVC-000321",
        "payment_id": "FV-000123",
        "amount": 5000,
        "currency": "USD",
        "reason": None,
        "full_amount": True,
        "created_at": _iso(now),
        "client_reference_id": "order-42",
        "checkout_link": dict(_LINK),
        "purchaser": dict(_PURCHASER),
        "creator": {"uuid": _CREATOR},
        "metadata": {},
    }


def _payout(now: float) -> dict[str, Any]:
    return {
        "object": "payout",
        "id": "FVW-000777",
        "status": "paid",
        "amount": 120000,
        "currency": "USD",
        "fees": {"transaction_fee": 100},
        "fx_rate": None,
        "external_reference_id": None,
        "paid_at": _iso(now),
        "creator": {"uuid": _CREATOR},
    }


_FLAT: dict[str, Callable[[float], dict[str, Any]]] = {
    "message.received": _message_received,
    "message.read": lambda now: {
        "counterpartUuid": _FAN,
        "readMessagesCount": 3,
        "recipientUuid": _CREATOR,
        "timestamp": _iso(now),
    },
    "follow.new": lambda now: _platform(now),  # ASSUMED body: not documented
    "subscription.new": lambda now: _platform(now, price=999),  # ASSUMED type string
    "purchase.new": lambda now: _platform(
        now, postUuid="00000000-0000-4000-8000-0000000000b0", price=1500
    ),
    "tip.new": lambda now: _platform(
        now,
        context="post",
        senderUuid=_FAN,
        price=500,
        postUuid="00000000-0000-4000-8000-0000000000b0",
    ),
}
_ENVELOPED: dict[str, Callable[[float], dict[str, Any]]] = {
    **{
        f"checkout_link.payment.{status}": functools.partial(_payment, status)
        for status in ("pending", "succeeded", "failed")
    },
    **{
        f"checkout_link.subscription.{change}": functools.partial(_subscription, change)
        for change in ("activated", "deactivated", "cancel_at_period_end_changed")
    },
    "checkout_link.refund.created": _refund,
    "checkout_link.dispute.flagged": lambda now: {"object": "dispute"},  # ASSUMED
    "checkout_link.dispute.created": lambda now: {"object": "dispute"},  # ASSUMED
    "payout.paid": _payout,
    "app.payment.succeeded": lambda now: {"object": "payment"},
    "app.payment.refunded": lambda now: {"object": "refund"},
}
SAMPLE_TYPES: tuple[str, ...] = (*_FLAT, *_ENVELOPED)
# Flat types no documented shape identifies: their type travels in TYPE_HEADER.
_NEEDS_TYPE_HEADER = frozenset({"follow.new"})


class WebhookError(Exception):
    """The app could not be reached."""


def sample_body(event_type: str, now: float) -> tuple[bytes, dict[str, str]]:
    """The documented sample of ``event_type`` as raw JSON, and the extra headers it needs.
    ``KeyError`` for a type with no sample."""
    if event_type in _ENVELOPED:
        payload: dict[str, Any] = {
            "id": str(uuid.uuid4()),
            "type": event_type,
            "timestamp": _iso(now),
            "data": _ENVELOPED[event_type](now),
        }
    else:
        payload = _FLAT[event_type](now)
    headers = {TYPE_HEADER: event_type} if event_type in _NEEDS_TYPE_HEADER else {}
    return json.dumps(payload, separators=(",", ":")).encode(), headers


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


async def send_sample(
    url: str,
    secret: str,
    event_type: str,
    *,
    now: Callable[[], float] = time.time,
    retries: int = 2,
    backoff: float = 0.5,
) -> dict[str, Any]:
    """Send the sample of ``event_type``; retry up to ``retries`` times (after ``backoff``,
    doubling) while the app answers non-2xx or cannot be reached.

    Returns ``{"id", "status", "error", "attempts": [{"attempt", "status", "error", "at"}]}``:
    ``id`` is the envelope id (None for a flat event), ``status`` the last HTTP status (None
    if never reached), ``error`` ``"unreachable"`` when the last attempt got no answer.
    """
    body, extra = sample_body(event_type, now())
    decoded = json.loads(body)
    attempts: list[dict[str, Any]] = []
    for attempt in range(1, retries + 2):
        stamp = int(now())
        headers = {
            "Content-Type": "application/json",
            "X-Fanvue-Signature": signature_header(secret, stamp, body),
            **extra,
        }
        status: int | None
        try:
            status = await asyncio.to_thread(_post, url, body, headers)
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
        "id": decoded.get("id") if event_type in _ENVELOPED else None,
        "status": last["status"],
        "error": last["error"],
        "attempts": attempts,
    }
