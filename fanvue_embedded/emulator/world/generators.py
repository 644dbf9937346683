"""The collection generators, by the names the control API accepts, in dependency order."""

from __future__ import annotations

from collections.abc import Callable

from . import content, money, people
from .model import World

MAX_COUNT = 100_000
"""Upper bound for one control-API count (the benchmark uses 10,000 followers)."""

DEFAULT_COUNTS: dict[str, int] = {
    "followers": 45,
    "subscribers": 12,
    "expired": 3,
    "media": 24,
    "vault_folders": 3,
    "collections": 2,
    "posts": 8,
    "chats": 12,
    "templates": 4,
    "custom_lists": 3,
    "mass_messages": 5,
    "media_links": 2,
    "earnings": 60,
    "spending": 4,
    "tracking_links": 4,
    "notifications": 20,
}

# Dependency order: people, then media (posts, folders and messages attach it), then what
# refers to both; earnings last, since fans' spend totals follow from them.
GENERATORS: dict[str, Callable[[World, int], None]] = {
    "followers": people.generate_followers,
    "subscribers": people.generate_subscribers,
    "expired": people.generate_expired,
    "media": content.generate_media,
    "vault_folders": content.generate_vault_folders,
    "collections": content.generate_collections,
    "posts": content.generate_posts,
    "chats": people.generate_chats,
    "templates": content.generate_templates,
    "custom_lists": content.generate_custom_lists,
    "mass_messages": content.generate_mass_messages,
    "media_links": content.generate_media_links,
    "earnings": money.generate_earnings,
    "spending": money.generate_spending,
    "tracking_links": money.generate_tracking_links,
    "notifications": money.generate_notifications,
}


def populate(world: World, counts: dict[str, int]) -> None:
    """Run the generators named in ``counts`` (unknown names: ``KeyError``) in order."""
    unknown = sorted(set(counts) - set(GENERATORS))
    if unknown:
        raise KeyError(", ".join(unknown))
    for name, generate in GENERATORS.items():
        if name in counts:
            generate(world, counts[name])


def counts(world: World) -> dict[str, int]:
    """How many items each named collection holds now."""
    return {
        "followers": len(world.fans_with("follower")),
        "subscribers": len(world.fans_with("subscriber")),
        "expired": len(world.fans_with("expired")),
        "media": len(world.media),
        "vault_folders": len(world.vault_folders),
        "collections": len(world.collections),
        "posts": len(world.posts),
        "chats": len(world.chats),
        "templates": len(world.templates),
        "custom_lists": len(world.custom_lists),
        "mass_messages": len(world.mass_messages),
        "media_links": len(world.media_links),
        "earnings": len(world.earnings),
        "spending": len(world.spending),
        "tracking_links": len(world.tracking_links),
        "notifications": len(world.notifications),
    }


def keys(world: World, name: str) -> list[str]:
    """The keys of one named collection, newest first (``KeyError`` for an unknown name)."""
    fans = {"followers": "follower", "subscribers": "subscriber", "expired": "expired"}
    if name in fans:
        return [p["uuid"] for p in world.fans_with(fans[name])]
    if name not in GENERATORS:
        raise KeyError(name)
    store = getattr(world, name)
    return [store.key_of(item) for item in store.newest_first()]


def refresh_team(world: World, managed: list[str]) -> None:
    """The agency's team members follow the creators it manages."""
    money.refresh_team(world, managed)
