"""Fanvue webhooks without a web framework: verify, recognise, record, dispatch, retry, send.

Three families arrive (the README's "Webhooks" section has the full table and the rules):

- platform events, flat: ``message.received``, ``message.read``, ``follow.new``,
  ``subscription.new`` (assumed string), ``purchase.new``, ``tip.new``;
- checkout and payout events, enveloped ``{id, type, timestamp, data}``:
  ``checkout_link.payment.*``, ``checkout_link.subscription.*``, ``checkout_link.refund.created``,
  ``checkout_link.dispute.*``, ``payout.paid``;
- App Store events, enveloped: ``app.payment.succeeded``, ``app.payment.refunded``.

Modules: ``signature`` (sign, verify), ``events`` / ``checkout`` (typed events), ``parse``
(recognition), ``registry`` (handlers), ``inbox`` / ``records`` / ``records_redis`` (durable,
sealed, deduplicated deliveries and their retries), ``retrier`` (the worker's job),
``secrets`` / ``subscriptions`` / ``verifier`` (per-subscription signing secrets), ``sender``
and ``cli``.
"""

from __future__ import annotations

from .backend import WebhookBackend
from .checkout import (
    AppPaymentRefunded,
    AppPaymentSucceeded,
    CheckoutDisputeEvent,
    CheckoutLinkRef,
    CheckoutPayment,
    CheckoutPaymentEvent,
    CheckoutRefund,
    CheckoutRefundEvent,
    CheckoutSubscription,
    CheckoutSubscriptionEvent,
    EnvelopeEvent,
    Installment,
    PaymentFees,
    Payout,
    PayoutFees,
    PayoutPaid,
    Purchaser,
    Resource,
    UuidRef,
)
from .events import (
    ChatMessage,
    FollowNew,
    MessageRead,
    MessageReceived,
    PurchaseNew,
    Sender,
    SubscriptionNew,
    TipNew,
    UnknownEvent,
    WebhookEvent,
)
from .inbox import WebhookInbox, delivery_key
from .parse import EVENT_CLASSES, EVENT_TYPES, TYPE_HEADER, parse_event, type_from_shape
from .policy import RetryPolicy
from .records import DeliveryInfo, InboxStore, MemoryInboxStore
from .records_redis import RedisInboxStore
from .registry import WebhookHandlerError, WebhookRegistry
from .retrier import WebhookRetrier
from .secrets import MemorySubscriptionSecrets, RedisSubscriptionSecrets, SubscriptionSecrets
from .sender import send_webhook
from .signature import DEFAULT_TOLERANCE, SIGNATURE_HEADER, sign, verify_signature
from .subscriptions import (
    CreatedSubscription,
    WebhookSubscription,
    create_webhook_subscription,
    list_webhook_subscriptions,
    subscribe,
)
from .verifier import signing_creator, verify_delivery

__all__ = [
    "DEFAULT_TOLERANCE",
    "EVENT_CLASSES",
    "EVENT_TYPES",
    "SIGNATURE_HEADER",
    "TYPE_HEADER",
    "AppPaymentRefunded",
    "AppPaymentSucceeded",
    "ChatMessage",
    "CheckoutDisputeEvent",
    "CheckoutLinkRef",
    "CheckoutPayment",
    "CheckoutPaymentEvent",
    "CheckoutRefund",
    "CheckoutRefundEvent",
    "CheckoutSubscription",
    "CheckoutSubscriptionEvent",
    "CreatedSubscription",
    "DeliveryInfo",
    "EnvelopeEvent",
    "FollowNew",
    "InboxStore",
    "Installment",
    "MemoryInboxStore",
    "MemorySubscriptionSecrets",
    "MessageRead",
    "MessageReceived",
    "PaymentFees",
    "Payout",
    "PayoutFees",
    "PayoutPaid",
    "PurchaseNew",
    "Purchaser",
    "RedisInboxStore",
    "RedisSubscriptionSecrets",
    "Resource",
    "RetryPolicy",
    "Sender",
    "SubscriptionNew",
    "SubscriptionSecrets",
    "TipNew",
    "UnknownEvent",
    "UuidRef",
    "WebhookBackend",
    "WebhookEvent",
    "WebhookHandlerError",
    "WebhookInbox",
    "WebhookRegistry",
    "WebhookRetrier",
    "WebhookSubscription",
    "create_webhook_subscription",
    "delivery_key",
    "list_webhook_subscriptions",
    "parse_event",
    "send_webhook",
    "sign",
    "signing_creator",
    "subscribe",
    "type_from_shape",
    "verify_delivery",
    "verify_signature",
]
