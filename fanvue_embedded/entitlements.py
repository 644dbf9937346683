"""App-subscription entitlement: does this creator have an active plan for the app?

Fanvue's App Store sells plans for an app; ``GET /apps/{appUuid}/subscription/me`` (scope
``read:self``, called with the creator's own token, which must come from the same app) says
whether the caller has one. ``Entitlements.status(creator)`` reads it through the creator's
API client and keeps the answer for a short while (``ENTITLEMENT_CACHE_TTL``, 60 s by default)
in process memory, in a bounded cache shared by every event loop of the process: a guarded
route costs one upstream call per creator per minute, not one per request. App subscriptions
emit no webhooks (Fanvue's docs), so expiry is the only way a change is seen; ``fresh=True``
reads now ("I have just subscribed").

``require(creator)`` raises ``SubscriptionRequired`` (402 in the error table) unless
``hasActiveSubscription`` is true. Upstream failures raise the client's usual errors (502/503
from these endpoints: ``UpstreamServerError``) and are never cached.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from .client import FanvueClient
from .errors import ConfigurationError, ProtocolError, SubscriptionRequired

__all__ = [
    "DEFAULT_ENTITLEMENT_TTL",
    "CreatorEntitlement",
    "Entitlement",
    "EntitlementCache",
    "Entitlements",
]

DEFAULT_ENTITLEMENT_TTL = 60.0
DEFAULT_MAX_ENTRIES = 10_000
OPERATION_ID = "getAppCurrentUserSubscription"


def _optional_str(data: Mapping[str, Any], name: str) -> str | None:
    value = data.get(name)
    if value is None or isinstance(value, str):
        return value
    raise TypeError(f"{name} is not a string")


def _required(data: Mapping[str, Any], name: str, kind: type) -> Any:
    value = data.get(name)
    if not isinstance(value, kind):
        raise TypeError(f"{name} is missing or not a {kind.__name__}")
    return value


@dataclass(frozen=True, slots=True)
class CreatorEntitlement:
    """One user's plan for the app: the caller's own, or a managed creator's (agencies)."""

    user_uuid: str
    status: str  # active | pending | cancelled | none
    has_active_subscription: bool
    plan_uuid: str | None = None
    plan_name: str | None = None
    current_period_end: str | None = None
    cancel_at_period_end: bool = False

    @property
    def active(self) -> bool:
        """Fanvue's ``hasActiveSubscription``: the one field that decides entitlement."""
        return self.has_active_subscription

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> CreatorEntitlement:
        """Parse one entry; ``TypeError`` on a malformed one."""
        return cls(
            user_uuid=_required(data, "userUuid", str),
            status=_required(data, "status", str),
            has_active_subscription=_required(data, "hasActiveSubscription", bool),
            plan_uuid=_optional_str(data, "planUuid"),
            plan_name=_optional_str(data, "planName"),
            current_period_end=_optional_str(data, "currentPeriodEnd"),
            cancel_at_period_end=data.get("cancelAtPeriodEnd") is True,
        )


@dataclass(frozen=True, slots=True)
class Entitlement(CreatorEntitlement):
    """``GET /apps/{appUuid}/subscription/me`` for one creator, typed.

    ``managed_creators`` lists the creators an agency team member is assigned to (their own
    ``status`` is then ``none``); empty for everyone else.
    """

    app_uuid: str = ""
    managed_creators: tuple[CreatorEntitlement, ...] = ()

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> Entitlement:
        """Parse Fanvue's answer; ``ProtocolError`` when it is malformed."""
        try:
            own = CreatorEntitlement.from_api(data)
            managed = data.get("managedCreators") or []
            if not isinstance(managed, list):
                raise TypeError("managedCreators is not a list")
            return cls(
                user_uuid=own.user_uuid,
                status=own.status,
                has_active_subscription=own.has_active_subscription,
                plan_uuid=own.plan_uuid,
                plan_name=own.plan_name,
                current_period_end=own.current_period_end,
                cancel_at_period_end=own.cancel_at_period_end,
                app_uuid=_required(data, "appUuid", str),
                managed_creators=tuple(CreatorEntitlement.from_api(item) for item in managed),
            )
        except (TypeError, AttributeError) as exc:
            raise ProtocolError(
                f"GET /apps/{{appUuid}}/subscription/me returned a malformed body ({exc})"
            ) from exc

    def public(self) -> dict[str, Any]:
        """What the page may see: the creator's own plan (no other user's uuid)."""
        return {
            "status": self.status,
            "hasActiveSubscription": self.has_active_subscription,
            "planName": self.plan_name,
            "currentPeriodEnd": self.current_period_end,
            "cancelAtPeriodEnd": self.cancel_at_period_end,
        }


class EntitlementCache:
    """Answers per creator for ``ttl`` seconds, at most ``max_entries`` (least recently used
    dropped first). Thread-safe: one cache serves every event loop of the process."""

    def __init__(
        self,
        *,
        ttl: float = DEFAULT_ENTITLEMENT_TTL,
        max_entries: int = DEFAULT_MAX_ENTRIES,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if ttl < 0 or max_entries < 1:
            raise ValueError("ttl must be >= 0 and max_entries >= 1")
        self.ttl = ttl
        self.max_entries = max_entries
        self._monotonic = monotonic
        self._entries: OrderedDict[str, tuple[float, Entitlement]] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, creator: str) -> Entitlement | None:
        with self._lock:
            entry = self._entries.get(creator)
            if entry is None:
                return None
            if self._monotonic() - entry[0] >= self.ttl:
                del self._entries[creator]
                return None
            self._entries.move_to_end(creator)
            return entry[1]

    def put(self, creator: str, entitlement: Entitlement) -> None:
        with self._lock:
            self._entries[creator] = (self._monotonic(), entitlement)
            self._entries.move_to_end(creator)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    def forget(self, creator: str) -> None:
        with self._lock:
            self._entries.pop(creator, None)


class Entitlements:
    """The app-subscription status of creators, for one event loop (``Services`` builds one
    per loop, all sharing one ``EntitlementCache``).

    ``client_for(creator)`` is the creator's API client (``TokenManager.client``);
    ``app_uuid`` is ``FANVUE_APP_UUID``. Concurrent lookups of one creator share one call.
    """

    def __init__(
        self,
        *,
        app_uuid: str | None,
        client_for: Callable[[str], FanvueClient],
        cache: EntitlementCache | None = None,
    ) -> None:
        self.app_uuid = app_uuid
        self._client_for = client_for
        self.cache = cache if cache is not None else EntitlementCache()
        self._inflight: dict[str, asyncio.Task[Entitlement]] = {}

    def __repr__(self) -> str:
        return f"Entitlements(app_uuid={self.app_uuid!r}, cached={len(self.cache)})"

    async def status(self, creator: str, *, fresh: bool = False) -> Entitlement:
        """``creator``'s plan for the app: cached for the TTL; ``fresh`` reads Fanvue now."""
        if self.app_uuid is None:
            raise ConfigurationError(
                "FANVUE_APP_UUID is not set: the app's uuid (Fanvue's Developer Area) is needed "
                "to read creators' app subscriptions.",
                variable="FANVUE_APP_UUID",
            )
        if not fresh:
            cached = self.cache.get(creator)
            if cached is not None:
                return cached
        task = self._inflight.get(creator)
        if task is None or task.done():
            task = asyncio.ensure_future(self._fetch(creator, self.app_uuid))
            self._inflight[creator] = task
            task.add_done_callback(lambda done: self._forget_task(creator, done))
        # shield: one caller being cancelled must not cancel the lookup the others wait on.
        return await asyncio.shield(task)

    async def require(self, creator: str, *, fresh: bool = False) -> Entitlement:
        """``creator``'s plan when it is active; ``SubscriptionRequired`` otherwise."""
        entitlement = await self.status(creator, fresh=fresh)
        if not entitlement.active:
            raise SubscriptionRequired(
                f"the creator has no active subscription to this app ({entitlement.status})",
                status=entitlement.status,
            )
        return entitlement

    def forget(self, creator: str) -> None:
        """Drop ``creator``'s cached answer (the next lookup reads Fanvue)."""
        self.cache.forget(creator)

    async def _fetch(self, creator: str, app_uuid: str) -> Entitlement:
        data = await self._client_for(creator).call(OPERATION_ID, path={"appUuid": app_uuid})
        if not isinstance(data, Mapping):
            raise ProtocolError("GET /apps/{appUuid}/subscription/me did not return an object")
        entitlement = Entitlement.from_api(data)
        self.cache.put(creator, entitlement)
        return entitlement

    def _forget_task(self, creator: str, task: asyncio.Task[Entitlement]) -> None:
        if self._inflight.get(creator) is task:
            del self._inflight[creator]
        if not task.cancelled():
            task.exception()  # seen: every waiter may have been cancelled
