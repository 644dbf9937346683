"""Tracking links with the users they brought, and notifications."""

from __future__ import annotations

from typing import Any

from ..world.store import Item, Store
from . import errors
from .call import Call
from .h_insights import in_range


def _link(call: Call) -> Item:
    return call.require(call.world.tracking_links.get(call.param("uuid")), "Tracking link")


def list_links(call: Call) -> Any:
    items = call.world.tracking_links.newest_first()
    query = {
        "startDate": call.query.get("createdAfter"),
        "endDate": call.query.get("createdBefore"),
    }
    return call.listing(in_range(items, query, field="createdAt"))


def create_link(call: Call) -> Any:
    world = call.world
    name = str(call.body["name"]).strip()
    if not name:
        raise errors.validation("name must be longer than or equal to 1 characters")
    link_uuid = world.new_uuid("tracking-link")
    link = {
        "uuid": link_uuid,
        "name": name,
        "linkUrl": f"https://www.fanvue.com/{world.owner.handle}?free_trial={link_uuid[:8]}",
        "externalSocialPlatform": call.body["externalSocialPlatform"],
        "createdAt": world.now_iso(),
        "clicks": 0,
        "engagement": {
            "acquiredFollowers": 0,
            "acquiredSubscribers": 0,
            "totalFollowers": 0,
            "totalSubscribers": 0,
        },
        "earnings": None,  # Fanvue: null for a new link
    }
    world.tracking_links.add(link)
    world.link_users[link_uuid] = Store()
    return call.shape(link)


def delete_link(call: Call) -> Any:
    link = _link(call)
    call.world.tracking_links.remove(link["uuid"])
    call.world.link_users.pop(link["uuid"], None)
    return None


def link_users(call: Call) -> Any:
    users = call.world.link_users.get(_link(call)["uuid"], Store())
    return call.listing(users.newest_first())


def user_metadata(call: Call) -> Any:
    users = call.world.link_users.get(_link(call)["uuid"], Store())
    user = call.require(users.get(call.param("userUuid")), "User")
    return {"metadata": user.get("_metadata")}


def list_notifications(call: Call) -> Any:
    items = call.world.notifications.newest_first()
    event_type = call.query.get("eventType")
    if event_type is not None:
        items = [n for n in items if int(n["eventType"]) == int(event_type)]
    return call.listing(items)
