"""The collection generators, by the names the control API accepts, in dependency order."""

from __future__ import annotations

from collections.abc import Callable

from . import people
from .model import World

MAX_COUNT = 100_000
"""Upper bound for one control-API count (the benchmark uses 10,000 followers)."""

DEFAULT_COUNTS: dict[str, int] = {
    "followers": 45,
    "subscribers": 12,
    "expired": 3,
    "chats": 12,
}

# Dependency order: people before chats (chats pick fans).
GENERATORS: dict[str, Callable[[World, int], None]] = {
    "followers": people.generate_followers,
    "subscribers": people.generate_subscribers,
    "expired": people.generate_expired,
    "chats": people.generate_chats,
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
        "chats": len(world.chats),
    }


def refresh_team(world: World, managed: list[str]) -> None:
    """Agency team members get access to the managed creators (placeholder until teams)."""
    del world, managed
