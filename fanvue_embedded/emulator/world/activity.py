"""What fans do to a creator's world, and the flat webhook payload each action makes Fanvue send.

Each action changes the world the API reads (a chat and its unread count, a follower or
subscriber, an earnings row, a post's tips, a purchased message) and returns
``(event type, payload)`` with the fields webhooks.md documents, built from the items it
touched. ``ActivityError`` (with a 404/409/422 status) when the action is impossible.

Assumptions where Fanvue documents nothing (also in the README): ``follow.new`` carries the New
Subscriber body without ``price``; the New Subscriber type string is ``subscription.new``; a
message purchase's ``routeUuid`` is the purchased message's uuid; ``message.read`` fires only
when something was unread.
"""

from __future__ import annotations

from typing import Any

from .model import World
from .money import NET_SHARE, user_ref
from .people import recompute_spend
from .store import Item, Store

Event = tuple[str, dict[str, Any]]
SUBSCRIPTION_DAYS = 30
DAY = 86_400.0
# Notification event types (see api/h_chats.NOTIFICATION_KEYS) the actions add.
NEW_FOLLOWER, NEW_SUBSCRIBER, NEW_TIP, NEW_PURCHASE = 12, 10, 11, 9


class ActivityError(Exception):
    """The action cannot happen: ``status`` 404 (no such item), 409 (state) or 422 (value)."""

    def __init__(self, status: int, field: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.field = field


def sender(person: Item) -> dict[str, Any]:
    """The ``sender`` object of a platform event."""
    return {
        "uuid": person["uuid"],
        "handle": person["handle"],
        "displayName": person["displayName"],
        "avatarUrl": person.get("avatarUrl"),
    }


def _flat(world: World, person: Item, **fields: Any) -> dict[str, Any]:
    return {
        **fields,
        "recipientUuid": world.owner.uuid,
        "sender": sender(person),
        "timestamp": world.now_iso(),
    }


def new_fan(world: World) -> Item:
    """A person who just found the creator: no relationship yet, no chat."""
    fan_uuid = world.new_uuid("fan")
    number = world.counter
    now = world.now_iso()
    person: Item = {
        "uuid": fan_uuid,
        "handle": f"new.fan{number}",
        "displayName": f"New Fan {number}",
        "nickname": None,
        "avatarUrl": f"https://avatars.emulator.test/new.fan{number}.png",
        "registeredAt": now,
        "isTopSpender": False,
        "isCreator": False,
        "status": None,
        "_since": now,
        "_spent": 0,
        "isOnline": True,
        "lastSeenAt": now,
    }
    return world.people.add(person)


def find_fan(world: World, ref: str) -> Item:
    """A person of the world by uuid or handle; ``new`` makes one."""
    if ref == "new":
        return new_fan(world)
    found = world.person(ref)
    if found is None:
        found = next((p for p in world.people if p.get("handle") == ref), None)
    if found is None or found["uuid"] == world.owner.uuid:
        raise ActivityError(404, "fan", f"no fan {ref!r} in this creator's world")
    return found


# -- chat ----------------------------------------------------------------------------------


def _chat_with(world: World, person: Item) -> Item:
    chat = world.chats.get(person["uuid"])
    if chat is None:
        chat = world.chats.add(
            {
                "userUuid": person["uuid"],
                "createdAt": world.now_iso(),
                "lastMessageAt": None,
                "isMuted": False,
                "_unread": 0,
                "_total": 0,
                "_archived": False,
            }
        )
    return chat


def fan_message(
    world: World, person: Item, text: str | None, media: list[str], price: int | None
) -> Event:
    """The fan writes to the creator: a new unread message in their chat → ``message.received``."""
    chat = _chat_with(world, person)
    messages = world.messages_of(person["uuid"])  # the history first, then the new message
    first = world.media.get(media[0]) if media else None
    message = messages.add(
        {
            "uuid": world.new_uuid("message"),
            "text": text,
            "sentAt": world.now_iso(),
            "type": "SINGLE_RECIPIENT",
            "sender": {"uuid": person["uuid"], "handle": person["handle"]},
            "recipient": world.owner_ref(),
            "isRead": False,
            "hasMedia": bool(media),
            "mediaType": None if first is None else first["mediaType"],
            "mediaUuids": list(media),
            "pricing": None if price is None else {"USD": {"price": price}},
            "purchasedAt": None,
            "sentByUserId": None,
        }
    )
    chat["lastMessageAt"] = message["sentAt"]
    chat["_total"] = int(chat["_total"]) + 1
    chat["_unread"] = int(chat["_unread"]) + 1
    world.chats.touch()
    payload = {
        "messageUuid": message["uuid"],
        "message": {
            "uuid": message["uuid"],
            "text": text,
            "hasMedia": bool(media),
            "mediaUuids": list(media),
            "price": price,
            "createdAt": message["sentAt"],
        },
        "sender": sender(person),
        "recipientUuid": world.owner.uuid,
        "isMuted": bool(chat["isMuted"]),
        "timestamp": world.now_iso(),
    }
    return "message.received", payload


def mark_read(world: World, chat: Item) -> Event | None:
    """The creator reads the chat: the fan's messages become read → ``message.read`` with how
    many were unread (None when nothing was)."""
    count = 0
    for message in world.messages_of(chat["userUuid"]):
        if message["sender"]["uuid"] != world.owner.uuid and not message["isRead"]:
            message["isRead"] = True
            count += 1
    count = max(count, int(chat["_unread"]))
    chat["_unread"] = 0
    chat["_markedUnread"] = False
    world.chats.touch()
    if count == 0:
        return None
    payload = {
        "counterpartUuid": chat["userUuid"],
        "readMessagesCount": count,
        "recipientUuid": world.owner.uuid,
        "timestamp": world.now_iso(),
    }
    return "message.read", payload


# -- relationships -------------------------------------------------------------------------


def _notify(world: World, event_type: int, person: Item) -> None:
    world.notifications.add(
        {
            "uuid": world.new_uuid("notification"),
            "createdAt": world.now_iso(),
            "eventType": event_type,
            "isRead": False,
            "receiverUuid": world.owner.uuid,
            "data": {},
            "originator": {**sender(person), "isCreator": bool(person.get("isCreator"))},
        }
    )


def follow(world: World, person: Item) -> Event:
    """The person follows the creator → ``follow.new`` (ASSUMED body)."""
    if person.get("status") in ("follower", "subscriber"):
        raise ActivityError(409, "fan", f"{person['handle']} already follows this creator")
    person["status"] = "follower"
    person["_since"] = world.now_iso()
    world.people.touch()
    _notify(world, NEW_FOLLOWER, person)
    return "follow.new", _flat(world, person)


def subscribe(world: World, person: Item, price: int) -> Event:
    """The person subscribes (an earnings row of ``price``) → ``subscription.new``."""
    if person.get("status") == "subscriber":
        raise ActivityError(409, "fan", f"{person['handle']} is already a subscriber")
    now = world.now_iso()
    person.update(
        status="subscriber",
        _since=now,
        subscribedAt=now,
        expiresAt=world.later_iso(SUBSCRIPTION_DAYS * DAY),
        _autoRenew=True,
        _freeTrial=price == 0,
    )
    world.people.touch()
    if price:
        earn(world, person, "subscription", price)
    _notify(world, NEW_SUBSCRIBER, person)
    return "subscription.new", _flat(world, person, price=price)


# -- money ---------------------------------------------------------------------------------


def earn(
    world: World,
    person: Item | None,
    source: str,
    gross: int,
    *,
    message_uuid: str | None = None,
    post_uuid: str | None = None,
) -> Item:
    """A new earnings row (pending balance), and the fan's lifetime spend follows."""
    order = world.new_uuid("order")
    row = world.earnings.add(
        {
            "transactionOrderId": f"FV-{order[:8].upper()}",
            "date": world.now_iso(),
            "gross": gross,
            "net": gross * NET_SHARE // 100,
            "currency": "USD",
            "source": source,
            "transactionOrderStatus": "pendingBalance",
            # Both are required uuids in Fanvue's rows: the related item, else a stand-in.
            "messageUuid": message_uuid or world.uuid_for(f"earning-message-{order}"),
            "postUuid": post_uuid or world.uuid_for(f"earning-post-{order}"),
            "user": None if person is None else user_ref(person),
        }
    )
    if person is not None:
        recompute_spend(world)
    return row


def _post(world: World, post_uuid: str | None, *, priced: bool = False) -> Item:
    """The post, or by default the newest published (pay-to-view, if ``priced``) one."""
    if post_uuid is None:
        published = [
            p
            for p in world.posts.newest_first()
            if p.get("publishedAt") and (p.get("price") or not priced)
        ]
        if not published:
            kind = "pay-to-view post" if priced else "published post"
            raise ActivityError(409, "postUuid", f"the creator has no {kind}")
        return published[0]
    found = world.posts.get(post_uuid)
    if found is None:
        raise ActivityError(404, "postUuid", f"no post {post_uuid}")
    return found


def _message(world: World, person: Item, message_uuid: str | None) -> Item:
    if person["uuid"] not in world.chats:
        raise ActivityError(409, "messageUuid", f"{person['handle']} has no chat")
    messages = world.messages_of(person["uuid"])
    if message_uuid is None:
        newest = messages.newest_first()
        if not newest:
            raise ActivityError(409, "messageUuid", "the chat has no message")
        return newest[0]
    found = messages.get(message_uuid)
    if found is None:
        raise ActivityError(404, "messageUuid", f"no message {message_uuid} in this chat")
    return found


def tip(world: World, person: Item, amount: int, context: str, target: str | None) -> Event:
    """A tip on a post (one of its tips) or in the chat (on a message) → ``tip.new``."""
    if context == "post":
        post = _post(world, target)
        tips = world.tips.setdefault(post["uuid"], Store())
        tips.add(
            {
                "uuid": world.new_uuid("tip"),
                "createdAt": world.now_iso(),
                "gross": amount,
                "net": amount * NET_SHARE // 100,
                "user": {
                    **user_ref(person),
                    "avatarUrl": person.get("avatarUrl"),
                    "registeredAt": person.get("registeredAt"),
                },
            }
        )
        world.posts.touch()
        earn(world, person, "tip", amount, post_uuid=post["uuid"])
        where = {"postUuid": post["uuid"]}
    else:
        message = _message(world, person, target)
        earn(world, person, "tip", amount, message_uuid=message["uuid"])
        where = {"messageUuid": message["uuid"]}
    _notify(world, NEW_TIP, person)
    payload = _flat(
        world, person, context=context, senderUuid=person["uuid"], price=amount, **where
    )
    return "tip.new", payload


def purchase(world: World, person: Item, post_uuid: str | None, message_uuid: str | None) -> Event:
    """The fan unlocks a pay-to-view post or message → ``purchase.new`` (``postUuid`` or
    ``routeUuid``)."""
    if message_uuid is not None:
        message = _message(world, person, message_uuid)
        pricing = message.get("pricing") or {}
        if message["sender"]["uuid"] != world.owner.uuid or not pricing:
            raise ActivityError(409, "messageUuid", "the message is not a priced message")
        if message.get("purchasedAt"):
            raise ActivityError(409, "messageUuid", "the message is already purchased")
        price = int(pricing["USD"]["price"])
        message["purchasedAt"] = world.now_iso()
        _unlock(world, person, message["mediaUuids"])
        earn(world, person, "message", price, message_uuid=message["uuid"])
        where = {"routeUuid": message["uuid"]}  # ASSUMED: the purchased message
    else:
        post = _post(world, post_uuid, priced=True)
        if not post.get("price"):
            raise ActivityError(409, "postUuid", "the post is not pay-to-view")
        price = int(post["price"])
        _unlock(world, person, post["mediaUuids"])
        earn(world, person, "post", price, post_uuid=post["uuid"])
        where = {"postUuid": post["uuid"]}
    _notify(world, NEW_PURCHASE, person)
    return "purchase.new", _flat(world, person, price=price, **where)


def _unlock(world: World, person: Item, media: list[str]) -> None:
    for media_uuid in media:
        item = world.media.get(media_uuid)
        if item is not None and person["uuid"] not in item["_purchasers"]:
            item["_purchasers"].append(person["uuid"])
