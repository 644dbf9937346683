"""One creator's world: the collections Fanvue's API reads and writes, and how they are made.

Items are dicts keyed by Fanvue's own field names; the few facts Fanvue never returns but the
emulator needs (a fan's relationship since-date, a chat's unread count...) start with ``_``.
Collections are generated on first use, deterministically from the seed and the owner's uuid,
and a control call can replace any of them with N fresh items (``reseed``).
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from .store import Item, Store

ANCHOR = datetime(2025, 6, 1, tzinfo=UTC)
"""Generated history ends here, so the same seed gives the same data on any day."""


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_iso(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def seconds_before_anchor(text: str) -> float:
    """How long before ``ANCHOR`` an ISO time is (0 for later times, e.g. written items)."""
    return max((ANCHOR - parse_iso(text)).total_seconds(), 0.0)


@dataclass
class Owner:
    """The account a world belongs to (a creator in the emulator's registry)."""

    uuid: str
    handle: str
    display_name: str
    email: str
    is_creator: bool = True


@dataclass
class World:
    owner: Owner
    seed: int
    now: Callable[[], float]
    people: Store = field(default_factory=Store)
    chats: Store = field(default_factory=lambda: Store("userUuid"))
    messages: dict[str, Store] = field(default_factory=dict)
    mass_messages: Store = field(default_factory=Store)
    templates: Store = field(default_factory=Store)
    custom_lists: Store = field(default_factory=Store)
    list_members: dict[str, dict[str, str]] = field(default_factory=dict)
    posts: Store = field(default_factory=Store)
    comments: dict[str, Store] = field(default_factory=dict)
    likes: dict[str, Store] = field(default_factory=dict)
    tips: dict[str, Store] = field(default_factory=dict)
    collections: Store = field(default_factory=Store)
    media: Store = field(default_factory=Store)
    vault_folders: Store = field(default_factory=lambda: Store("name"))
    folder_media: dict[str, dict[str, str]] = field(default_factory=dict)
    media_links: Store = field(default_factory=Store)
    entitlements: dict[tuple[str, str, str, str], str] = field(default_factory=dict)
    tracking_links: Store = field(default_factory=Store)
    link_users: dict[str, Store] = field(default_factory=dict)
    notifications: Store = field(default_factory=Store)
    earnings: Store = field(default_factory=lambda: Store("transactionOrderId"))
    spending: Store = field(default_factory=lambda: Store("transactionOrderId"))
    team_members: Store = field(default_factory=Store)
    # Checkout links (``world/checkout.py``): payments and subscriptions by id.
    checkout_payments: dict[str, Item] = field(default_factory=dict)
    checkout_subscriptions: dict[str, Item] = field(default_factory=dict)
    counter: int = 0

    # -- deterministic ingredients ---------------------------------------------------------

    def rng(self, name: str) -> random.Random:
        return random.Random(f"{self.seed}|{self.owner.uuid}|{name}")  # noqa: S311 - test data

    def uuid_for(self, name: str) -> str:
        return str(uuid.uuid5(uuid.UUID(self.owner.uuid), name))

    def new_uuid(self, kind: str) -> str:
        """A fresh id for a written item: deterministic too, so runs are repeatable."""
        self.counter += 1
        return self.uuid_for(f"{kind}-new-{self.counter}")

    def past(self, seconds_ago: float) -> str:
        return iso(ANCHOR - timedelta(seconds=seconds_ago))

    def now_iso(self) -> str:
        return iso(datetime.fromtimestamp(self.now(), UTC))

    def later_iso(self, seconds: float) -> str:
        return iso(datetime.fromtimestamp(self.now() + seconds, UTC))

    # -- people ---------------------------------------------------------------------------

    def person(self, user_uuid: str) -> Item | None:
        return self.people.get(user_uuid)

    def fans_with(self, status: str) -> list[Item]:
        """People with this relationship, newest relationship first (cached per version)."""
        return self.people.view(
            f"status:{status}",
            lambda items: sorted(
                (p for p in items if p.get("status") == status),
                key=lambda p: str(p.get("_since", "")),
                reverse=True,
            ),
        )

    def owner_ref(self) -> Item:
        return {"uuid": self.owner.uuid, "handle": self.owner.handle}

    def messages_of(self, user_uuid: str) -> Store:
        """The chat's messages, generated on first read."""
        store = self.messages.get(user_uuid)
        if store is None:
            from .people import generate_messages

            store = generate_messages(self, user_uuid)
            self.messages[user_uuid] = store
        return store


Generator = Callable[[World, int], None]
"""Replace one collection with N deterministic items."""


def sub_store(stores: dict[str, Store], key: str, factory: Callable[[], Store]) -> Store:
    found = stores.get(key)
    if found is None:
        found = stores[key] = factory()
    return found
