"""Media and the vault: lists, single and bulk reads, media links, grants, vault folders."""

from __future__ import annotations

from typing import Any

from ..world.model import World
from ..world.store import Item
from . import errors
from .call import Call
from .params import is_uuid

BULK_MAX = 20


def settle(world: World, item: Item) -> Item:
    """A processing upload becomes ready once its delay has passed on the emulator clock."""
    ready_at = item.get("_readyAt")
    if item["status"] == "processing" and ready_at is not None and world.now() >= ready_at:
        from ..world.content import variants_for

        item["status"] = "ready"
        item["_variants"] = variants_for(world, item["uuid"], item["mediaType"])
    return item


def media_view(world: World, item: Item, variants: list[str], purchased_by: str | None) -> Item:
    """The full item with only the requested variants; ``{uuid, status}`` until it is ready."""
    settle(world, item)
    if item["status"] != "ready":
        return {"uuid": item["uuid"], "status": item["status"]}
    chosen = [v for v in item["_variants"] if v["variantType"] in variants]
    main = next((v["url"] for v in chosen if v["variantType"] == "main"), "")
    purchased = purchased_by is not None and purchased_by in item["_purchasers"]
    return {**item, "variants": chosen, "url": main, "purchasedByFan": purchased}


def _finalised(view: Item) -> bool:
    return "mediaType" in view


def _shaped(call: Call, view: Item, *, item: bool) -> Item:
    if not _finalised(view):
        return view  # Fanvue's anyOf: {uuid, status} for media not finalised yet
    return call.shape_item(view) if item else call.shape(view)


def _variants(call: Call) -> list[str]:
    return call.values("variants")


def list_media(call: Call) -> Any:
    world = call.world
    query = call.query
    folder = query.get("folderName")
    statuses = query.get("status")
    in_folder: set[str] | None = None
    if folder is not None:
        found = world.vault_folders.get(str(folder))
        in_folder = set(found["_media"]) if found else set()

    def keep(item: Item) -> bool:
        settle(world, item)
        return (
            (query.get("mediaType") is None or item["mediaType"] == query["mediaType"])
            and (query.get("usage") is None or item.get("_usage") == query["usage"])
            and (in_folder is None or item["uuid"] in in_folder)
            and (not statuses or item["status"] in statuses)
        )

    items = world.media.newest_first()
    if any(query.get(name) for name in ("mediaType", "usage", "folderName", "status")):
        items = [item for item in items if keep(item)]
    variants, buyer = _variants(call), query.get("purchasedBy")
    return call.listing(
        items,
        project=lambda item: media_view(world, item, variants, buyer),
        shape=lambda view: _shaped(call, view, item=True),
    )


def get_media(call: Call) -> Any:
    world = call.world
    item = call.require(world.media.get(call.param("uuid")), "Media")
    view = media_view(world, item, _variants(call), call.query.get("purchasedBy"))
    return _shaped(call, view, item=False)


def bulk_media(call: Call) -> Any:
    world = call.world
    wanted = _uuid_list(call, "mediaUuids")
    variants = _variants(call)
    results: dict[str, Any] = {}
    problems: list[Item] = []
    for media_uuid in wanted:
        item = world.media.get(media_uuid)
        if item is None:
            results[media_uuid] = None
            problems.append({"mediaUuid": media_uuid, "code": "NOT_FOUND", "message": "Not found"})
            continue
        results[media_uuid] = _shaped(call, media_view(world, item, variants, None), item=True)
    return {"results": results, "errors": problems}


def _uuid_list(call: Call, name: str, maximum: int = BULK_MAX) -> list[str]:
    values = call.values(name)
    if not values:
        raise errors.validation(f"{name} should not be empty")
    if len(values) > maximum:
        raise errors.validation(f"{name} must contain no more than {maximum} elements")
    if not all(is_uuid(value) for value in values):
        raise errors.validation(f"each value in {name} must be a UUID")
    return values


def media_link_purchased(call: Call) -> Any:
    link = call.require(call.world.media_links.get(call.param("uuid")), "Media link")
    return call.shape({"purchased": bool(link["_purchased"])})


def grant_media(call: Call) -> Any:
    world = call.world
    item = call.require(world.media.get(call.param("uuid")), "Media")
    body = call.body
    source, ref = str(body["source"]), str(body["sourceRef"])
    problems = []
    if not 1 <= len(source) <= 100 or not all(
        c.islower() or c.isdigit() or c == "_" for c in source
    ):
        problems.append("source must match /^[a-z0-9_]+$/ and be 1-100 characters long")
    if not 1 <= len(ref) <= 255:
        problems.append("sourceRef must be 1-255 characters long")
    if problems:
        raise errors.validation(*problems)
    key = (item["uuid"], str(body["consumerId"]), source, ref)
    entitlement = world.entitlements.get(key)
    if entitlement is None:  # idempotent: the same grant returns the same entitlement
        entitlement = world.entitlements[key] = world.new_uuid("entitlement")
    return call.shape({"entitlementId": entitlement, "status": "granted"})


def entitled_media(call: Call) -> Any:
    world = call.world
    item = call.require(world.media.get(call.param("uuid")), "Media")
    consumer = str(call.query["consumerId"])
    if not any(k[0] == item["uuid"] and k[1] == consumer for k in world.entitlements):
        raise errors.forbidden("consumer is not entitled to this media")
    view = media_view(world, item, _variants(call), None)
    return _shaped(call, view, item=False)


# -- vault folders --------------------------------------------------------------------------


def _folder_view(folder: Item) -> Item:
    return {**folder, "mediaCount": len(folder["_media"])}


def _folder(call: Call) -> Item:
    return call.require(call.world.vault_folders.get(call.param("folderName")), "Folder")


def _folder_name(call: Call) -> str:
    name = str(call.body["name"]).strip()
    if not 1 <= len(name) <= 255:
        raise errors.validation("name must be 1-255 characters long")
    if name in call.world.vault_folders:
        raise errors.conflict(f"A folder named {name!r} already exists")
    return name


def list_folders(call: Call) -> Any:
    return call.listing(call.world.vault_folders.newest_first(), project=_folder_view)


def get_folder(call: Call) -> Any:
    return call.shape(_folder_view(_folder(call)))


def create_folder(call: Call) -> Any:
    folder = {"name": _folder_name(call), "createdAt": call.world.now_iso(), "_media": {}}
    return call.shape(_folder_view(call.world.vault_folders.add(folder)))


def rename_folder(call: Call) -> Any:
    folder = _folder(call)
    name = _folder_name(call)
    world = call.world
    world.vault_folders.remove(folder["name"])
    world.vault_folders.add({**folder, "name": name})
    return None


def delete_folder(call: Call) -> Any:
    call.world.vault_folders.remove(_folder(call)["name"])  # media stay; only the folder goes
    return None


def folder_media(call: Call) -> Any:
    world = call.world
    folder = _folder(call)
    items = [world.media.get(uuid) for uuid in reversed(folder["_media"])]
    return call.listing([item for item in items if item is not None])


def attach_media(call: Call) -> Any:
    world = call.world
    folder = _folder(call)
    uuids = call.body["mediaUuids"]
    if not 1 <= len(uuids) <= 100:
        raise errors.validation("mediaUuids must contain between 1 and 100 elements")
    unknown = [uuid for uuid in uuids if uuid not in world.media]
    if unknown:
        raise errors.not_found(f"Media not found: {', '.join(unknown)}")
    added = [uuid for uuid in dict.fromkeys(uuids) if uuid not in folder["_media"]]
    for uuid in added:
        folder["_media"][uuid] = world.now_iso()
    world.vault_folders.touch()
    return call.shape({"addedCount": len(added)})


def detach_media(call: Call) -> Any:
    folder = _folder(call)
    media_uuid = call.param("mediaUuid")
    if folder["_media"].pop(media_uuid, None) is None:
        raise errors.not_found("Media not found in this folder")
    call.world.vault_folders.touch()
    return None
