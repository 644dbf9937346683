"""Typed enveloped events: checkout links, payouts and App Store payments.

Envelope (api.fanvue.com/docs/checkout/overview, /docs/app-store/webhooks)::

    {"id": "<uuid>", "type": "<type>", "timestamp": "<ISO 8601>", "data": {"object": ..., ...}}

``data`` is read into the resource class of its type, field for field (snake_case); amounts
are integer minor units of the resource's ``currency`` (ISO 4217, may be null). Resources
whose fields Fanvue does not document (disputes, App Store payments and refunds) keep only
``object``; the rest is in ``payload["data"]``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from . import _fields as f
from .events import WebhookEvent

__all__ = [
    "AppPaymentRefunded",
    "AppPaymentSucceeded",
    "CheckoutDisputeEvent",
    "CheckoutLinkRef",
    "CheckoutPayment",
    "CheckoutPaymentEvent",
    "CheckoutRefund",
    "CheckoutRefundEvent",
    "CheckoutSubscription",
    "CheckoutSubscriptionEvent",
    "EnvelopeEvent",
    "Installment",
    "PaymentFees",
    "Payout",
    "PayoutFees",
    "PayoutPaid",
    "Purchaser",
    "Resource",
    "UuidRef",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class UuidRef:
    """A ``{uuid}`` reference (``creator``, ``subscription``)."""

    uuid: str | None = None

    @classmethod
    def read(cls, data: Mapping[str, Any], key: str) -> UuidRef | None:
        found = f.obj(data, key)
        return None if found is None else cls(uuid=f.text(found, "uuid", f"{key}."))


@dataclass(frozen=True, slots=True, kw_only=True)
class CheckoutLinkRef:
    """``checkout_link`` {uuid, name, product_uuid, product_price_uuid}."""

    uuid: str | None = None
    name: str | None = None
    product_uuid: str | None = None
    product_price_uuid: str | None = None

    @classmethod
    def read(cls, data: Mapping[str, Any]) -> CheckoutLinkRef | None:
        found = f.obj(data, "checkout_link")
        if found is None:
            return None
        where = "checkout_link."
        return cls(
            uuid=f.text(found, "uuid", where),
            name=f.text(found, "name", where),
            product_uuid=f.text(found, "product_uuid", where),
            product_price_uuid=f.text(found, "product_price_uuid", where),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class Purchaser:
    """``purchaser`` {uuid, email|null}; the email stays out of ``repr()``."""

    uuid: str | None = None
    email: str | None = field(default=None, repr=False)

    @classmethod
    def read(cls, data: Mapping[str, Any]) -> Purchaser | None:
        found = f.obj(data, "purchaser")
        if found is None:
            return None
        return cls(
            uuid=f.text(found, "uuid", "purchaser."), email=f.text(found, "email", "purchaser.")
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class PaymentFees:
    """``fees`` of a payment: {fanvue_fee, transaction_fee}, each nullable."""

    fanvue_fee: int | None = None
    transaction_fee: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class PayoutFees:
    """``fees`` of a payout: {transaction_fee}."""

    transaction_fee: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Installment:
    """``installment`` {number, of} of a buy-now-pay-later payment."""

    number: int | None = None
    of: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Resource:
    """``data`` of a resource whose fields are not documented: its ``object`` name only."""

    object: str | None = None

    @classmethod
    def read(cls, data: Mapping[str, Any]) -> dict[str, Any]:
        return {"object": f.text(data, "object")}


def _metadata(data: Mapping[str, Any]) -> Mapping[str, Any] | None:
    return f.obj(data, "metadata")


def _linked(data: Mapping[str, Any]) -> dict[str, Any]:
    """The fields every checkout-link resource carries."""
    return {
        "client_reference_id": f.text(data, "client_reference_id"),
        "checkout_link": CheckoutLinkRef.read(data),
        "purchaser": Purchaser.read(data),
        "creator": UuidRef.read(data, "creator"),
        "metadata": _metadata(data),
    }


@dataclass(frozen=True, slots=True, kw_only=True)
class CheckoutPayment(Resource):
    """``data`` of ``checkout_link.payment.*`` (``object`` = ``"payment"``)."""

    id: str | None = None  # the invoice number, e.g. FV-...
    status: str | None = None  # pending | succeeded | failed
    billing_reason: str | None = None  # one_time | subscription_initial | subscription_renewal
    gross: int | None = None
    net: int | None = None
    fees: PaymentFees | None = None
    currency: str | None = None
    paid_in_full: bool | None = None
    installment: Installment | None = None
    subscription: UuidRef | None = None
    client_reference_id: str | None = None
    transaction_id: str | None = None
    created_at: str | None = None
    paid_at: str | None = None
    checkout_link: CheckoutLinkRef | None = None
    purchaser: Purchaser | None = None
    creator: UuidRef | None = None
    metadata: Mapping[str, Any] | None = field(default=None, repr=False)

    @classmethod
    def read(cls, data: Mapping[str, Any]) -> dict[str, Any]:
        fees = f.obj(data, "fees")
        installment = f.obj(data, "installment")
        return {
            **Resource.read(data),
            **_linked(data),
            "id": f.text(data, "id"),
            "status": f.text(data, "status"),
            "billing_reason": f.text(data, "billing_reason"),
            "gross": f.integer(data, "gross"),
            "net": f.integer(data, "net"),
            "fees": None
            if fees is None
            else PaymentFees(
                fanvue_fee=f.integer(fees, "fanvue_fee", "fees."),
                transaction_fee=f.integer(fees, "transaction_fee", "fees."),
            ),
            "currency": f.text(data, "currency"),
            "paid_in_full": f.boolean(data, "paid_in_full"),
            "installment": None
            if installment is None
            else Installment(
                number=f.integer(installment, "number", "installment."),
                of=f.integer(installment, "of", "installment."),
            ),
            "subscription": UuidRef.read(data, "subscription"),
            "transaction_id": f.text(data, "transaction_id"),
            "created_at": f.text(data, "created_at"),
            "paid_at": f.text(data, "paid_at"),
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class CheckoutSubscription(Resource):
    """``data`` of ``checkout_link.subscription.*`` (``object`` = ``"subscription"``)."""

    id: str | None = None
    status: str | None = None  # active | cancelled | expired
    cancel_at_period_end: bool | None = None
    expires_at: str | None = None
    created_at: str | None = None
    client_reference_id: str | None = None
    deactivation_reason: str | None = None  # e.g. NON_RENEWING
    checkout_link: CheckoutLinkRef | None = None
    purchaser: Purchaser | None = None
    creator: UuidRef | None = None
    metadata: Mapping[str, Any] | None = field(default=None, repr=False)

    @classmethod
    def read(cls, data: Mapping[str, Any]) -> dict[str, Any]:
        return {
            **Resource.read(data),
            **_linked(data),
            "id": f.text(data, "id"),
            "status": f.text(data, "status"),
            "cancel_at_period_end": f.boolean(data, "cancel_at_period_end"),
            "expires_at": f.text(data, "expires_at"),
            "created_at": f.text(data, "created_at"),
            "deactivation_reason": f.text(data, "deactivation_reason"),
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class CheckoutRefund(Resource):
    """``data`` of ``checkout_link.refund.created`` (``object`` = ``"refund"``)."""

    id: str | None = None  # e.g. FVC-...
    payment_id: str | None = None
    amount: int | None = None  # positive: the whole payment
    currency: str | None = None
    reason: str | None = None
    full_amount: bool | None = None  # always true
    created_at: str | None = None
    client_reference_id: str | None = None
    checkout_link: CheckoutLinkRef | None = None
    purchaser: Purchaser | None = None
    creator: UuidRef | None = None
    metadata: Mapping[str, Any] | None = field(default=None, repr=False)

    @classmethod
    def read(cls, data: Mapping[str, Any]) -> dict[str, Any]:
        return {
            **Resource.read(data),
            **_linked(data),
            "id": f.text(data, "id"),
            "payment_id": f.text(data, "payment_id"),
            "amount": f.integer(data, "amount"),
            "currency": f.text(data, "currency"),
            "reason": f.text(data, "reason"),
            "full_amount": f.boolean(data, "full_amount"),
            "created_at": f.text(data, "created_at"),
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class Payout(Resource):
    """``data`` of ``payout.paid`` (``object`` = ``"payout"``); no purchaser, no metadata."""

    id: str | None = None  # e.g. FVW-...
    status: str | None = None  # "paid"
    amount: int | None = None
    currency: str | None = None
    fees: PayoutFees | None = None
    fx_rate: float | None = None
    external_reference_id: str | None = None
    paid_at: str | None = None
    creator: UuidRef | None = None

    @classmethod
    def read(cls, data: Mapping[str, Any]) -> dict[str, Any]:
        fees = f.obj(data, "fees")
        return {
            **Resource.read(data),
            "id": f.text(data, "id"),
            "status": f.text(data, "status"),
            "amount": f.integer(data, "amount"),
            "currency": f.text(data, "currency"),
            "fees": None
            if fees is None
            else PayoutFees(transaction_fee=f.integer(fees, "transaction_fee", "fees.")),
            "fx_rate": f.number(data, "fx_rate"),
            "external_reference_id": f.text(data, "external_reference_id"),
            "paid_at": f.text(data, "paid_at"),
            "creator": UuidRef.read(data, "creator"),
        }


# --- events --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class EnvelopeEvent(WebhookEvent):
    """An enveloped event: ``id`` (stable across Fanvue's retries) and ``timestamp``."""

    ENVELOPED: ClassVar[bool] = True
    id: str
    timestamp: str | None = None


def _resource(cls: type[Resource], source: Mapping[str, Any]) -> Any:
    return cls(**cls.read(source))


@dataclass(frozen=True, slots=True, kw_only=True)
class CheckoutPaymentEvent(EnvelopeEvent):
    """``checkout_link.payment.pending|succeeded|failed``."""

    TYPES: ClassVar[tuple[str, ...]] = (
        "checkout_link.payment.pending",
        "checkout_link.payment.succeeded",
        "checkout_link.payment.failed",
    )
    data: CheckoutPayment

    @classmethod
    def fields_from(cls, source: Mapping[str, Any]) -> dict[str, Any]:
        return {"data": _resource(CheckoutPayment, source)}


@dataclass(frozen=True, slots=True, kw_only=True)
class CheckoutSubscriptionEvent(EnvelopeEvent):
    """``checkout_link.subscription.activated|deactivated|cancel_at_period_end_changed``."""

    TYPES: ClassVar[tuple[str, ...]] = (
        "checkout_link.subscription.activated",
        "checkout_link.subscription.deactivated",
        "checkout_link.subscription.cancel_at_period_end_changed",
    )
    data: CheckoutSubscription

    @classmethod
    def fields_from(cls, source: Mapping[str, Any]) -> dict[str, Any]:
        return {"data": _resource(CheckoutSubscription, source)}


@dataclass(frozen=True, slots=True, kw_only=True)
class CheckoutRefundEvent(EnvelopeEvent):
    """``checkout_link.refund.created``."""

    TYPES: ClassVar[tuple[str, ...]] = ("checkout_link.refund.created",)
    data: CheckoutRefund

    @classmethod
    def fields_from(cls, source: Mapping[str, Any]) -> dict[str, Any]:
        return {"data": _resource(CheckoutRefund, source)}


@dataclass(frozen=True, slots=True, kw_only=True)
class CheckoutDisputeEvent(EnvelopeEvent):
    """``checkout_link.dispute.flagged`` (early warning) and ``.created`` (chargeback).
    The dispute resource's fields are not documented: ``data`` has ``object`` only."""

    TYPES: ClassVar[tuple[str, ...]] = (
        "checkout_link.dispute.flagged",
        "checkout_link.dispute.created",
    )
    data: Resource

    @classmethod
    def fields_from(cls, source: Mapping[str, Any]) -> dict[str, Any]:
        return {"data": _resource(Resource, source)}


@dataclass(frozen=True, slots=True, kw_only=True)
class PayoutPaid(EnvelopeEvent):
    """``payout.paid``: one per creator withdrawal."""

    TYPES: ClassVar[tuple[str, ...]] = ("payout.paid",)
    data: Payout

    @classmethod
    def fields_from(cls, source: Mapping[str, Any]) -> dict[str, Any]:
        return {"data": _resource(Payout, source)}


@dataclass(frozen=True, slots=True, kw_only=True)
class AppPaymentSucceeded(EnvelopeEvent):
    """``app.payment.succeeded``: a one-time App Store purchase was paid
    (``data.object`` = ``"payment"``; its other fields are not documented)."""

    TYPES: ClassVar[tuple[str, ...]] = ("app.payment.succeeded",)
    data: Resource

    @classmethod
    def fields_from(cls, source: Mapping[str, Any]) -> dict[str, Any]:
        return {"data": _resource(Resource, source)}


@dataclass(frozen=True, slots=True, kw_only=True)
class AppPaymentRefunded(EnvelopeEvent):
    """``app.payment.refunded``: refund, chargeback or cancellation of a one-time App Store
    purchase (``data.object`` = ``"refund"``; its other fields are not documented)."""

    TYPES: ClassVar[tuple[str, ...]] = ("app.payment.refunded",)
    data: Resource

    @classmethod
    def fields_from(cls, source: Mapping[str, Any]) -> dict[str, Any]:
        return {"data": _resource(Resource, source)}
