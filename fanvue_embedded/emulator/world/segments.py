"""Fan segments: Fanvue's smart lists and the chat filters, as predicates over the world."""

from __future__ import annotations

from collections.abc import Callable

from .model import World, seconds_before_anchor
from .store import Item

Predicate = Callable[[World, Item], bool]
SPENT_MORE_THAN_50 = 5_000  # cents
RECENT_DAYS = 30

SMART_LISTS: dict[str, tuple[str, Predicate]] = {
    "subscribers": ("Subscribers", lambda w, p: p.get("status") == "subscriber"),
    "auto_renewing": (
        "Auto-renewing",
        lambda w, p: p.get("status") == "subscriber" and bool(p.get("_autoRenew")),
    ),
    "non_renewing": (
        "Non-renewing",
        lambda w, p: p.get("status") == "subscriber" and not p.get("_autoRenew"),
    ),
    "followers": ("Followers", lambda w, p: p.get("status") == "follower"),
    "free_trial_subscribers": (
        "Free trial subscribers",
        lambda w, p: p.get("status") == "subscriber" and bool(p.get("_freeTrial")),
    ),
    "expired_subscribers": ("Expired subscribers", lambda w, p: p.get("status") == "expired"),
    "spent_more_than_50": (
        "Spent more than $50",
        lambda w, p: int(p.get("_spent", 0)) > SPENT_MORE_THAN_50,
    ),
    "muted": ("Muted", lambda w, p: bool((w.chats.get(p["uuid"]) or {}).get("isMuted"))),
}


def smart_list_members(world: World, list_id: str) -> list[Item]:
    """The smart list's members, newest relationship first (cached per people version)."""
    _name, predicate = SMART_LISTS[list_id]
    return world.people.view(
        f"smart:{list_id}",
        lambda items: sorted(
            (p for p in items if p.get("status") and predicate(world, p)),
            key=lambda p: str(p.get("_since", "")),
            reverse=True,
        ),
    )


def _recent(person: Item) -> bool:
    since = person.get("_since")
    return bool(since) and seconds_before_anchor(str(since)) <= RECENT_DAYS * 86_400


def _not_answered(world: World, chat: Item) -> bool:
    messages = world.messages_of(chat["userUuid"]).newest_first()
    return bool(messages) and messages[0]["sender"]["uuid"] != world.owner.uuid


CHAT_FILTERS: dict[str, Callable[[World, Item, Item], bool]] = {
    "unread": lambda w, c, p: int(c["_unread"]) > 0 or bool(c.get("_markedUnread")),
    "subscribers": lambda w, c, p: p.get("status") == "subscriber",
    "followers": lambda w, c, p: p.get("status") == "follower",
    "online": lambda w, c, p: bool(p.get("isOnline")),
    "recent_subscribers": lambda w, c, p: p.get("status") == "subscriber" and _recent(p),
    "not_answered": lambda w, c, p: _not_answered(w, c),
    "spent_more_than_50": lambda w, c, p: int(p.get("_spent", 0)) > SPENT_MORE_THAN_50,
    "on_free_trial": lambda w, c, p: bool(p.get("_freeTrial")),
    "has_tipped": lambda w, c, p: int(p.get("_spent", 0)) > 0,
    "spenders": lambda w, c, p: int(p.get("_spent", 0)) > 0,
    "exclude_creators": lambda w, c, p: not p.get("isCreator"),
    "subscribed_to": lambda w, c, p: bool(p.get("isCreator")),
    "not_muted": lambda w, c, p: not c.get("isMuted"),
    "archived": lambda w, c, p: bool(c.get("_archived")),
}
