"""Fans (followers, subscribers, expired subscribers), chats and their messages."""

from __future__ import annotations

from .model import World, seconds_before_anchor
from .store import Item, Store

FIRST_NAMES = (
    "Ava", "Ben", "Cleo", "Dan", "Eve", "Finn", "Gia", "Hugo", "Iris", "Jay", "Kai", "Lea",
    "Milo", "Nia", "Omar", "Pia", "Quinn", "Rae", "Sam", "Tess", "Uma", "Vic", "Wes", "Zoe",
)  # fmt: skip
LINES = (
    "Hey! Loved your latest post",
    "Thanks so much for the message",
    "When is the next drop?",
    "That was amazing, thank you",
    "Good morning!",
    "Can I request something custom?",
    "Sent you a little tip",
    "Have a great weekend",
)
DAY = 86_400.0
TOP_SPENDER_CENTS = 50_000


def _person(world: World, kind: str, index: int, status: str | None) -> Item:
    rng = world.rng(f"{kind}-{index}")
    first = FIRST_NAMES[index % len(FIRST_NAMES)]
    registered = rng.uniform(30, 900) * DAY
    since = rng.uniform(0, min(registered / DAY, 365)) * DAY
    person: Item = {
        "uuid": world.uuid_for(f"{kind}-{index}"),
        "handle": f"{first.lower()}.{kind}{index}",
        "displayName": f"{first} {kind.title()} {index}",
        "nickname": None,
        "avatarUrl": f"https://avatars.emulator.test/{kind}{index}.png" if index % 4 else None,
        "registeredAt": world.past(registered),
        "isTopSpender": False,  # from the earnings rows: see recompute_spend
        "isCreator": False,
        "status": status,
        "_since": world.past(since),
        "_spent": 0,
        "isOnline": rng.random() < 0.2,
        "lastSeenAt": world.past(rng.uniform(0, 7) * DAY),
    }
    if status in ("subscriber", "expired"):
        person["subscribedAt"] = person["_since"]
        renews = since - 30 * DAY if status == "subscriber" else since + rng.uniform(1, 60) * DAY
        person["expiresAt"] = world.past(renews)
        person["_autoRenew"] = status == "subscriber" and rng.random() < 0.7
        person["_freeTrial"] = status == "subscriber" and rng.random() < 0.1
    return person


def _replace_status(world: World, kind: str, status: str, count: int) -> None:
    for person in list(world.people):
        if person.get("status") == status:
            if person["uuid"] in world.chats:
                person["status"] = None  # keeps its chat; no longer a fan of this kind
            else:
                world.people.remove(person["uuid"])
    for index in range(count):
        world.people.add(_person(world, kind, index, status))
    recompute_spend(world)


def recompute_spend(world: World) -> None:
    """Each fan's lifetime spend (``_spent``) and top-spender flag, from the earnings rows."""
    totals: dict[str, int] = {}
    for row in world.earnings:
        user = row.get("user")
        if user:
            totals[user["uuid"]] = totals.get(user["uuid"], 0) + int(row["gross"])
    for person in world.people:
        person["_spent"] = totals.get(person["uuid"], 0)
        person["isTopSpender"] = person["_spent"] >= TOP_SPENDER_CENTS
    world.people.touch()


def generate_followers(world: World, count: int) -> None:
    _replace_status(world, "follower", "follower", count)


def generate_subscribers(world: World, count: int) -> None:
    _replace_status(world, "subscriber", "subscriber", count)


def generate_expired(world: World, count: int) -> None:
    _replace_status(world, "expired", "expired", count)


def generate_chats(world: World, count: int) -> None:
    """N chats, with subscribers first, then followers, then people who are no fans."""
    world.chats.replace_all([])
    world.messages.clear()
    order = {"subscriber": 0, "follower": 1, "expired": 2}
    partners = sorted(
        (p for p in world.people if p.get("status") in order),
        key=lambda p: (order[p["status"]], p["uuid"]),
    )[:count]
    partners += [_person(world, "contact", index, None) for index in range(count - len(partners))]
    for index, person in enumerate(partners):
        if person["uuid"] not in world.people:
            world.people.add(person)
        rng = world.rng(f"chat-{person['uuid']}")
        last = rng.uniform(0, 20) * DAY
        total = rng.randint(1, 8)
        unread = rng.choice((0, 0, 0, 1, 2)) if total > 1 else 0
        world.chats.add(
            {
                "userUuid": person["uuid"],
                "createdAt": world.past(last + total * DAY),
                "lastMessageAt": world.past(last),
                "isMuted": index % 9 == 8,
                "_unread": unread,
                "_total": total,
                "_archived": False,
            }
        )


def generate_messages(world: World, user_uuid: str) -> Store:
    """A chat's history: the last ``_unread`` messages are the fan's, still unread."""
    chat = world.chats.get(user_uuid)
    store = Store()
    if chat is None or not chat["_total"]:
        return store
    fan = world.person(user_uuid) or {"uuid": user_uuid, "handle": "unknown"}
    fan_ref = {"uuid": fan["uuid"], "handle": fan["handle"]}
    rng = world.rng(f"messages-{user_uuid}")
    total, unread = int(chat["_total"]), int(chat["_unread"])
    media = [m for m in world.media.newest_first() if m["status"] == "ready"]
    last_seconds = seconds_before_anchor(chat["lastMessageAt"])
    for index in range(total):
        from_fan = index >= total - unread or index % 2 == 0
        ago = last_seconds + (total - 1 - index) * 3600.0
        tip = from_fan and rng.random() < 0.1
        attached = (
            media[rng.randrange(len(media))] if media and not from_fan and index % 3 == 1 else None
        )
        price = 800 if attached is not None and index % 2 else None
        store.add(
            {
                "uuid": world.uuid_for(f"message-{user_uuid}-{index}"),
                "text": rng.choice(LINES),
                "sentAt": world.past(ago),
                "type": "TIP" if tip else "SINGLE_RECIPIENT",
                "sender": fan_ref if from_fan else world.owner_ref(),
                "recipient": world.owner_ref() if from_fan else fan_ref,
                "isRead": not (from_fan and index >= total - unread),
                "hasMedia": attached is not None,
                "mediaType": None if attached is None else attached["mediaType"],
                "mediaUuids": [] if attached is None else [attached["uuid"]],
                "pricing": None if price is None else {"USD": {"price": price}},
                "purchasedAt": None
                if price is None or rng.random() < 0.5
                else world.past(ago - 600),
                "sentByUserId": None,
            }
        )
    return store
