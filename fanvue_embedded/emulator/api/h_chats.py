"""Chats and messages: lists, sends, reads, deletes, batches, unread counts, shared media."""

from __future__ import annotations

from typing import Any

from ..world import activity, segments
from ..world.model import World
from ..world.store import Item
from . import errors
from .call import Call

NOTIFICATION_KEYS = {
    12: "newFollower",
    6: "newPostComment",
    7: "newPostLike",
    14: "newPromotion",
    9: "newPurchase",
    10: "newSubscriber",
    11: "newTip",
}


def chat_view(world: World, chat: Item) -> Item:
    """A chat as Fanvue lists it: the counterpart, the last message, unread figures."""
    person = world.person(chat["userUuid"]) or {"uuid": chat["userUuid"]}
    newest = world.messages_of(chat["userUuid"]).newest_first()
    last = newest[0] if newest else None
    unread = int(chat["_unread"])
    return {
        "createdAt": chat["createdAt"],
        "isMuted": bool(chat["isMuted"]),
        "isRead": unread == 0 and not chat.get("_markedUnread"),
        "unreadMessagesCount": unread,
        "lastMessageAt": chat.get("lastMessageAt"),
        "lastMessage": None
        if last is None
        else {
            "uuid": last["uuid"],
            "text": last["text"],
            "sentAt": last["sentAt"],
            "senderUuid": last["sender"]["uuid"],
            "type": last["type"],
            "hasMedia": last["hasMedia"],
            "mediaType": last["mediaType"],
            "sentByUserId": last["sentByUserId"],
        },
        "user": person,
        "creatorUuid": world.owner.uuid,
    }


def chats_by_activity(world: World) -> list[Item]:
    return world.chats.sorted_view(
        "activity", lambda chat: str(chat.get("lastMessageAt") or ""), reverse=True
    )


def _filtered_chats(call: Call) -> list[Item]:
    world = call.world
    chats = chats_by_activity(world)
    wanted = call.query.get("filter") or []
    smart = call.query.get("smartListIds") or []
    custom = call.query.get("customListId")
    search = str(call.query.get("search") or "").lower()
    if not (wanted or smart or custom or search):
        return _sorted(call, chats)
    members = None
    if custom is not None:
        members = set(world.list_members.get(str(custom), {}))
    result = []
    for chat in chats:
        person = world.person(chat["userUuid"]) or {}
        if members is not None and chat["userUuid"] not in members:
            continue
        if any(not segments.CHAT_FILTERS[name](world, chat, person) for name in wanted):
            continue
        if any(
            not (person.get("status") and segments.SMART_LISTS[s][1](world, person)) for s in smart
        ):
            continue
        if search and not any(
            search in str(person.get(key) or "").lower()
            for key in ("displayName", "handle", "nickname")
        ):
            continue
        result.append(chat)
    return _sorted(call, result)


def _sorted(call: Call, chats: list[Item]) -> list[Item]:
    order = call.query.get("sortBy", "most_recent_messages")
    if order == "online_now":
        world = call.world
        return sorted(chats, key=lambda c: not (world.person(c["userUuid"]) or {}).get("isOnline"))
    if order == "most_unanswered_chats":
        return sorted(chats, key=lambda c: -int(c["_unread"]))
    return chats


def list_chats(call: Call) -> Any:
    world = call.world
    return call.listing(
        _filtered_chats(call),
        project=lambda chat: chat_view(world, chat),
        key_of=lambda chat: str(chat["userUuid"]),
    )


def _contactable(world: World, user_uuid: str, unknown_is_404: bool) -> Item:
    person = world.person(user_uuid)
    if person is None and unknown_is_404:
        raise errors.not_found("User not found")
    if person is None or person["uuid"] == world.owner.uuid:
        raise errors.bad_request("This user cannot be contacted")
    return person


def open_chat(call: Call, user_uuid: str) -> Item:
    """The chat with a contactable user, created (empty) when there is none.

    An unknown user is Fanvue's ContactabilityError (400 ``{message}``), or 404 where the
    operation documents one (the agency mirrors).
    """
    world = call.world
    chat = world.chats.get(user_uuid)
    if chat is None:
        _contactable(world, user_uuid, 404 in call.operation.errors)
        now = world.now_iso()
        chat = world.chats.add(
            {
                "userUuid": user_uuid,
                "createdAt": now,
                "lastMessageAt": None,
                "isMuted": False,
                "_unread": 0,
                "_total": 0,
                "_archived": False,
            }
        )
        world.messages_of(user_uuid)
    return chat


def create_chat(call: Call) -> Any:
    open_chat(call, call.body["userUuid"])
    return call.shape({"message": "Chat created"})


def _chat(call: Call, user_uuid: str) -> Item:
    chat = call.world.chats.get(user_uuid)
    if chat is None:
        if 404 in call.operation.errors:
            raise errors.not_found("Chat not found")
        raise errors.bad_request("Chat not found")
    return chat


def update_chat(call: Call) -> Any:
    world = call.world
    chat = _chat(call, call.param("userUuid"))
    body = call.body
    if "nickname" in body and len(str(body["nickname"])) > 30:
        raise errors.validation("nickname must be shorter than or equal to 30 characters")
    if "isMuted" in body:
        chat["isMuted"] = bool(body["isMuted"])
    if "isRead" in body:
        if body["isRead"]:
            call.worlds.emit(world, activity.mark_read(world, chat))
        else:
            chat["_markedUnread"] = True
    if "nickname" in body:
        person = world.person(chat["userUuid"])
        if person is not None:
            person["nickname"] = body["nickname"] or None
            world.people.touch()
    world.chats.touch()
    return None


def list_messages(call: Call) -> Any:
    world = call.world
    chat = _chat(call, call.param("userUuid"))
    result = call.listing(world.messages_of(chat["userUuid"]).newest_first())
    if call.flag("markAsRead"):
        call.worlds.emit(world, activity.mark_read(world, chat))
    return result


def unread_counts(call: Call) -> Any:
    world = call.world
    chats = list(world.chats)
    unread_chats = [c for c in chats if int(c["_unread"]) > 0 or c.get("_markedUnread")]
    by_type = dict.fromkeys(NOTIFICATION_KEYS.values(), 0)
    for note in world.notifications:
        key = NOTIFICATION_KEYS.get(int(note["eventType"]))
        if key is not None and not note["isRead"]:
            by_type[key] += 1
    return call.shape(
        {
            "unreadChatsCount": len(unread_chats),
            "unreadMessagesCount": sum(int(c["_unread"]) for c in chats),
            "unreadNotifications": by_type,
        }
    )
