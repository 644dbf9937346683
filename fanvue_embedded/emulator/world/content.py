"""What a creator makes: media and vault folders, posts with comments, likes and tips,
post collections, message templates, mass messages, custom lists and media links."""

from __future__ import annotations

from .model import World
from .people import LINES
from .store import Item, Store

DAY = 86_400.0
MEDIA_TYPES = ("image", "image", "image", "video", "video", "audio", "document")
VARIANTS = ("main", "thumbnail", "thumbnail_gallery", "blurred")
FOLDER_NAMES = ("Photoshoots", "Behind the scenes", "Customs", "Voice notes", "Archive")
COLLECTION_LABELS = ("Summer", "Travel", "Workouts", "Q&A", "Best of")
LIST_NAMES = ("VIP", "Regulars", "New this month", "Big tippers", "Quiet ones")
POST_LINES = (
    "New set is up!",
    "Thank you for 1k followers",
    "Sunday vibes",
    "Poll: what should I post next?",
    "Behind the scenes from today",
)


def variants_for(world: World, media_uuid: str, media_type: str) -> list[Item]:
    """Every variant a ready media item has; handlers hand out only the requested ones."""
    kinds = VARIANTS if media_type in ("image", "video") else ("main",)
    return [
        {
            "uuid": world.uuid_for(f"variant-{media_uuid}-{kind}"),
            "variantType": kind,
            "displayPosition": position,
            "url": f"https://cdn.emulator.test/{media_uuid}/{kind}",
            "width": 1080 if media_type in ("image", "video") else None,
            "height": 1350 if media_type in ("image", "video") else None,
            "lengthMs": 30_000 if media_type in ("video", "audio") else None,
        }
        for position, kind in enumerate(kinds)
    ]


def media_item(world: World, media_uuid: str, media_type: str, name: str, created: str) -> Item:
    return {
        "uuid": media_uuid,
        "status": "ready",
        "mediaType": media_type,
        "name": name,
        "caption": None,
        "description": None,
        "createdAt": created,
        "recommendedPrice": None,
        "tags": None,  # Fanvue: null unless AI tagging is enabled
        "_variants": variants_for(world, media_uuid, media_type),
        "_usage": None,
        "_purchasers": [],
    }


def generate_media(world: World, count: int) -> None:
    world.media.replace_all([])
    rng = world.rng("media")
    usages = (None, "subscribers", "followers", "ppv", "mass_messages")
    for index in range(count):
        media_uuid = world.uuid_for(f"media-{index}")
        media_type = MEDIA_TYPES[index % len(MEDIA_TYPES)]
        item = media_item(
            world,
            media_uuid,
            media_type,
            f"{media_type}-{index:03d}",
            world.past((count - index) * DAY * rng.uniform(0.5, 1.5)),
        )
        item["_usage"] = usages[index % len(usages)]
        item["recommendedPrice"] = rng.choice((None, 500, 1000))
        world.media.add(item)
    for folder in world.vault_folders:
        folder["_media"] = {k: v for k, v in folder["_media"].items() if k in world.media}


def generate_vault_folders(world: World, count: int) -> None:
    world.vault_folders.replace_all([])
    media = [m["uuid"] for m in world.media]
    for index in range(count):
        name = FOLDER_NAMES[index % len(FOLDER_NAMES)]
        if index >= len(FOLDER_NAMES):
            name = f"{name} {index // len(FOLDER_NAMES) + 1}"
        created = world.past((count - index) * 20 * DAY)
        members = media[index :: max(count, 1) + 1] if media else []
        world.vault_folders.add(
            {"name": name, "createdAt": created, "_media": dict.fromkeys(members, created)}
        )


def generate_collections(world: World, count: int) -> None:
    world.collections.replace_all(
        {
            "uuid": world.uuid_for(f"collection-{index}"),
            "label": COLLECTION_LABELS[index % len(COLLECTION_LABELS)]
            + ("" if index < len(COLLECTION_LABELS) else f" {index}"),
            "createdAt": world.past((count - index) * 30 * DAY),
        }
        for index in range(count)
    )


def _user_ref(person: Item) -> Item:
    return {
        key: person.get(key)
        for key in (
            "uuid",
            "handle",
            "displayName",
            "nickname",
            "avatarUrl",
            "registeredAt",
            "isTopSpender",
        )
    }


def generate_posts(world: World, count: int) -> None:
    world.posts.replace_all([])
    world.comments.clear()
    world.likes.clear()
    world.tips.clear()
    rng = world.rng("posts")
    media = [m["uuid"] for m in world.media if m["status"] == "ready"]
    fans = [p for p in world.people if p.get("status") in ("subscriber", "follower")]
    collections = [c["uuid"] for c in world.collections]
    for index in range(count):
        post_uuid = world.uuid_for(f"post-{index}")
        published = world.past((count - index) * 2 * DAY)
        attached = rng.sample(media, k=min(len(media), rng.randint(0, 3))) if media else []
        price = rng.choice((None, None, 800)) if attached else None
        world.posts.add(
            {
                "uuid": post_uuid,
                "text": POST_LINES[index % len(POST_LINES)],
                "audience": "subscribers" if index % 3 else "followers-and-subscribers",
                "price": price,
                "mediaUuids": attached,
                "mediaPreviewUuid": attached[0] if price and attached else None,
                "createdAt": published,
                "publishAt": None,
                "publishedAt": published,
                "expiresAt": None,
                "isPinned": index == count - 1,
                "_collections": collections[index % len(collections) :][:1] if collections else [],
            }
        )
        comments, likes, tips = Store(), Store(), Store()
        for n, fan in enumerate(rng.sample(fans, k=min(len(fans), rng.randint(0, 4)))):
            comments.add(
                {
                    "uuid": world.uuid_for(f"comment-{post_uuid}-{n}"),
                    "text": rng.choice(LINES),
                    "createdAt": world.past((count - index) * 2 * DAY - (n + 1) * 3600),
                    "updatedAt": None,
                    "user": _user_ref(fan),
                }
            )
        for n, fan in enumerate(rng.sample(fans, k=min(len(fans), rng.randint(0, 6)))):
            likes.add(
                {
                    "uuid": fan["uuid"],
                    "createdAt": world.past((count - index) * 2 * DAY - (n + 1) * 600),
                    "user": _user_ref(fan),
                }
            )
        for n, fan in enumerate(rng.sample(fans, k=min(len(fans), rng.randint(0, 2)))):
            gross = rng.choice((300, 500, 1000, 2500))
            tips.add(
                {
                    "uuid": world.uuid_for(f"tip-{post_uuid}-{n}"),
                    "createdAt": world.past((count - index) * 2 * DAY - (n + 1) * 900),
                    "gross": gross,
                    "net": gross * 80 // 100,
                    "user": _user_ref(fan),
                }
            )
        world.comments[post_uuid] = comments
        world.likes[post_uuid] = likes
        world.tips[post_uuid] = tips


def generate_templates(world: World, count: int) -> None:
    media = [m["uuid"] for m in world.media if m["status"] == "ready"]
    world.templates.replace_all(
        {
            "uuid": world.uuid_for(f"template-{index}"),
            "text": LINES[index % len(LINES)],
            "price": 500 if index % 3 == 2 and media else None,
            "mediaUuids": media[index : index + 1] if index % 3 == 2 else [],
            "folderName": ("Welcome", "Promos", "Upsells")[index % 3],
        }
        for index in range(count)
    )


def generate_custom_lists(world: World, count: int) -> None:
    world.custom_lists.replace_all([])
    world.list_members.clear()
    fans = sorted((p["uuid"] for p in world.people if p.get("status")), key=str)
    for index in range(count):
        list_uuid = world.uuid_for(f"custom-list-{index}")
        name = LIST_NAMES[index % len(LIST_NAMES)]
        if index >= len(LIST_NAMES):
            name = f"{name} {index // len(LIST_NAMES) + 1}"
        created = world.past((count - index) * 15 * DAY)
        world.custom_lists.add({"uuid": list_uuid, "name": name, "createdAt": created})
        world.list_members[list_uuid] = dict.fromkeys(fans[index :: count + 2], created)


def generate_mass_messages(world: World, count: int) -> None:
    rng = world.rng("mass-messages")
    subscribers = len(world.fans_with("subscriber"))
    rows: list[Item] = []
    for index in range(count):
        sent = world.past((count - index) * 5 * DAY)
        status = "SENT" if index % 4 else "UNSENT"
        price = rng.choice((None, 1000))
        purchases = rng.randint(0, max(subscribers // 3, 1)) if price else 0
        rows.append(
            {
                "uuid": world.uuid_for(f"mass-message-{index}"),
                "text": LINES[index % len(LINES)],
                "price": price,
                "mediaUuids": [],
                "status": status,
                "createdAt": sent,
                "publishedAt": sent,
                "scheduledAt": None,
                "recipientCount": subscribers,
                "purchaseCount": purchases,
                "viewCount": rng.randint(0, subscribers),
                "totalRevenue": purchases * (price or 0),
                "_included": {"smartListUuids": ["subscribers"], "customListUuids": []},
                "_excluded": {"smartListUuids": [], "customListUuids": []},
            }
        )
    world.mass_messages.replace_all(rows)


def generate_media_links(world: World, count: int) -> None:
    world.media_links.replace_all(
        {"uuid": world.uuid_for(f"media-link-{index}"), "_purchased": index % 2 == 0}
        for index in range(count)
    )
