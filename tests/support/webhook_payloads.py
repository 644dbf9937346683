"""Every payload Fanvue documents for its webhooks, built from the field lists of its pages
(api.fanvue.com/docs/webhooks/..., /docs/checkout/..., /docs/app-store/webhooks), each with the
class and attributes the library must read from it.

Written independently of the emulator's samples, so a mistake in one is caught by the other.
``FAN_DATA`` lists the personal values the payloads carry: they must never reach Redis or a log
in plaintext.
"""

from __future__ import annotations

import builtins
import json
from dataclasses import dataclass, field
from typing import Any

from fanvue_embedded.webhooks import (
    AppPaymentRefunded,
    AppPaymentSucceeded,
    CheckoutDisputeEvent,
    CheckoutPaymentEvent,
    CheckoutRefundEvent,
    CheckoutSubscriptionEvent,
    FollowNew,
    MessageRead,
    MessageReceived,
    PayoutPaid,
    PurchaseNew,
    SubscriptionNew,
    TipNew,
    WebhookEvent,
)

CREATOR = "5f0c1a2b-0000-4000-8000-00000000c0de"
FAN = "5f0c1a2b-0000-4000-8000-0000000000fa"
HANDLE = "private.fan.handle"
DISPLAY_NAME = "Private Fan Name"
EMAIL = "private.fan@example.test"
MESSAGE_TEXT = "a very private message"
FAN_DATA = (HANDLE, DISPLAY_NAME, EMAIL, MESSAGE_TEXT)
STAMP = "2025-06-15T15:06:40.123Z"

SENDER = {
    "uuid": FAN,
    "handle": HANDLE,
    "displayName": DISPLAY_NAME,
    "avatarUrl": "https://cdn.example.test/avatar.png",
}
SENDER_EXPECTED = {
    "sender.uuid": FAN,
    "sender.handle": HANDLE,
    "sender.display_name": DISPLAY_NAME,
    "sender.avatar_url": "https://cdn.example.test/avatar.png",
}
LINK = {
    "uuid": "11111111-0000-4000-8000-000000000001",
    "name": "Coaching",
    "product_uuid": "11111111-0000-4000-8000-000000000002",
    "product_price_uuid": "11111111-0000-4000-8000-000000000003",
}
LINKED_EXPECTED = {
    "data.checkout_link.uuid": LINK["uuid"],
    "data.checkout_link.name": "Coaching",
    "data.checkout_link.product_uuid": LINK["product_uuid"],
    "data.checkout_link.product_price_uuid": LINK["product_price_uuid"],
    "data.purchaser.uuid": FAN,
    "data.purchaser.email": EMAIL,
    "data.creator.uuid": CREATOR,
    "data.client_reference_id": "ref-1",
    "data.metadata": {"k": "v"},
}


@dataclass(frozen=True)
class Documented:
    """One documented delivery: its body, the header type it needs, what it must parse to."""

    name: str
    type: str
    cls: builtins.type[WebhookEvent]
    body: dict[str, Any]
    expected: dict[str, Any] = field(default_factory=dict)
    header_type: str | None = None

    def raw(self) -> bytes:
        return json.dumps(self.body).encode()


def attribute(event: Any, path: str) -> Any:
    for part in path.split("."):
        event = getattr(event, part)
    return event


def _envelope(event_id: str, event_type: str, data: dict[str, Any]) -> dict[str, Any]:
    return {"id": event_id, "type": event_type, "timestamp": STAMP, "data": data}


def _payment(status: str, paid: bool) -> dict[str, Any]:
    return {
        "object": "payment",
        "id": "FV-1001",
        "status": status,
        "billing_reason": "subscription_renewal",
        "gross": 2000,
        "net": 1600 if paid else None,
        "fees": {"fanvue_fee": 300, "transaction_fee": None},
        "currency": "EUR",
        "paid_in_full": paid,
        "installment": {"number": 1, "of": 4},
        "subscription": {"uuid": "22222222-0000-4000-8000-000000000001"},
        "client_reference_id": "ref-1",
        "transaction_id": "tx-9" if paid else None,
        "created_at": STAMP,
        "paid_at": STAMP if paid else None,
        "checkout_link": LINK,
        "purchaser": {"uuid": FAN, "email": EMAIL},
        "creator": {"uuid": CREATOR},
        "metadata": {"k": "v"},
    }


def _subscription(status: str, cancel: bool, reason: str | None) -> dict[str, Any]:
    return {
        "object": "subscription",
        "id": "22222222-0000-4000-8000-000000000001",
        "status": status,
        "cancel_at_period_end": cancel,
        "expires_at": STAMP,
        "created_at": STAMP,
        "client_reference_id": "ref-1",
        "deactivation_reason": reason,
        "checkout_link": LINK,
        "purchaser": {"uuid": FAN, "email": EMAIL},
        "creator": {"uuid": CREATOR},
        "metadata": {"k": "v"},
    }


def _platform(**fields: Any) -> dict[str, Any]:
    return {**fields, "recipientUuid": CREATOR, "sender": SENDER, "timestamp": STAMP}


PLATFORM: list[Documented] = [
    Documented(
        "message.received",
        "message.received",
        MessageReceived,
        {
            "messageUuid": "33333333-0000-4000-8000-000000000001",
            "message": {
                "uuid": "33333333-0000-4000-8000-000000000001",
                "text": MESSAGE_TEXT,
                "hasMedia": True,
                "mediaUuids": ["m-2", "m-1"],
                "price": 499,
                "createdAt": STAMP,
            },
            "sender": SENDER,
            "recipientUuid": CREATOR,
            "isMuted": True,
            "timestamp": STAMP,
        },
        {
            "message_uuid": "33333333-0000-4000-8000-000000000001",
            "message.uuid": "33333333-0000-4000-8000-000000000001",
            "message.text": MESSAGE_TEXT,
            "message.has_media": True,
            "message.media_uuids": ("m-2", "m-1"),
            "message.price": 499,
            "message.created_at": STAMP,
            "recipient_uuid": CREATOR,
            "is_muted": True,
            "timestamp": STAMP,
            **SENDER_EXPECTED,
        },
    ),
    Documented(
        "message.read",
        "message.read",
        MessageRead,
        {
            "counterpartUuid": FAN,
            "readMessagesCount": 7,
            "recipientUuid": CREATOR,
            "timestamp": STAMP,
        },
        {
            "counterpart_uuid": FAN,
            "read_messages_count": 7,
            "recipient_uuid": CREATOR,
            "timestamp": STAMP,
        },
    ),
    Documented(
        "subscription.new",
        "subscription.new",
        SubscriptionNew,
        _platform(price=999),
        {"price": 999, "recipient_uuid": CREATOR, "timestamp": STAMP, **SENDER_EXPECTED},
    ),
    Documented(
        "purchase.new/post",
        "purchase.new",
        PurchaseNew,
        _platform(postUuid="44444444-0000-4000-8000-000000000001", price=1500),
        {
            "post_uuid": "44444444-0000-4000-8000-000000000001",
            "route_uuid": None,
            "price": 1500,
            "recipient_uuid": CREATOR,
            "timestamp": STAMP,
            **SENDER_EXPECTED,
        },
    ),
    Documented(
        "purchase.new/message",
        "purchase.new",
        PurchaseNew,
        _platform(routeUuid="55555555-0000-4000-8000-000000000001", price=300),
        {
            "post_uuid": None,
            "route_uuid": "55555555-0000-4000-8000-000000000001",
            "price": 300,
            **SENDER_EXPECTED,
        },
    ),
    Documented(
        "tip.new/post",
        "tip.new",
        TipNew,
        _platform(
            context="post",
            senderUuid=FAN,
            price=500,
            postUuid="44444444-0000-4000-8000-000000000001",
        ),
        {
            "context": "post",
            "sender_uuid": FAN,
            "price": 500,
            "post_uuid": "44444444-0000-4000-8000-000000000001",
            "message_uuid": None,
            "recipient_uuid": CREATOR,
            "timestamp": STAMP,
            **SENDER_EXPECTED,
        },
    ),
    Documented(
        "tip.new/message",
        "tip.new",
        TipNew,
        _platform(
            context="message",
            senderUuid=FAN,
            price=250,
            messageUuid="33333333-0000-4000-8000-000000000009",
        ),
        {
            "context": "message",
            "price": 250,
            "post_uuid": None,
            "message_uuid": "33333333-0000-4000-8000-000000000009",
            **SENDER_EXPECTED,
        },
    ),
    # Fanvue does not document this payload: only the type can be relied on, so it travels
    # in the (assumed) type header, and the typed event models no field.
    Documented(
        "follow.new/header",
        "follow.new",
        FollowNew,
        {"recipientUuid": CREATOR, "note": "undocumented shape"},
        header_type="follow.new",
    ),
    Documented(
        "follow.new/type-field",
        "follow.new",
        FollowNew,
        {"type": "follow.new", "recipientUuid": CREATOR, "sender": SENDER},
    ),
]

ENVELOPED: list[Documented] = [
    *(
        Documented(
            f"checkout_link.payment.{status}",
            f"checkout_link.payment.{status}",
            CheckoutPaymentEvent,
            _envelope(
                f"evt-pay-{status}", f"checkout_link.payment.{status}", _payment(status, paid)
            ),
            {
                "id": f"evt-pay-{status}",
                "timestamp": STAMP,
                "data.object": "payment",
                "data.id": "FV-1001",
                "data.status": status,
                "data.billing_reason": "subscription_renewal",
                "data.gross": 2000,
                "data.net": 1600 if paid else None,
                "data.fees.fanvue_fee": 300,
                "data.fees.transaction_fee": None,
                "data.currency": "EUR",
                "data.paid_in_full": paid,
                "data.installment.number": 1,
                "data.installment.of": 4,
                "data.subscription.uuid": "22222222-0000-4000-8000-000000000001",
                "data.transaction_id": "tx-9" if paid else None,
                "data.created_at": STAMP,
                "data.paid_at": STAMP if paid else None,
                **LINKED_EXPECTED,
            },
        )
        for status, paid in (("pending", False), ("succeeded", True), ("failed", False))
    ),
    *(
        Documented(
            f"checkout_link.subscription.{change}",
            f"checkout_link.subscription.{change}",
            CheckoutSubscriptionEvent,
            _envelope(
                f"evt-sub-{change}",
                f"checkout_link.subscription.{change}",
                _subscription(status, cancel, reason),
            ),
            {
                "id": f"evt-sub-{change}",
                "data.object": "subscription",
                "data.id": "22222222-0000-4000-8000-000000000001",
                "data.status": status,
                "data.cancel_at_period_end": cancel,
                "data.expires_at": STAMP,
                "data.created_at": STAMP,
                "data.deactivation_reason": reason,
                **LINKED_EXPECTED,
            },
        )
        for change, status, cancel, reason in (
            ("activated", "active", False, None),
            ("deactivated", "expired", True, "NON_RENEWING"),
            ("cancel_at_period_end_changed", "active", True, None),
        )
    ),
    Documented(
        "checkout_link.refund.created",
        "checkout_link.refund.created",
        CheckoutRefundEvent,
        _envelope(
            "evt-refund",
            "checkout_link.refund.created",
            {
                "object": "refund",
                "id": "FVC-7",
                "payment_id": "FV-1001",
                "amount": 2000,
                "currency": None,
                "reason": "duplicate",
                "full_amount": True,
                "created_at": STAMP,
                "client_reference_id": "ref-1",
                "checkout_link": LINK,
                "purchaser": {"uuid": FAN, "email": EMAIL},
                "creator": {"uuid": CREATOR},
                "metadata": {"k": "v"},
            },
        ),
        {
            "id": "evt-refund",
            "data.object": "refund",
            "data.id": "FVC-7",
            "data.payment_id": "FV-1001",
            "data.amount": 2000,
            "data.currency": None,
            "data.reason": "duplicate",
            "data.full_amount": True,
            "data.created_at": STAMP,
            **LINKED_EXPECTED,
        },
    ),
    *(
        Documented(
            f"checkout_link.dispute.{stage}",
            f"checkout_link.dispute.{stage}",
            CheckoutDisputeEvent,
            # The dispute resource's fields are not documented: an arbitrary data object.
            _envelope(
                f"evt-dispute-{stage}",
                f"checkout_link.dispute.{stage}",
                {"object": "dispute", "creator": {"uuid": CREATOR}},
            ),
            {"id": f"evt-dispute-{stage}", "data.object": "dispute"},
        )
        for stage in ("flagged", "created")
    ),
    Documented(
        "payout.paid",
        "payout.paid",
        PayoutPaid,
        _envelope(
            "evt-payout",
            "payout.paid",
            {
                "object": "payout",
                "id": "FVW-3",
                "status": "paid",
                "amount": 100000,
                "currency": "USD",
                "fees": {"transaction_fee": 150},
                "fx_rate": 1.08,
                "external_reference_id": "bank-77",
                "paid_at": STAMP,
                "creator": {"uuid": CREATOR},
            },
        ),
        {
            "id": "evt-payout",
            "data.object": "payout",
            "data.id": "FVW-3",
            "data.status": "paid",
            "data.amount": 100000,
            "data.currency": "USD",
            "data.fees.transaction_fee": 150,
            "data.fx_rate": 1.08,
            "data.external_reference_id": "bank-77",
            "data.paid_at": STAMP,
            "data.creator.uuid": CREATOR,
        },
    ),
    Documented(
        "app.payment.succeeded",
        "app.payment.succeeded",
        AppPaymentSucceeded,
        _envelope(
            "evt-app-paid",
            "app.payment.succeeded",
            {"object": "payment", "purchase_reference": "appotp_123"},
        ),
        {"id": "evt-app-paid", "timestamp": STAMP, "data.object": "payment"},
    ),
    Documented(
        "app.payment.refunded",
        "app.payment.refunded",
        AppPaymentRefunded,
        _envelope(
            "evt-app-refund",
            "app.payment.refunded",
            {"object": "refund", "purchase_reference": "appotp_123"},
        ),
        {"id": "evt-app-refund", "data.object": "refund"},
    ),
]

DOCUMENTED: list[Documented] = [*PLATFORM, *ENVELOPED]
