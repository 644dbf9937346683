"""Sending, deleting and batch-reading chat messages, and the media shared in a chat."""

from __future__ import annotations

from typing import Any

from ..world.model import World
from ..world.store import Item
from . import errors
from .call import Call
from .h_chats import open_chat
from .h_media import media_view, settle
from .params import is_uuid

MIN_PRICE = 300  # cents
MAX_TEXT = 5000
BATCH_MAX_CHATS = 50


def check_content(world: World, text: object, media: list[str], price: object) -> None:
    """Fanvue's MessageValidationError ``{message}`` / ValidationError ``{errors}`` rules."""
    if text is not None and not 1 <= len(str(text)) <= MAX_TEXT:
        raise errors.validation(f"text must be 1-{MAX_TEXT} characters long")
    if price is not None and float(str(price)) < MIN_PRICE:
        raise errors.validation(f"price must not be less than {MIN_PRICE}")
    if price is not None and not media:
        raise errors.bad_request("A priced message needs at least one media item")
    for media_uuid in media:
        item = world.media.get(media_uuid)
        if item is None:
            raise errors.bad_request(f"Media {media_uuid} does not belong to this creator")
        if settle(world, item)["status"] != "ready":
            raise errors.bad_request(f"Media {media_uuid} is not ready yet")


def send_message(call: Call) -> Any:
    world = call.world
    user_uuid = call.param("userUuid")
    body = call.body
    text, media, price = body.get("text"), list(body.get("mediaUuids") or []), body.get("price")
    template_uuid = body.get("templateUuid")
    if template_uuid is not None:
        template = world.templates.get(str(template_uuid))
        if template is None:
            raise errors.bad_request("Template not found")
        text = text if text is not None else template.get("text")
        media = media or list(template.get("mediaUuids") or [])
        price = price if price is not None else template.get("price")
    if text is None and not media:
        raise errors.bad_request("A message needs text or media")
    check_content(world, text, media, price)
    chat = open_chat(call, user_uuid)
    fan = world.person(user_uuid) or {"uuid": user_uuid, "handle": ""}
    first = world.media.get(media[0]) if media else None
    message = {
        "uuid": world.new_uuid("message"),
        "text": text,
        "sentAt": world.now_iso(),
        "type": "SINGLE_RECIPIENT",
        "sender": world.owner_ref(),
        "recipient": {"uuid": fan["uuid"], "handle": fan["handle"]},
        "isRead": False,
        "hasMedia": bool(media),
        "mediaType": None if first is None else first["mediaType"],
        "mediaUuids": media,
        "pricing": None if price is None else {"USD": {"price": price}},
        "purchasedAt": None,
        # A team member sending for a managed creator is recorded; the creator is null.
        "sentByUserId": None if call.caller == world.owner.uuid else call.caller,
    }
    world.messages_of(user_uuid).add(message)
    chat["lastMessageAt"] = message["sentAt"]
    chat["_total"] = int(chat["_total"]) + 1
    world.chats.touch()
    return call.shape({"messageUuid": message["uuid"]})


def delete_message(call: Call) -> Any:
    world = call.world
    user_uuid = call.param("userUuid")
    if user_uuid not in world.chats:
        raise errors.not_found("Chat not found")
    messages = world.messages_of(user_uuid)
    message = call.require(messages.get(call.param("messageUuid")), "Message")
    if message["sender"]["uuid"] != world.owner.uuid:
        raise errors.forbidden("only the sender can delete a message")
    if message.get("purchasedAt"):
        raise errors.bad_request("This message was purchased and cannot be deleted")
    messages.remove(message["uuid"])
    newest = messages.newest_first()
    chat = world.chats.get(user_uuid)
    if chat is not None:
        chat["lastMessageAt"] = newest[0]["sentAt"] if newest else None
        world.chats.touch()
    return None


def messages_batch(call: Call) -> Any:
    world = call.world
    body = call.body
    chats = list(dict.fromkeys(body["chatUuids"]))
    limit = body.get("limit", 20)
    if not 1 <= len(chats) <= BATCH_MAX_CHATS:
        raise errors.validation(f"chatUuids must contain between 1 and {BATCH_MAX_CHATS} elements")
    if not 1 <= int(limit) <= 50:
        raise errors.validation("limit must be between 1 and 50")
    since = body.get("sinceMessageUuid")
    by_chat: dict[str, Any] = {}
    for chat_uuid in chats:
        if chat_uuid not in world.chats:
            by_chat[chat_uuid] = {"error": "not_found"}
            continue
        newest = world.messages_of(chat_uuid).newest_first()
        if since is not None:
            cut = next((i for i, m in enumerate(newest) if m["uuid"] == since), len(newest))
            newest = newest[:cut]  # incremental: only what arrived after that message
        window = newest[: int(limit)]
        by_chat[chat_uuid] = {
            "messages": [call.shape_item(m) for m in window],
            "hasMore": len(newest) > len(window),
            "oldestMessageUuid": window[-1]["uuid"] if window else None,
        }
    return {"byChat": by_chat}


def _shared_media(world: World, user_uuid: str, media_type: str | None) -> list[Item]:
    rows = []
    for message in world.messages_of(user_uuid).newest_first():
        for media_uuid in message["mediaUuids"]:
            item = world.media.get(media_uuid)
            if item is None or (media_type and item["mediaType"] != media_type):
                continue
            rows.append(_chat_media_row(world, item, message))
    return rows


def _chat_media_row(world: World, item: Item, message: Item) -> Item:
    view = media_view(world, item, ["main", "thumbnail", "thumbnail_gallery", "blurred"], None)
    return {
        "uuid": item["uuid"],
        "_key": f"{message['uuid']}:{item['uuid']}",
        "messageUuid": message["uuid"],
        "mediaType": item["mediaType"],
        "name": item.get("name"),
        "ownerUuid": message["sender"]["uuid"],
        "sentAt": message["sentAt"],
        "created_at": item.get("createdAt"),
        "variants": view.get("variants", []),
    }


def chat_media(call: Call) -> Any:
    world = call.world
    user_uuid = call.param("userUuid")
    if user_uuid not in world.chats:
        raise errors.not_found("Conversation not found")
    rows = _shared_media(world, user_uuid, call.query.get("mediaType"))
    return call.listing(rows, key_of=lambda row: str(row["_key"]))


def message_media(call: Call) -> Any:
    world = call.world
    user_uuid = call.param("userUuid")
    if user_uuid not in world.chats:
        raise errors.not_found("Conversation not found")
    message = call.require(world.messages_of(user_uuid).get(call.param("messageUuid")), "Message")
    wanted = call.values("mediaUuids")
    if not wanted:
        raise errors.validation("mediaUuids should not be empty")
    if len(wanted) > 20:
        raise errors.validation("mediaUuids must contain no more than 20 elements")
    if not all(is_uuid(value) for value in wanted):
        raise errors.validation("each value in mediaUuids must be a UUID")
    variants = call.values("variants")
    results: dict[str, Any] = {}
    problems: list[Item] = []
    for media_uuid in wanted:
        item = world.media.get(media_uuid)
        if item is None or media_uuid not in message["mediaUuids"]:
            results[media_uuid] = None
            problems.append(
                {"mediaUuid": media_uuid, "code": "NOT_IN_MESSAGE", "message": "Not in message"}
            )
            continue
        row = _chat_media_row(world, item, message)
        if variants:
            row["variants"] = [v for v in row["variants"] if v["variantType"] in variants]
        results[media_uuid] = call.shape_item(row)
    return {"results": results, "errors": problems}
