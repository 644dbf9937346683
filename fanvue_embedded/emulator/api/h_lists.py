"""Custom and smart lists, message templates and mass messages."""

from __future__ import annotations

from typing import Any

from ..world import segments
from ..world.model import World
from ..world.store import Item
from . import errors
from .call import Call
from .h_messages import check_content

MAX_LIST_NAME = 100
MAX_MEMBERS_PER_CALL = 100


def _member_view(person: Item) -> Item:
    return {**person, "isCreator": bool(person.get("isCreator"))}


# -- custom lists ---------------------------------------------------------------------------


def _list_view(world: World, item: Item) -> Item:
    return {**item, "membersCount": len(world.list_members.get(item["uuid"], {}))}


def _custom_list(call: Call) -> Item:
    return call.require(call.world.custom_lists.get(call.param("uuid")), "Custom list")


def _list_name(call: Call, exclude: str | None = None) -> str:
    name = str(call.body["name"]).strip()
    if not 1 <= len(name) <= MAX_LIST_NAME:
        raise errors.validation(f"name must be 1-{MAX_LIST_NAME} characters long")
    for item in call.world.custom_lists:
        if item["name"].lower() == name.lower() and item["uuid"] != exclude:
            raise errors.conflict(f"A list named {name!r} already exists")
    return name


def list_custom_lists(call: Call) -> Any:
    world = call.world
    items = world.custom_lists.newest_first()
    search = str(call.query.get("search") or "").lower()
    if search:
        items = [item for item in items if search in item["name"].lower()]
    return call.listing(items, project=lambda item: _list_view(world, item))


def create_custom_list(call: Call) -> Any:
    world = call.world
    item = {"uuid": world.new_uuid("custom-list"), "name": _list_name(call)}
    item["createdAt"] = world.now_iso()
    world.custom_lists.add(item)
    world.list_members[item["uuid"]] = {}
    return call.shape(item)


def rename_custom_list(call: Call) -> Any:
    item = _custom_list(call)
    item["name"] = _list_name(call, exclude=item["uuid"])
    call.world.custom_lists.touch()
    return None


def delete_custom_list(call: Call) -> Any:
    world = call.world
    item = _custom_list(call)
    world.custom_lists.remove(item["uuid"])
    world.list_members.pop(item["uuid"], None)
    return None


def custom_list_members(call: Call) -> Any:
    world = call.world
    members = world.list_members.get(_custom_list(call)["uuid"], {})
    people = [world.person(uuid) for uuid in reversed(members)]
    return call.listing([p for p in people if p is not None], project=_member_view)


def add_custom_list_members(call: Call) -> Any:
    world = call.world
    members = world.list_members.setdefault(_custom_list(call)["uuid"], {})
    uuids = call.body["userUuids"]
    if not 1 <= len(uuids) <= MAX_MEMBERS_PER_CALL:
        raise errors.validation(
            f"userUuids must contain between 1 and {MAX_MEMBERS_PER_CALL} elements"
        )
    added = 0
    for user_uuid in uuids:
        if user_uuid in members or world.person(user_uuid) is None:
            continue  # already in the list (or nobody the creator knows): skipped
        members[user_uuid] = world.now_iso()
        added += 1
    return call.shape({"added": added, "skipped": len(uuids) - added})


def remove_custom_list_member(call: Call) -> Any:
    members = call.world.list_members.get(_custom_list(call)["uuid"], {})
    if members.pop(call.param("userUuid"), None) is None:
        raise errors.not_found("Member not found in this list")
    return None


# -- smart lists ----------------------------------------------------------------------------


def smart_lists(call: Call) -> Any:
    world = call.world
    return [
        call.shape_item(
            {
                "uuid": list_id,
                "name": name,
                "count": len(segments.smart_list_members(world, list_id)),
            }
        )
        for list_id, (name, _predicate) in segments.SMART_LISTS.items()
    ]


def smart_list_members(call: Call) -> Any:
    list_id = call.param("uuid")
    if list_id not in segments.SMART_LISTS:
        if 404 in call.operation.errors:
            raise errors.not_found("Smart list not found")
        raise errors.validation(
            "uuid must be one of the following values: " + ", ".join(segments.SMART_LISTS)
        )
    members = segments.smart_list_members(call.world, list_id)
    return call.listing(members, project=_member_view)


# -- templates ------------------------------------------------------------------------------


def list_templates(call: Call) -> Any:
    items = call.world.templates.newest_first()
    folder = str(call.query.get("folderName") or "").lower()
    if folder:
        items = [t for t in items if folder in str(t.get("folderName") or "").lower()]
    return call.listing(items)


def get_template(call: Call) -> Any:
    return call.shape(
        call.require(call.world.templates.get(call.param("templateUuid")), "Template")
    )


# -- mass messages --------------------------------------------------------------------------


def recipients(world: World, included: dict[str, Any], excluded: dict[str, Any]) -> set[str]:
    """Everyone in an included list and in no excluded list."""

    def members(lists: dict[str, Any]) -> set[str]:
        found: set[str] = set()
        for list_id in lists.get("smartListUuids") or []:
            found |= {p["uuid"] for p in segments.smart_list_members(world, list_id)}
        for list_uuid in lists.get("customListUuids") or []:
            if list_uuid not in world.custom_lists:
                raise errors.bad_request(f"Custom list {list_uuid} not found")
            found |= set(world.list_members.get(list_uuid, {}))
        return found

    return members(included) - members(excluded or {})


def list_mass_messages(call: Call) -> Any:
    items = call.world.mass_messages.newest_first()
    if not call.flag("includeDeleted"):
        items = [m for m in items if m["status"] != "UNSENT"]
    return call.listing(items)


def _scheduled_at(body: dict[str, Any]) -> str | None:
    value = body.get("scheduledAt", body.get("scheduled_at"))
    return None if value is None else str(value)


def send_mass_message(call: Call) -> Any:
    world = call.world
    body = call.body
    media = list(body.get("mediaUuids") or [])
    check_content(world, body.get("text"), media, body.get("price"))
    included, excluded = body["includedLists"], body.get("excludedLists") or {}
    audience = recipients(world, included, excluded)
    if not audience:
        raise errors.bad_request("None of the selected fans can be contacted")
    now = world.now_iso()
    scheduled = _scheduled_at(body)
    item = {
        "uuid": world.new_uuid("mass-message"),
        "text": body.get("text"),
        "price": body.get("price"),
        "mediaUuids": media,
        "status": "SCHEDULED" if scheduled else "SENT",
        "createdAt": now,
        "publishedAt": None if scheduled else now,
        "scheduledAt": scheduled,
        "recipientCount": len(audience),
        "purchaseCount": 0,
        "viewCount": 0,
        "totalRevenue": 0,
        "_included": included,
        "_excluded": excluded,
    }
    world.mass_messages.add(item)
    return call.shape({"id": item["uuid"], "recipientCount": len(audience), "createdAt": now})


def _mass_message(call: Call) -> Item:
    found = call.world.mass_messages.get(call.param("messageUuid"))
    if found is None or found["status"] == "UNSENT":
        raise errors.not_found("Mass message not found")
    return found


def update_mass_message(call: Call) -> Any:
    world = call.world
    item = _mass_message(call)
    if item["status"] != "SCHEDULED":
        raise errors.bad_request("Only scheduled mass messages can be edited")
    body = call.body
    media = list(body.get("mediaUuids", item["mediaUuids"]) or [])
    check_content(world, body.get("text", item["text"]), media, body.get("price", item["price"]))
    for name in ("text", "price", "mediaUuids"):
        if name in body:
            item[name] = body[name]
    if _scheduled_at(body) is not None:
        item["scheduledAt"] = _scheduled_at(body)
    if "includedLists" in body or "excludedLists" in body:
        item["_included"] = body.get("includedLists", item["_included"])
        item["_excluded"] = body.get("excludedLists", item["_excluded"])
        item["recipientCount"] = len(recipients(world, item["_included"], item["_excluded"]))
    world.mass_messages.touch()
    return None


def delete_mass_message(call: Call) -> Any:
    item = _mass_message(call)
    item["status"] = "UNSENT"  # unsent; copies already bought stay with their buyers
    call.world.mass_messages.touch()
    return None
