"""Profiles and fans: ``/users/*``, followers, subscribers, online status, managed creators."""

from __future__ import annotations

from typing import Any

from ..world.model import World
from ..world.store import Item
from . import errors
from .call import Call


def _profile(world: World) -> Item:
    owner = world.owner
    media = list(world.media)
    posts = list(world.posts)
    return {
        "uuid": owner.uuid,
        "handle": owner.handle,
        "displayName": owner.display_name,
        "email": owner.email,
        "isCreator": owner.is_creator,
        "avatarUrl": f"https://avatars.emulator.test/{owner.handle}.png",
        "bannerUrl": None,
        "bio": f"Hi, I'm {owner.display_name}.",
        "createdAt": world.past(400 * 86_400),
        "updatedAt": world.past(3 * 86_400),
        "contentCounts": {
            "imageCount": sum(1 for m in media if m.get("mediaType") == "image"),
            "videoCount": sum(1 for m in media if m.get("mediaType") == "video"),
            "audioCount": sum(1 for m in media if m.get("mediaType") == "audio"),
            "postCount": len(posts),
            "payToViewPostCount": sum(1 for p in posts if p.get("price")),
        },
        "fanCounts": {
            "followersCount": len(world.fans_with("follower")),
            "subscribersCount": len(world.fans_with("subscriber")),
        },
        "likesCount": sum(len(world.likes.get(p["uuid"], ())) for p in posts),
    }


def get_current_user(call: Call) -> Any:
    return call.shape(_profile(call.world))


def get_account(call: Call) -> Any:
    world = call.world
    earned = sum(int(row["net"]) for row in world.earnings)
    paid = [
        row for row in world.earnings if row.get("transactionOrderStatus") == "availableForPayout"
    ]
    account = {
        "earnings": {
            "availableBalance": sum(int(row["net"]) for row in paid),
            "lastPayoutAt": world.past(7 * 86_400) if earned else None,
            "total": earned,
        },
        "fans": {
            "followers": len(world.fans_with("follower")),
            "subscribers": len(world.fans_with("subscriber")),
        },
        "status": "active",
    }
    return call.shape({**_profile(world), "account": account})


def list_followers(call: Call) -> Any:
    return call.listing(call.world.fans_with("follower"))


def list_subscribers(call: Call) -> Any:
    items = call.world.fans_with("subscriber")
    field = call.query.get("sortField")
    direction = call.query.get("sortDirection")
    if field is not None or direction is not None:
        key = "displayName" if field == "name" else "subscribedAt"
        descending = (direction or ("asc" if field == "name" else "desc")) == "desc"
        world = call.world
        items = world.people.view(
            f"subscribers:{key}:{descending}",
            lambda _all: sorted(
                world.fans_with("subscriber"),
                key=lambda p: str(p.get(key) or ""),
                reverse=descending,
            ),
        )
    return call.listing(items)


def online_subscribers(call: Call) -> Any:
    online = [p for p in call.world.fans_with("subscriber") if p.get("isOnline")]
    wanted = set(call.values("subscriberUuids"))
    if wanted:
        online = [p for p in online if p["uuid"] in wanted]
    limit = int(call.query.get("limit", 1000))
    data = [call.shape_item(p) for p in online[:limit]]
    return {"count": len(online), "data": data}


def batch_statuses(call: Call) -> Any:
    uuids = call.body["userUuids"]
    if not 1 <= len(uuids) <= 100:
        raise errors.validation("userUuids must contain between 1 and 100 elements")
    result: dict[str, Any] = {}
    for user_uuid in uuids:
        person = call.world.person(user_uuid)
        online = bool(person and person.get("isOnline"))
        seen = person.get("lastSeenAt") if person else None
        result[user_uuid] = {"isOnline": online, "lastSeenAt": seen}
    return result


def list_creators(call: Call) -> Any:
    rows = []
    for creator_uuid in call.worlds.managed_by(call.caller):
        owner = call.worlds.world(creator_uuid).owner
        rows.append(
            {
                "uuid": owner.uuid,
                "handle": owner.handle,
                "displayName": owner.display_name,
                "nickname": None,
                "avatarUrl": f"https://avatars.emulator.test/{owner.handle}.png",
                "registeredAt": call.worlds.world(creator_uuid).past(400 * 86_400),
                "isTopSpender": False,
                "role": "creator",
            }
        )
    return call.listing(rows)
