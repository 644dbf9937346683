"""Money and reach: earnings and spending rows, tracking links, notifications, agency teams."""

from __future__ import annotations

from .model import World
from .people import recompute_spend
from .store import Item, Store

DAY = 86_400.0
EARNING_SOURCES = ("message", "post", "tip", "subscription", "renewal", "referral", "mediaLink")
PLATFORMS = ("instagram", "tiktok", "twitter", "reddit", "youtube", "snapchat", "facebook", "other")
NOTIFICATION_TYPES = (6, 7, 9, 10, 11, 12, 14)
NET_SHARE = 80  # percent of gross a creator keeps


def user_ref(person: Item) -> Item:
    return {
        key: person.get(key)
        for key in ("uuid", "handle", "displayName", "nickname", "isTopSpender")
    }


def _spenders(world: World) -> list[Item]:
    return sorted(
        (p for p in world.people if p.get("status") in ("subscriber", "follower", "expired")),
        key=lambda p: str(p["uuid"]),
    )


def generate_earnings(world: World, count: int) -> None:
    """N invoice rows over the last ~90 days; fans' spend totals follow from them."""
    rng = world.rng("earnings")
    fans = _spenders(world)
    posts = [p["uuid"] for p in world.posts]
    rows = []
    for index in range(count):
        source = EARNING_SOURCES[index % len(EARNING_SOURCES)]
        gross = rng.choice((300, 500, 999, 1500, 2500, 5000))
        fan = fans[rng.randrange(len(fans))] if fans else None
        row: Item = {
            "transactionOrderId": f"FV-{world.owner.handle[:4].upper()}-{index:06d}",
            "date": world.past((count - index) * 90 * DAY / max(count, 1)),
            "gross": gross,
            "net": gross * NET_SHARE // 100,
            "currency": "USD",
            "source": source,
            "transactionOrderStatus": "pendingBalance"
            if index >= count - 3
            else ("availableForPayout"),
            "messageUuid": world.uuid_for(f"earning-message-{index}"),
            "postUuid": posts[index % len(posts)]
            if posts and source == "post"
            else (world.uuid_for(f"earning-post-{index}")),
            "user": user_ref(fan) if fan else None,
        }
        rows.append(row)
    world.earnings.replace_all(rows)
    recompute_spend(world)


def generate_spending(world: World, count: int) -> None:
    rng = world.rng("spending")
    fans = _spenders(world)
    rows = []
    for index in range(count):
        gross = -rng.choice((500, 999, 1500))
        fan = fans[rng.randrange(len(fans))] if fans else None
        rows.append(
            {
                "transactionOrderId": f"FV-R-{world.owner.handle[:4].upper()}-{index:05d}",
                "date": world.past((count - index) * 20 * DAY),
                "gross": gross,
                "net": gross * NET_SHARE // 100,
                "currency": "USD",
                "source": "refund" if index % 3 else "chargeback",
                "messageUuid": world.uuid_for(f"spending-message-{index}"),
                "postUuid": world.uuid_for(f"spending-post-{index}"),
                "user": user_ref(fan) if fan else None,
            }
        )
    world.spending.replace_all(rows)


def generate_tracking_links(world: World, count: int) -> None:
    world.tracking_links.replace_all([])
    world.link_users.clear()
    rng = world.rng("tracking-links")
    fans = _spenders(world)
    for index in range(count):
        link_uuid = world.uuid_for(f"tracking-link-{index}")
        platform = PLATFORMS[index % len(PLATFORMS)]
        acquired = rng.sample(fans, k=min(len(fans), rng.randint(0, 6))) if fans else []
        subs = sum(1 for p in acquired if p.get("status") == "subscriber")
        gross = rng.choice((0, 1500, 9900))
        world.tracking_links.add(
            {
                "uuid": link_uuid,
                "name": f"{platform.title()} link {index + 1}",
                "linkUrl": f"https://www.fanvue.com/{world.owner.handle}?free_trial={link_uuid[:8]}",
                "externalSocialPlatform": platform,
                "createdAt": world.past((count - index) * 3 * DAY),
                "clicks": rng.randint(len(acquired), 500),
                "engagement": {
                    "acquiredFollowers": len(acquired) - subs,
                    "acquiredSubscribers": subs,
                    "totalFollowers": len(acquired) - subs,
                    "totalSubscribers": subs,
                },
                "earnings": {"totalGross": gross, "totalNet": gross * NET_SHARE // 100}
                if gross
                else None,
            }
        )
        users = Store()
        for person in acquired:
            users.add({**person, "_metadata": {"utm_source": platform, "utm_campaign": "launch"}})
        world.link_users[link_uuid] = users


def generate_notifications(world: World, count: int) -> None:
    rng = world.rng("notifications")
    fans = _spenders(world)
    rows = []
    for index in range(count):
        fan = fans[rng.randrange(len(fans))] if fans else None
        rows.append(
            {
                "uuid": world.uuid_for(f"notification-{index}"),
                "createdAt": world.past((count - index) * 6 * 3600.0),
                "eventType": NOTIFICATION_TYPES[index % len(NOTIFICATION_TYPES)],
                "isRead": index < count - 5,
                "receiverUuid": world.owner.uuid,
                "data": {},
                "originator": None
                if fan is None
                else {
                    "uuid": fan["uuid"],
                    "handle": fan["handle"],
                    "displayName": fan["displayName"],
                    "avatarUrl": fan.get("avatarUrl"),
                    "isCreator": False,
                },
            }
        )
    world.notifications.replace_all(rows)


TEAM = (("Alex Chatter", False), ("Bea Admin", True), ("Cy Night", False))


def refresh_team(world: World, managed: list[str]) -> None:
    """An agency's team: an admin and chatters, with access to every managed creator."""
    if not managed:
        world.team_members.replace_all([])
        return
    members = []
    for index, (name, admin) in enumerate(TEAM):
        existing = world.team_members.get(world.uuid_for(f"team-{index}")) or {}
        member: Item = {
            "uuid": world.uuid_for(f"team-{index}"),
            "displayName": name,
            "nickname": existing.get("nickname"),
            "email": f"{name.split()[0].lower()}@agency.example.test",
            "isAdmin": admin,
        }
        if "_access" in existing:  # set through updateTeamMember: kept, minus released creators
            member["_access"] = [c for c in existing["_access"] if c in managed]
        access = member.get("_access", managed)
        member["creatorAccess"] = [
            {"uuid": creator, "role": "ADMIN" if admin else "CHATTER"} for creator in access
        ]
        members.append(member)
    world.team_members.replace_all(members)
