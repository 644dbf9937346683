"""From a verified body to a typed event: which family, which type, which class.

Recognition, first rule that applies (the README's table):

1. An object with a string ``id``, a string ``type`` and an object ``data`` is an envelope
   (checkout, payout, App Store): the type is its ``type``.
2. Otherwise the body is a flat platform event. Its type is the body's string ``type`` field
   if it has one, else the ``X-Fanvue-Event-Type`` header if one came (both assumptions:
   Fanvue's flat examples carry neither), else it is recognised from its documented shape
   (:func:`type_from_shape`).
3. A type with no class here, an envelope type that came without an envelope, or a
   documented field holding another JSON type gives :class:`UnknownEvent` (with ``reason``): a signed JSON object is
   never rejected for its shape. Only a body that is not a JSON object is a ``ProtocolError``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from ..errors import ProtocolError
from ._fields import ShapeMismatch
from .checkout import (
    AppPaymentRefunded,
    AppPaymentSucceeded,
    CheckoutDisputeEvent,
    CheckoutPaymentEvent,
    CheckoutRefundEvent,
    CheckoutSubscriptionEvent,
    PayoutPaid,
)
from .events import (
    FollowNew,
    MessageRead,
    MessageReceived,
    PurchaseNew,
    SubscriptionNew,
    TipNew,
    UnknownEvent,
    WebhookEvent,
)

__all__ = [
    "EVENT_CLASSES",
    "EVENT_TYPES",
    "TYPE_HEADER",
    "decode_body",
    "is_envelope",
    "parse_event",
    "type_from_shape",
]

TYPE_HEADER = "X-Fanvue-Event-Type"  # assumption: Fanvue documents no such header

_CLASSES: tuple[type[WebhookEvent], ...] = (
    MessageReceived,
    MessageRead,
    FollowNew,
    SubscriptionNew,
    PurchaseNew,
    TipNew,
    CheckoutPaymentEvent,
    CheckoutSubscriptionEvent,
    CheckoutRefundEvent,
    CheckoutDisputeEvent,
    PayoutPaid,
    AppPaymentSucceeded,
    AppPaymentRefunded,
)
EVENT_CLASSES: dict[str, type[WebhookEvent]] = {t: cls for cls in _CLASSES for t in cls.TYPES}
"""Every modelled type string and its class."""
EVENT_TYPES: tuple[str, ...] = tuple(EVENT_CLASSES)


def decode_body(body: bytes) -> dict[str, Any]:
    """The JSON object in ``body``; ``ProtocolError`` (``invalid_event``) for anything else."""
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise ProtocolError("webhook body is not JSON", code="invalid_event") from exc
    if not isinstance(payload, dict):
        raise ProtocolError("webhook body must be a JSON object", code="invalid_event")
    return payload


def is_envelope(payload: Mapping[str, Any]) -> bool:
    """Rule 1: ``{id: str, type: str, data: object, ...}``."""
    return (
        isinstance(payload.get("id"), str)
        and isinstance(payload.get("type"), str)
        and isinstance(payload.get("data"), dict)
    )


def _has(payload: Mapping[str, Any], *keys: str) -> bool:
    return all(payload.get(key) is not None for key in keys)


def type_from_shape(payload: Mapping[str, Any]) -> str | None:
    """The platform type a flat body's documented fields identify, else ``None``.

    ``follow.new`` has no documented payload, so it is never recognised by shape.
    """
    if _has(payload, "messageUuid") and isinstance(payload.get("message"), dict):
        return "message.received"
    if _has(payload, "counterpartUuid", "readMessagesCount"):
        return "message.read"
    if payload.get("context") in ("post", "message") and _has(payload, "senderUuid"):
        return "tip.new"
    if _has(payload, "price") and (_has(payload, "postUuid") or _has(payload, "routeUuid")):
        return "purchase.new"
    if _has(payload, "price", "sender", "recipientUuid"):
        return "subscription.new"  # the New Subscriber shape; the type string is assumed
    return None


def _declared_type(payload: Mapping[str, Any], header_type: str | None) -> str | None:
    declared = payload.get("type")
    if isinstance(declared, str) and declared:
        return declared
    return header_type or None


def parse_event(body: bytes, *, header_type: str | None = None) -> WebhookEvent:
    """The typed event in a (verified) raw body (see the module docstring for the rules).

    ``header_type`` is the ``X-Fanvue-Event-Type`` header, if the delivery had one.
    ``ProtocolError`` (``invalid_event``) only when the body is not a JSON object.
    """
    payload = decode_body(body)
    return event_from_payload(payload, header_type=header_type)


def event_from_payload(payload: dict[str, Any], *, header_type: str | None = None) -> WebhookEvent:
    """:func:`parse_event` for an already decoded body."""
    enveloped = is_envelope(payload)
    if enveloped:
        event_type: str | None = payload["type"]
    else:
        event_type = _declared_type(payload, header_type) or type_from_shape(payload)
    if event_type is None:
        return UnknownEvent(type="", payload=payload, reason="unrecognised shape")
    cls = EVENT_CLASSES.get(event_type)
    if cls is None:
        return UnknownEvent(type=event_type, payload=payload, reason="unmodelled type")
    if cls.ENVELOPED and not enveloped:
        return UnknownEvent(type=event_type, payload=payload, reason="expected an envelope")
    # A platform event that arrives enveloped is read from its ``data`` (and deduped on id).
    source: Mapping[str, Any] = payload["data"] if enveloped else payload
    envelope: dict[str, Any] = {}
    if cls.ENVELOPED:
        stamp = payload.get("timestamp")
        envelope = {"id": payload["id"], "timestamp": stamp if isinstance(stamp, str) else None}
    try:
        fields = cls.fields_from(source)
    except ShapeMismatch as exc:
        return UnknownEvent(type=event_type, payload=payload, reason=str(exc))
    return cls(type=event_type, payload=payload, **envelope, **fields)
