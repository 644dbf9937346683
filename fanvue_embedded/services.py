"""The composition root: builds the components one app, worker or CLI run needs from ``Settings``.

This is the only place that picks a store: Redis when ``REDIS_URL`` is set, the in-process
memory store otherwise — which is refused in production mode unless the caller passes a
store explicitly (a library user who knows what they are doing).

Event loops: the HTTP client and the Redis client belong to the event loop they first ran on.
``Services`` therefore keeps one set of loop-bound parts per running loop and builds a fresh
set the first time it is used on a new loop, so one ``Services`` serves a Celery task that calls
``asyncio.run()`` per job as well as a long-running app. When ``asyncio.run()`` ends, the
parts of its loop are closed before the loop is (see ``_close_with_loop``); ``aclose()``
closes the current loop's parts at once. Settings, metrics, the keyring and memory stores are
shared by every loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import AsyncGenerator, Callable
from dataclasses import dataclass, field
from types import TracebackType

import httpx

from ._http import build_async_client
from ._redis import RedisClient, redis_from_url
from .attempts import FailureLimiter
from .budget import MemoryRateBudget, RateBudget, RedisRateBudget
from .config import Settings
from .crypto import Keyring
from .entitlements import EntitlementCache, Entitlements
from .ephemeral import EphemeralStore, MemoryEphemeralStore, RedisEphemeralStore
from .errors import ConfigurationError, FanvueError
from .exchange import OnTokens, SessionExchange
from .metrics import Metrics
from .models import Clock, system_clock
from .oauth import OAuthClient
from .platform import PlatformClient
from .sessions import AppSessionManager
from .store import MemoryTokenStore, RedisTokenStore, TokenStore
from .tokens import OnReauthorizationRequired, TokenManager
from .webhooks.backend import WebhookBackend

__all__ = ["READY_CACHE_SECONDS", "Services", "build_services"]

READY_CACHE_SECONDS = 1.0
"""How long one readiness answer is reused: probes from a busy proxy cost one write a second."""


_Closeable = TokenStore | EphemeralStore | httpx.AsyncClient | WebhookBackend | RateBudget


@dataclass(slots=True)
class _Parts:
    """What belongs to one event loop, and which of it (``owned``) that loop's end closes."""

    http: httpx.AsyncClient
    oauth: OAuthClient
    platform: PlatformClient
    store: TokenStore
    ephemeral: EphemeralStore
    sessions: AppSessionManager
    exchange: SessionExchange
    tokens: TokenManager
    exchange_failures: FailureLimiter
    webhooks: WebhookBackend
    entitlements: Entitlements
    budget: RateBudget | None = None
    owned: tuple[_Closeable, ...] = ()
    closer: AsyncGenerator[None, None] | None = field(default=None, repr=False)
    closed: bool = False

    async def aclose(self) -> None:
        if self.closed:
            return
        self.closed = True
        await self.tokens.aclose()  # before the stores close: it may still be writing
        for part in self.owned:
            await part.aclose()


async def _close_with_loop(parts: _Parts) -> AsyncGenerator[None, None]:
    """An async generator the loop finalises in ``shutdown_asyncgens()`` — which
    ``asyncio.run()`` (and uvicorn, and anyio) call while the loop still runs: the one hook that
    closes this loop's connections when a job forgot to, instead of leaking them."""
    try:
        yield
    finally:
        await parts.aclose()


def _abandon(parts: _Parts) -> None:
    """Drop the parts of a loop that closed without finalising them (a hand-run loop)."""
    parts.closed = True  # its loop is gone: nothing of it can be awaited any more
    closer, parts.closer = parts.closer, None
    if closer is not None:
        # With ``closed`` set the generator's ``finally`` awaits nothing, so this one step ends
        # it; left alone, its finaliser would later call into the closed loop.
        with contextlib.suppress(StopIteration, RuntimeError):
            closer.aclose().send(None)


class Services:
    """Everything one app (or worker, or CLI run) uses; nothing here is global.

    Build it once with :func:`build_services`, use it from any number of event loops one after
    another (``asyncio.run()`` per job) or at once (one loop per thread). ``aclose`` closes what
    :func:`build_services` made for the current loop, and asks the stores to close (a store
    closes only a Redis client it owns). An HTTP client passed in stays the caller's. What you
    pass in is shared by every loop: a store's Redis client reconnects after closing, an HTTP
    client does not.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        build_parts: Callable[[], _Parts],
        clock: Clock,
        metrics: Metrics,
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.metrics = metrics
        self._build_parts = build_parts
        self._ready: tuple[float, bool] | None = None
        self._lock = threading.Lock()
        # Parts built before any loop ran sit under None until a loop first uses them.
        self._by_loop: dict[asyncio.AbstractEventLoop | None, _Parts] = {None: build_parts()}

    def __repr__(self) -> str:
        return f"Services(settings={self.settings!r}, loops={len(self._by_loop)})"

    def _parts(self) -> _Parts:
        try:
            loop: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        with self._lock:
            parts = self._by_loop.get(loop)
            if parts is not None and not parts.closed:
                return parts
            unbound = self._by_loop.get(None)
            if loop is not None and unbound is not None and not unbound.closed:
                parts = self._by_loop.pop(None)
            else:
                parts = self._build_parts()
            self._by_loop[loop] = parts
            # Loops that ended: their parts were closed by _close_with_loop, or cannot be now.
            for old in [key for key in self._by_loop if key is not None and key.is_closed()]:
                _abandon(self._by_loop.pop(old))
        if loop is not None:
            closer = _close_with_loop(parts)
            # Runs the generator up to its ``yield`` without awaiting (nothing before it awaits);
            # from then on the loop tracks it and finalises it at shutdown.
            try:
                closer.asend(None).send(None)
            except StopIteration:
                parts.closer = closer
        return parts

    @property
    def http(self) -> httpx.AsyncClient:
        return self._parts().http

    @property
    def oauth(self) -> OAuthClient:
        return self._parts().oauth

    @property
    def platform(self) -> PlatformClient:
        return self._parts().platform

    @property
    def store(self) -> TokenStore:
        return self._parts().store

    @property
    def ephemeral(self) -> EphemeralStore:
        return self._parts().ephemeral

    @property
    def sessions(self) -> AppSessionManager:
        return self._parts().sessions

    @property
    def exchange(self) -> SessionExchange:
        return self._parts().exchange

    @property
    def tokens(self) -> TokenManager:
        return self._parts().tokens

    @property
    def exchange_failures(self) -> FailureLimiter:
        return self._parts().exchange_failures

    @property
    def webhooks(self) -> WebhookBackend:
        return self._parts().webhooks

    @property
    def entitlements(self) -> Entitlements:
        """Creators' app subscriptions (``FANVUE_APP_UUID``); one cache for every loop."""
        return self._parts().entitlements

    @property
    def budget(self) -> RateBudget | None:
        """The Fanvue rate-limit budget every ``tokens.client()`` counts against (None: off)."""
        return self._parts().budget

    async def ready(self) -> bool:
        """Readiness: the token store answers *and* takes a write. A tiny write probe (a key
        with a 5 s TTL), because a Redis at ``maxmemory`` still answers PING while refusing
        every write. The answer is cached for :data:`READY_CACHE_SECONDS`. On a Cluster the
        probe reaches one master (the probe key's slot)."""
        now = time.monotonic()
        if self._ready is not None and now - self._ready[0] < READY_CACHE_SECONDS:
            return self._ready[1]
        try:
            ready = await self.store.ping() and await self.ephemeral.put("ready-probe", b"1", 5)
        except FanvueError:
            ready = False
        self._ready = (time.monotonic(), ready)
        return ready

    async def aclose(self) -> None:
        """Close what was built for the running loop; using ``Services`` again builds anew."""
        try:
            loop: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        with self._lock:
            parts = self._by_loop.pop(loop, None)
            if parts is None and loop is not None:
                parts = self._by_loop.pop(None, None)  # built but never used on a loop
        if parts is not None:
            await parts.aclose()
            if parts.closer is not None:
                # Finish the generator now, so nothing is left for the loop to finalise.
                await parts.closer.aclose()

    async def __aenter__(self) -> Services:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()


def _keyring(settings: Settings) -> Keyring:
    if settings.token_encryption_keys:
        return Keyring(settings.token_encryption_keys)
    # Development without keys: a random key that lives as long as the process (memory store).
    return Keyring.generate_ephemeral()


def _redis_client(settings: Settings) -> RedisClient:
    """A client for ``REDIS_URL`` whose pool queues bursts (``REDIS_MAX_CONNECTIONS``
    connections, a command waits up to ``REDIS_POOL_TIMEOUT`` seconds for one) and whose
    commands give up on a stalled server after ``REDIS_SOCKET_TIMEOUT`` seconds."""
    assert settings.redis_url is not None
    return redis_from_url(
        settings.redis_url.get_secret_value(),
        max_connections=settings.redis_max_connections,
        pool_timeout=settings.redis_pool_timeout,
        socket_timeout=settings.redis_socket_timeout,
    )


def build_services(
    settings: Settings,
    *,
    store: TokenStore | None = None,
    ephemeral: EphemeralStore | None = None,
    on_tokens: OnTokens | None = None,
    on_reauthorization_required: OnReauthorizationRequired | None = None,
    http: httpx.AsyncClient | None = None,
    clock: Clock = system_clock,
    webhooks: WebhookBackend | None = None,
) -> Services:
    """Build the :class:`Services` for ``settings``; cheap, and safe to call at import time.

    Configuration errors (no Redis in production mode, a malformed ``REDIS_URL``) raise here.
    Webhook records and subscription secrets live next to the tokens: on the same Redis client
    when there is one, in memory otherwise (or on the ``webhooks`` backend you pass).
    """
    keyring = _keyring(settings)
    metrics = Metrics()
    if settings.redis_url is None and (store is None or ephemeral is None):
        if not settings.development:
            raise ConfigurationError(
                "REDIS_URL is not set: the in-process memory store loses every creator's tokens "
                "on restart and is not shared between processes, so it is refused in production "
                "mode. Set REDIS_URL (or FANVUE_EMBEDDED_MODE=development for local work).",
                variable="REDIS_URL",
            )
        # Memory stores built here hold the data itself: shared by every loop, closed by none.
        built: list[object] = []
        if store is None:
            store = MemoryTokenStore(keyring, clock=clock)
            built.append(store)
        if ephemeral is None:
            ephemeral = MemoryEphemeralStore(clock=clock)
            built.append(ephemeral)
        shared = tuple(built)
    else:
        shared = ()
    # Entitlement answers are plain data: one cache for every loop of the process.
    entitlement_cache = EntitlementCache(ttl=settings.entitlement_ttl)
    # Without Redis the budget is this process's: shared by every loop, like memory stores.
    memory_budget = _memory_budget(settings) if settings.redis_url is None else None
    if webhooks is None and settings.redis_url is None:
        # In memory the records are the data itself: shared by every loop, like memory stores.
        webhooks = WebhookBackend.in_memory(keyring, clock=clock, metrics=metrics)

    def build_parts() -> _Parts:
        part_store, part_ephemeral, part_webhooks = store, ephemeral, webhooks
        redis: RedisClient | None = None
        if part_store is None or part_ephemeral is None:
            assert settings.redis_url is not None
            redis = _redis_client(settings)
            # One client for both stores; exactly one of them owns (closes) it.
            if part_store is None:
                part_store = RedisTokenStore(redis, keyring, close_client=True)
                part_ephemeral = part_ephemeral or RedisEphemeralStore(redis)
            else:
                part_ephemeral = RedisEphemeralStore(redis, close_client=True)
        # Stores are always asked to close (a store passed in closes only a client it owns,
        # e.g. one from ``from_url``); the HTTP client only when built here.
        owned: list[_Closeable] = [
            part for part in (part_store, part_ephemeral) if all(part is not s for s in shared)
        ]
        if part_webhooks is None:
            if redis is not None:  # on the stores' client, which they close
                part_webhooks = WebhookBackend.on_redis(
                    redis, keyring, clock=clock, metrics=metrics
                )
            else:
                assert settings.redis_url is not None
                own = _redis_client(settings)
                part_webhooks = WebhookBackend.on_redis(
                    own, keyring, clock=clock, close_client=True, metrics=metrics
                )
            owned.insert(0, part_webhooks)
        part_http = http or build_async_client()
        if http is None:
            owned.append(part_http)
        budget: RateBudget | None = memory_budget
        if settings.redis_url is not None and settings.api_rate_limit > 0:
            if redis is None:  # both stores were passed in: the budget gets its own client
                budget = _redis_budget(settings, _redis_client(settings), own=True)
                owned.append(budget)
            else:
                budget = _redis_budget(settings, redis, own=False)
        return _assemble(
            settings,
            http=part_http,
            store=part_store,
            ephemeral=part_ephemeral,
            webhooks=part_webhooks,
            on_tokens=on_tokens,
            on_reauthorization_required=on_reauthorization_required,
            clock=clock,
            metrics=metrics,
            owned=tuple(owned),
            entitlement_cache=entitlement_cache,
            budget=budget,
        )

    return Services(settings, build_parts=build_parts, clock=clock, metrics=metrics)


def _assemble(
    settings: Settings,
    *,
    http: httpx.AsyncClient,
    store: TokenStore,
    ephemeral: EphemeralStore,
    webhooks: WebhookBackend,
    on_tokens: OnTokens | None,
    on_reauthorization_required: OnReauthorizationRequired | None,
    clock: Clock,
    metrics: Metrics,
    owned: tuple[_Closeable, ...],
    entitlement_cache: EntitlementCache,
    budget: RateBudget | None = None,
) -> _Parts:
    oauth = OAuthClient.from_settings(settings, http=http, clock=clock, metrics=metrics)
    platform = PlatformClient(platform_url=settings.platform_url, http=http, metrics=metrics)
    tokens = TokenManager(
        store=store,
        oauth=oauth,
        api_base_url=settings.api_base_url,
        api_version=settings.api_version,
        http=http,
        leeway=settings.refresh_leeway,
        on_reauthorization_required=on_reauthorization_required,
        clock=clock,
        metrics=metrics,
        budget=budget,
    )
    return _Parts(
        http=http,
        oauth=oauth,
        platform=platform,
        store=store,
        ephemeral=ephemeral,
        sessions=AppSessionManager(
            secret=settings.session_secret,
            store=ephemeral,
            ttl=settings.session_ttl,
            max_age=settings.session_max_age,
            clock=clock,
        ),
        exchange=SessionExchange(
            platform=platform,
            oauth=oauth,
            store=store,
            api_base_url=settings.api_base_url,
            api_version=settings.api_version,
            http=http,
            on_tokens=on_tokens,
            clock=clock,
            metrics=metrics,
        ),
        tokens=tokens,
        exchange_failures=FailureLimiter(
            ephemeral,
            limit=settings.exchange_failure_limit,
            window=settings.exchange_failure_window,
            name="exchange-failures",
            clock=clock,
        ),
        webhooks=webhooks,
        entitlements=Entitlements(
            app_uuid=settings.app_uuid, client_for=tokens.client, cache=entitlement_cache
        ),
        budget=budget,
        owned=owned,
    )


def _memory_budget(settings: Settings) -> MemoryRateBudget | None:
    if settings.api_rate_limit == 0:
        return None
    return MemoryRateBudget(
        limit=settings.api_rate_limit,
        window=settings.api_rate_window,
        max_wait=settings.api_rate_max_wait,
    )


def _redis_budget(settings: Settings, redis: RedisClient, *, own: bool) -> RedisRateBudget:
    return RedisRateBudget(
        redis,
        limit=settings.api_rate_limit,
        window=settings.api_rate_window,
        max_wait=settings.api_rate_max_wait,
        close_client=own,
    )
