"""Fanvue's documented sample of every webhook type, as the dashboard's "Test" action sends it.

The samples follow Fanvue's pages field for field (api.fanvue.com/docs/webhooks/...,
/docs/checkout/..., /docs/app-store/webhooks); values are invented. Where Fanvue documents
nothing the sample says so (``ASSUMED``): the New Subscriber type string (``subscription.new``),
the New Follower body (the New Subscriber body without ``price``, with the type in
``X-Fanvue-Event-Type`` since no documented shape identifies it), and the dispute resource
(``{"object": "dispute"}`` only). Events built from the emulator's own state
(``world/activity.py``, ``commerce.py``) use the same shapes.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

__all__ = ["ENVELOPED", "FLAT", "SAMPLE_TYPES", "iso"]

_CREATOR = "00000000-0000-4000-8000-00000000c0de"
_FAN = "00000000-0000-4000-8000-0000000000fa"
_LINK = {
    "uuid": "00000000-0000-4000-8000-0000000011c0",
    "name": "Coaching call",
    "product_uuid": "00000000-0000-4000-8000-0000000011c1",
    "product_price_uuid": "00000000-0000-4000-8000-0000000011c2",
}
_PURCHASER = {"uuid": _FAN, "email": "sample.fan@example.test"}


def iso(now: float) -> str:
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
            "createdAt": iso(now),
        },
        "sender": _sender(),
        "recipientUuid": _CREATOR,
        "isMuted": False,
        "timestamp": iso(now),
    }


def _platform(now: float, **fields: Any) -> dict[str, Any]:
    return {**fields, "recipientUuid": _CREATOR, "sender": _sender(), "timestamp": iso(now)}


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
        "created_at": iso(now - 60),
        "paid_at": iso(now) if status == "succeeded" else None,
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
        "expires_at": iso(now if ended else now + 30 * 86400),
        "created_at": iso(now - 86400),
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
        "created_at": iso(now),
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
        "paid_at": iso(now),
        "creator": {"uuid": _CREATOR},
    }


FLAT: dict[str, Callable[[float], dict[str, Any]]] = {
    "message.received": _message_received,
    "message.read": lambda now: {
        "counterpartUuid": _FAN,
        "readMessagesCount": 3,
        "recipientUuid": _CREATOR,
        "timestamp": iso(now),
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
ENVELOPED: dict[str, Callable[[float], dict[str, Any]]] = {
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
SAMPLE_TYPES: tuple[str, ...] = (*FLAT, *ENVELOPED)
