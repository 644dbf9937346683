"""All worlds, built lazily per creator, plus what spans them: agencies and app subscriptions.

Everything is guarded by one lock that the API dispatcher holds for a whole call, so a call
sees and leaves a consistent world even while a test pokes the registry from another thread.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from . import generators
from .model import Owner, World

OwnerLookup = Callable[[str], Owner | None]


@dataclass
class AppSubscription:
    """What ``/apps/{appUuid}/subscription*`` report for one app (set through the control API)."""

    app_uuid: str
    app_name: str = "Emulated app"
    status: str = "none"  # active|pending|cancelled|none
    plan_name: str | None = None
    current_period_end: str | None = None
    cancel_at_period_end: bool = False
    overall_status: str = "active"
    owner: str | None = None  # creator uuid owning the app (subscription-status needs it)
    upstream: str = "ok"  # ok|failure|unconfigured: 502/503 from the subscription endpoints
    plan_uuid: str = ""

    def __post_init__(self) -> None:
        if not self.plan_uuid:
            self.plan_uuid = str(uuid.uuid5(uuid.NAMESPACE_URL, f"plan:{self.app_uuid}"))


@dataclass
class Upload:
    """One multipart upload: its media record and the parts PUT to the object store."""

    upload_id: str
    media_uuid: str
    owner: str
    parts: dict[int, str] = field(default_factory=dict)  # part number -> ETag
    sizes: dict[int, int] = field(default_factory=dict)
    completed: bool = False


class Worlds:
    """Per-creator worlds and the relations between creators."""

    def __init__(self, seed: int | None, now: Callable[[], float], owners: OwnerLookup) -> None:
        self.lock = threading.RLock()
        self._seed = 0 if seed is None else seed
        self._now = now
        self._owners = owners
        self._worlds: dict[str, World] = {}
        self.agencies: dict[str, list[str]] = {}  # agency uuid -> managed creator uuids
        self.apps: dict[str, AppSubscription] = {}
        self.uploads: dict[str, Upload] = {}
        self.objects: dict[str, tuple[str, int]] = {}  # presigned token -> (upload, part)
        # Webhook events API calls caused, (type, creator uuid, payload), until sent.
        self.outbox: list[tuple[str, str, dict[str, Any]]] = []

    def reset(self) -> None:
        with self.lock:
            self.outbox.clear()
            self._worlds.clear()
            self.agencies.clear()
            self.apps.clear()
            self.uploads.clear()
            self.objects.clear()

    def world(self, creator_uuid: str) -> World:
        """The creator's world, generated with the default counts on first use."""
        with self.lock:
            found = self._worlds.get(creator_uuid)
            if found is None:
                owner = self._owners(creator_uuid)
                if owner is None:
                    raise KeyError(creator_uuid)
                found = World(owner=owner, seed=self._seed, now=self._now)
                generators.populate(found, generators.DEFAULT_COUNTS)
                generators.refresh_team(found, self.agencies.get(creator_uuid, []))
                self._worlds[creator_uuid] = found
            return found

    def reseed(self, creator_uuid: str, counts: dict[str, int]) -> dict[str, int]:
        """Replace each named collection with N fresh items; the resulting counts."""
        with self.lock:
            world = self.world(creator_uuid)
            generators.populate(world, counts)
            return generators.counts(world)

    def put_object(self, token: str, data: bytes) -> str | None:
        """Store one part's bytes (the emulator playing S3); its ETag, or None if unknown."""
        import hashlib

        with self.lock:
            target = self.objects.get(token)
            if target is None:
                return None
            upload = self.uploads[target[0]]
            etag = f'"{hashlib.md5(data, usedforsecurity=False).hexdigest()}"'
            upload.parts[target[1]] = etag
            upload.sizes[target[1]] = len(data)
            return etag

    # -- webhook events --------------------------------------------------------------------

    def emit(self, world: World, event: tuple[str, dict[str, Any]] | None) -> None:
        """Queue the event an API call caused in ``world`` (None: it caused none)."""
        if event is not None:
            with self.lock:
                self.outbox.append((event[0], world.owner.uuid, event[1]))

    def take_events(self) -> list[tuple[str, str, dict[str, Any]]]:
        """The queued events, oldest first; the queue is empty afterwards."""
        with self.lock:
            taken, self.outbox = self.outbox, []
            return taken

    # -- agencies -------------------------------------------------------------------------

    def is_agency(self, user_uuid: str) -> bool:
        with self.lock:
            return user_uuid in self.agencies

    def managed_by(self, agency_uuid: str) -> list[str]:
        with self.lock:
            return list(self.agencies.get(agency_uuid, []))

    def manages(self, agency_uuid: str, creator_uuid: str) -> bool:
        with self.lock:
            return creator_uuid in self.agencies.get(agency_uuid, [])

    def set_agency(self, agency_uuid: str, managed: list[str] | None) -> None:
        """Make the user an agency managing ``managed`` (replacing), or ``None``: no agency."""
        with self.lock:
            if managed is None:
                self.agencies.pop(agency_uuid, None)
            else:
                self.agencies[agency_uuid] = list(dict.fromkeys(managed))
            found = self._worlds.get(agency_uuid)
            if found is not None:
                generators.refresh_team(found, self.agencies.get(agency_uuid, []))
