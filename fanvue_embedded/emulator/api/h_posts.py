"""Posts with their comments, likes and tips; pins and reposts; post collections."""

from __future__ import annotations

from typing import Any

from ..world.model import World, parse_iso
from ..world.store import Item, Store
from . import errors
from .call import Call
from .h_messages import MIN_PRICE

MAX_POST_TEXT = 5000
MAX_COMMENT = 600
MAX_LABEL = 100


def post_view(world: World, post: Item) -> Item:
    tips = list(world.tips.get(post["uuid"], Store()))
    labels = [world.collections.get(uuid) for uuid in post.get("_collections", [])]
    return {
        **post,
        "collections": [c for c in labels if c is not None],
        "commentsCount": len(world.comments.get(post["uuid"], ())),
        "likesCount": len(world.likes.get(post["uuid"], ())),
        "tips": {
            "count": len(tips),
            "totalGross": sum(int(t["gross"]) for t in tips),
            "totalNet": sum(int(t["net"]) for t in tips),
        },
    }


def feed(world: World) -> list[Item]:
    """Pinned first, then the newest published (drafts and scheduled posts by creation)."""
    return world.posts.sorted_view(
        "feed",
        lambda p: (bool(p["isPinned"]), str(p.get("publishedAt") or p["createdAt"])),
        reverse=True,
    )


def _post(call: Call) -> Item:
    return call.require(call.world.posts.get(call.param("uuid")), "Post")


def list_posts(call: Call) -> Any:
    world = call.world
    items = feed(world)
    if not call.flag("includeUnpublished"):
        items = [p for p in items if p.get("publishedAt")]
    return call.listing(items, project=lambda post: post_view(world, post))


def get_post(call: Call) -> Any:
    return call.shape(post_view(call.world, _post(call)))


def _check_post(call: Call, post: Item) -> None:
    world = call.world
    problems = []
    text = post.get("text")
    if text is not None and len(str(text)) > MAX_POST_TEXT:
        problems.append(f"text must be shorter than or equal to {MAX_POST_TEXT} characters")
    price = post.get("price")
    if price is not None and float(price) < MIN_PRICE:
        problems.append(f"price must not be less than {MIN_PRICE}")
    if price is not None and not post.get("mediaUuids"):
        problems.append("mediaUuids must not be empty when a price is set")
    for media_uuid in [*(post.get("mediaUuids") or []), post.get("mediaPreviewUuid")]:
        if media_uuid is not None and media_uuid not in world.media:
            problems.append(f"media {media_uuid} does not belong to this creator")
    for collection in post.get("_collections") or []:
        if collection not in world.collections:
            problems.append(f"collection {collection} not found")
    if problems:
        raise errors.validation(*problems)


def _published_at(world: World, publish_at: str | None) -> str | None:
    if publish_at is not None and parse_iso(publish_at).timestamp() > world.now():
        return None  # scheduled
    return world.now_iso()


def create_post(call: Call) -> Any:
    world = call.world
    body = call.body
    now = world.now_iso()
    post: Item = {
        "uuid": world.new_uuid("post"),
        "text": body.get("text"),
        "audience": body["audience"],
        "price": body.get("price"),
        "mediaUuids": list(body.get("mediaUuids") or []),
        "mediaPreviewUuid": body.get("mediaPreviewUuid"),
        "createdAt": now,
        "publishAt": body.get("publishAt"),
        "publishedAt": _published_at(world, body.get("publishAt")),
        "expiresAt": body.get("expiresAt"),
        "isPinned": False,
        "_collections": list(body.get("collectionUuids") or []),
    }
    _check_post(call, post)
    world.posts.add(post)
    world.comments[post["uuid"]], world.likes[post["uuid"]] = Store(), Store()
    world.tips[post["uuid"]] = Store()
    return call.shape(post_view(world, post))


def update_post(call: Call) -> Any:
    world = call.world
    post = _post(call)
    body = call.body
    changed = dict(post)
    for name in ("text", "audience", "price", "mediaPreviewUuid", "expiresAt"):
        if name in body:
            changed[name] = body[name]
    if "mediaUuids" in body:
        changed["mediaUuids"] = list(body["mediaUuids"] or [])
    if "collectionUuids" in body:
        changed["_collections"] = list(body["collectionUuids"] or [])
    if "publishAt" in body:
        changed["publishAt"] = body["publishAt"]
        if not post.get("publishedAt"):  # null publishes a scheduled post now
            changed["publishedAt"] = _published_at(world, body["publishAt"])
    _check_post(call, changed)
    post.update(changed)
    world.posts.touch()
    return call.shape(post_view(world, post))


def delete_post(call: Call) -> Any:
    world = call.world
    post = _post(call)
    world.posts.remove(post["uuid"])
    for stores in (world.comments, world.likes, world.tips):
        stores.pop(post["uuid"], None)
    return None


def _set_pin(call: Call, pinned: bool) -> Any:
    post = _post(call)
    post["isPinned"] = pinned
    call.world.posts.touch()
    return call.shape(post_view(call.world, post))


def pin_post(call: Call) -> Any:
    return _set_pin(call, True)


def unpin_post(call: Call) -> Any:
    return _set_pin(call, False)


def repost(call: Call) -> Any:
    post = _post(call)
    post["publishedAt"] = call.world.now_iso()  # back to the top of the feed
    call.world.posts.touch()
    return call.shape(post_view(call.world, post))


# -- comments, likes, tips ------------------------------------------------------------------


def _sub(call: Call, stores: dict[str, Store]) -> Store:
    post = _post(call)
    return stores.setdefault(post["uuid"], Store())


def list_comments(call: Call) -> Any:
    return call.listing(_sub(call, call.world.comments).newest_first())


def create_comment(call: Call) -> Any:
    world = call.world
    text = str(call.body["text"])
    if not 1 <= len(text) <= MAX_COMMENT:
        raise errors.validation(f"text must be 1-{MAX_COMMENT} characters long")
    owner = world.owner
    comment = {
        "uuid": world.new_uuid("comment"),
        "text": text,
        "createdAt": world.now_iso(),
        "updatedAt": None,
        "user": {
            "uuid": owner.uuid,
            "handle": owner.handle,
            "displayName": owner.display_name,
            "nickname": None,
            "isTopSpender": False,
        },
    }
    _sub(call, world.comments).add(comment)
    return call.shape(comment)


def delete_comment(call: Call) -> Any:
    comments = _sub(call, call.world.comments)
    call.require(comments.get(call.param("commentUuid")), "Comment")
    comments.remove(call.param("commentUuid"))
    return None


def list_likes(call: Call) -> Any:
    return call.listing(_sub(call, call.world.likes).newest_first())


def list_tips(call: Call) -> Any:
    return call.listing(_sub(call, call.world.tips).newest_first())


# -- collections ----------------------------------------------------------------------------


def _label(call: Call, exclude: str | None = None) -> str:
    label = str(call.body["label"]).strip()
    if not 1 <= len(label) <= MAX_LABEL:
        raise errors.validation(f"label must be 1-{MAX_LABEL} characters long")
    for item in call.world.collections:
        if item["label"].lower() == label.lower() and item["uuid"] != exclude:
            raise errors.conflict(f"A collection labelled {label!r} already exists")
    return label


def list_collections(call: Call) -> Any:
    return call.listing(call.world.collections.newest_first())


def create_collection(call: Call) -> Any:
    world = call.world
    item = {"uuid": world.new_uuid("collection"), "label": _label(call)}
    item["createdAt"] = world.now_iso()
    return call.shape(world.collections.add(item))


def rename_collection(call: Call) -> Any:
    item = call.require(call.world.collections.get(call.param("uuid")), "Collection")
    item["label"] = _label(call, exclude=item["uuid"])
    call.world.collections.touch()
    return None


def delete_collection(call: Call) -> Any:
    world = call.world
    item = call.require(world.collections.get(call.param("uuid")), "Collection")
    world.collections.remove(item["uuid"])
    for post in world.posts:  # posts stay; only the association goes
        post["_collections"] = [c for c in post.get("_collections", []) if c != item["uuid"]]
    world.posts.touch()
    return None
