"""Typed platform events: Fanvue's flat payloads, field for field (snake_case).

Each class reads only what Fanvue documents (api.fanvue.com/docs/webhooks/...); everything else stays reachable in ``payload``, the whole decoded body. Fields that hold fan
data (handles, names, message text) are left out of ``repr()`` so a logged event leaks none.
Amounts (``price``) are integer minor units.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from . import _fields as f

__all__ = [
    "ChatMessage",
    "FollowNew",
    "MessageRead",
    "MessageReceived",
    "PurchaseNew",
    "Sender",
    "SubscriptionNew",
    "TipNew",
    "UnknownEvent",
    "WebhookEvent",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class WebhookEvent:
    """A verified delivery: its ``type`` and the raw decoded body (``payload``)."""

    TYPES: ClassVar[tuple[str, ...]] = ()
    ENVELOPED: ClassVar[bool] = False

    type: str
    payload: Mapping[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def fields_from(cls, source: Mapping[str, Any]) -> dict[str, Any]:
        """The class's own attributes read from ``source`` (``ShapeMismatch`` on a wrong type)."""
        return {}


@dataclass(frozen=True, slots=True, kw_only=True)
class UnknownEvent(WebhookEvent):
    """A signed JSON object this version does not model; read ``payload`` yourself.

    ``type`` is the type the delivery declared (envelope, ``type`` field or header), or ``""``
    when it declared none and its shape matched no documented one. ``reason`` says why it
    is not typed: ``unrecognised shape``, ``unmodelled type`` or the field that did not match.
    """

    reason: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class Sender:
    """The fan who acted: ``sender`` {uuid, handle, displayName, avatarUrl}."""

    uuid: str | None = None
    handle: str | None = field(default=None, repr=False)
    display_name: str | None = field(default=None, repr=False)
    avatar_url: str | None = field(default=None, repr=False)

    @classmethod
    def read(cls, data: Mapping[str, Any], key: str = "sender") -> Sender | None:
        found = f.obj(data, key)
        if found is None:
            return None
        where = f"{key}."
        return cls(
            uuid=f.text(found, "uuid", where),
            handle=f.text(found, "handle", where),
            display_name=f.text(found, "displayName", where),
            avatar_url=f.text(found, "avatarUrl", where),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class ChatMessage:
    """``message`` of Message Received: ``price`` in cents when it is pay-to-view."""

    uuid: str | None = None
    text: str | None = field(default=None, repr=False)
    has_media: bool | None = None
    media_uuids: tuple[str, ...] | None = None  # in the order the fan attached them
    price: int | None = None
    created_at: str | None = None

    @classmethod
    def read(cls, data: Mapping[str, Any]) -> ChatMessage | None:
        found = f.obj(data, "message")
        if found is None:
            return None
        return cls(
            uuid=f.text(found, "uuid", "message."),
            text=f.text(found, "text", "message."),
            has_media=f.boolean(found, "hasMedia", "message."),
            media_uuids=f.text_list(found, "mediaUuids", "message."),
            price=f.integer(found, "price", "message."),
            created_at=f.text(found, "createdAt", "message."),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class MessageReceived(WebhookEvent):
    """``message.received``: a fan sent the creator (``recipient_uuid``) a message."""

    TYPES: ClassVar[tuple[str, ...]] = ("message.received",)
    message_uuid: str | None = None
    message: ChatMessage | None = None
    sender: Sender | None = None
    recipient_uuid: str | None = None
    is_muted: bool | None = None  # the creator muted this sender
    timestamp: str | None = None

    @classmethod
    def fields_from(cls, source: Mapping[str, Any]) -> dict[str, Any]:
        return {
            "message_uuid": f.text(source, "messageUuid"),
            "message": ChatMessage.read(source),
            "sender": Sender.read(source),
            "recipient_uuid": f.text(source, "recipientUuid"),
            "is_muted": f.boolean(source, "isMuted"),
            "timestamp": f.text(source, "timestamp"),
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class MessageRead(WebhookEvent):
    """``message.read``: the creator read ``read_messages_count`` messages of a counterpart."""

    TYPES: ClassVar[tuple[str, ...]] = ("message.read",)
    counterpart_uuid: str | None = None
    read_messages_count: int | None = None
    recipient_uuid: str | None = None
    timestamp: str | None = None

    @classmethod
    def fields_from(cls, source: Mapping[str, Any]) -> dict[str, Any]:
        return {
            "counterpart_uuid": f.text(source, "counterpartUuid"),
            "read_messages_count": f.integer(source, "readMessagesCount"),
            "recipient_uuid": f.text(source, "recipientUuid"),
            "timestamp": f.text(source, "timestamp"),
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class FollowNew(WebhookEvent):
    """``follow.new``: a new follower. Fanvue's payload is not documented, so this class
    models no field: read ``payload``."""

    TYPES: ClassVar[tuple[str, ...]] = ("follow.new",)


@dataclass(frozen=True, slots=True, kw_only=True)
class SubscriptionNew(WebhookEvent):
    """``subscription.new`` (assumed type string): a fan subscribed for ``price`` minor units."""

    TYPES: ClassVar[tuple[str, ...]] = ("subscription.new",)
    price: int | None = None
    recipient_uuid: str | None = None
    sender: Sender | None = None
    timestamp: str | None = None

    @classmethod
    def fields_from(cls, source: Mapping[str, Any]) -> dict[str, Any]:
        return {
            "price": f.integer(source, "price"),
            "recipient_uuid": f.text(source, "recipientUuid"),
            "sender": Sender.read(source),
            "timestamp": f.text(source, "timestamp"),
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class PurchaseNew(WebhookEvent):
    """``purchase.new``: a post (``post_uuid``) or a message (``route_uuid``) was bought."""

    TYPES: ClassVar[tuple[str, ...]] = ("purchase.new",)
    post_uuid: str | None = None
    route_uuid: str | None = None
    price: int | None = None
    recipient_uuid: str | None = None
    sender: Sender | None = None
    timestamp: str | None = None

    @classmethod
    def fields_from(cls, source: Mapping[str, Any]) -> dict[str, Any]:
        return {
            "post_uuid": f.text(source, "postUuid"),
            "route_uuid": f.text(source, "routeUuid"),
            "price": f.integer(source, "price"),
            "recipient_uuid": f.text(source, "recipientUuid"),
            "sender": Sender.read(source),
            "timestamp": f.text(source, "timestamp"),
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class TipNew(WebhookEvent):
    """``tip.new``: ``context`` is ``"post"`` (with ``post_uuid``) or ``"message"`` (with
    ``message_uuid``); ``price`` in minor units."""

    TYPES: ClassVar[tuple[str, ...]] = ("tip.new",)
    context: str | None = None
    recipient_uuid: str | None = None
    sender_uuid: str | None = None
    price: int | None = None
    sender: Sender | None = None
    post_uuid: str | None = None
    message_uuid: str | None = None
    timestamp: str | None = None

    @classmethod
    def fields_from(cls, source: Mapping[str, Any]) -> dict[str, Any]:
        return {
            "context": f.text(source, "context"),
            "recipient_uuid": f.text(source, "recipientUuid"),
            "sender_uuid": f.text(source, "senderUuid"),
            "price": f.integer(source, "price"),
            "sender": Sender.read(source),
            "post_uuid": f.text(source, "postUuid"),
            "message_uuid": f.text(source, "messageUuid"),
            "timestamp": f.text(source, "timestamp"),
        }
