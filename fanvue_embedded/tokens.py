"""Access tokens for a creator, refreshed so that a rotating chain is never broken.

``TokenManager.access_token(creator)`` is the one call an app needs:

1. zero-round-trip path — a set this process holds (the store's in-process cache, kept
   current by invalidations from every process) whose access token is valid beyond the
   leeway is returned without touching Redis;
2. otherwise one store read, shared by the coroutines that ask at the same moment;
3. single-flight — concurrent coroutines of this process share one refresh per creator;
4. the refresh itself is the :class:`~fanvue_embedded.coordinator.RefreshCoordinator`'s:
   two atomic store steps around the upstream call, one refresh per expiry across processes;
5. typed outcomes: ``ReauthorizationRequired`` (chain dead — cleared, marked, hook fired),
   ``TransientError`` (tokens kept), ``ClientAuthenticationError`` (tokens kept, loud).
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable

import httpx

from .api import FanvueAPI
from .budget import RateBudget
from .client import AccessTokenProvider, FanvueClient
from .coordinator import (
    OnReauthorizationRequired,
    RefreshCoordinator,
    RefreshOutcome,
    RefreshResult,
)
from .errors import ReauthorizationRequired
from .held import DEFAULT_COMMIT_WINDOW, HeldCommits
from .metrics import Metrics
from .models import Clock, TokenSet, system_clock
from .oauth import OAuthClient
from .scopes import GrantedScopes, missing_scopes
from .store import StoredTokens, TokenStore
from .values import DEFAULT_API_VERSION, DEFAULT_KEEPALIVE_INTERVAL

__all__ = ["OnReauthorizationRequired", "RefreshOutcome", "TokenManager", "fingerprint"]


class _LeaderGone(Exception):
    """The caller doing a shared read was cancelled; the waiters read for themselves."""


def fingerprint(refresh_token: str) -> str:
    """A non-reversible id for a token: safe to store beside it and to log."""
    return hashlib.sha256(refresh_token.encode()).hexdigest()[:16]


class TokenManager:
    """Hands out valid access tokens and API clients per creator, from one shared store."""

    def __init__(
        self,
        *,
        store: TokenStore,
        oauth: OAuthClient,
        api_base_url: str,
        api_version: str = DEFAULT_API_VERSION,
        http: httpx.AsyncClient | None = None,
        leeway: float = 60.0,
        lock_ttl: float = 10.0,
        grace_period: float = 30.0,
        grace_margin: float = 5.0,
        wait_timeout: float = 25.0,
        max_sends: int = 3,
        keepalive_interval: float = DEFAULT_KEEPALIVE_INTERVAL,
        commit_window: float = DEFAULT_COMMIT_WINDOW,
        on_reauthorization_required: OnReauthorizationRequired | None = None,
        clock: Clock = system_clock,
        metrics: Metrics | None = None,
        budget: RateBudget | None = None,
    ) -> None:
        if not 0 < lock_ttl < grace_period:
            raise ValueError("lock_ttl must be positive and well under the grace period")
        self.store = store
        self._oauth = oauth
        self._api_base_url = api_base_url
        self._api_version = api_version
        self._http = http
        self.leeway = leeway
        self._lock_ttl = lock_ttl
        self._grace_period = grace_period
        self._grace_margin = grace_margin
        self._wait_timeout = wait_timeout
        self._max_sends = max_sends
        self._keepalive_interval = keepalive_interval
        self._on_reauthorization_required = on_reauthorization_required
        self._clock = clock
        self._metrics = metrics or Metrics()
        self._budget = budget  # the shared rate-limit budget every client() counts against
        self._inflight: dict[str, asyncio.Task[RefreshResult]] = {}
        self._reads: dict[str, asyncio.Future[StoredTokens]] = {}
        # Rotated sets the store could not take yet (Redis down): served from here meanwhile.
        self._held = HeldCommits(store, self._metrics, window=commit_window)
        self._coordinator = RefreshCoordinator(
            store=store,
            oauth=oauth,
            held=self._held,
            usable=self._usable,
            clock=clock,
            metrics=self._metrics,
            lock_ttl=lock_ttl,
            grace_period=grace_period,
            grace_margin=grace_margin,
            wait_timeout=wait_timeout,
            max_sends=max_sends,
            keepalive_interval=keepalive_interval,
            on_reauthorization_required=on_reauthorization_required,
        )

    def __repr__(self) -> str:
        return f"TokenManager(store={type(self.store).__name__}, leeway={self.leeway})"

    # -- public ------------------------------------------------------------------------

    async def access_token(self, creator: str, *, rejected: str | None = None) -> str:
        """A valid access token for ``creator``; refreshes when needed.

        ``rejected`` is a token the API just refused with 401: a different one is returned.
        """
        if self._held.get(creator) is not None:
            held = await self._held.usable(creator, lambda tokens: self._usable(tokens, rejected))
            if held is not None:
                return held.access_token
        stored = self.store.cached(creator)
        if stored is not None:
            if self._usable(stored.tokens, rejected):
                return stored.tokens.access_token  # no I/O at all
            if stored.tokens.access_token == rejected:
                self.store.forget(creator)  # the API refused it (consent withdrawn?)
        else:
            stored = await self._shared_load(creator)
            if self._usable(stored.tokens, rejected):
                return stored.tokens.access_token
        result = await self._single_flight(creator, stored.generation, rejected, force=False)
        return result.access_token

    async def refresh(
        self, creator: str, *, force: bool = True, min_age: float = 0.0
    ) -> RefreshOutcome:
        """Refresh now (the keepalive path). ``ALREADY_FRESH`` if another worker just did.

        ``min_age``: a forced refresh is skipped (``ALREADY_FRESH``) when the stored set was
        written less than ``min_age`` seconds ago — checked again under the lock. Two keepalive
        workers that picked the same due creator would otherwise both refresh it: the second
        one may read the store only after the first one's commit, so the generation alone
        cannot tell it that the work is done.
        """
        if await self._held.usable(creator, lambda tokens: self._usable(tokens, None)):
            return RefreshOutcome.ALREADY_FRESH
        seen: int | None = None
        if not force:
            stored = self.store.cached(creator) or await self._load(creator)
            if self._usable(stored.tokens, None):
                return RefreshOutcome.ALREADY_FRESH
            seen = stored.generation
        # Forced: no read first. The coordinator's begin step reads, and skips a set written
        # less than ``min_age`` ago (checked atomically with taking the lock).
        result = await self._single_flight(creator, seen, None, force=force, min_age=min_age)
        return result.outcome

    def provider(self, creator: str) -> AccessTokenProvider:
        """An ``AccessTokenProvider`` for ``FanvueClient`` (refresh + retry on 401)."""

        async def provide(*, rejected: str | None = None) -> str:
            return await self.access_token(creator, rejected=rejected)

        return provide

    def client(self, creator: str) -> FanvueClient:
        """A Fanvue API client acting for ``creator``."""
        return FanvueClient(
            self.provider(creator),
            api_base_url=self._api_base_url,
            api_version=self._api_version,
            http=self._http,
            clock=self._clock,
            metrics=self._metrics,
            granted_scopes=self._grant_reader(creator),
            budget=self._budget,
            acting_for=creator,
        )

    def api(self, creator: str) -> FanvueAPI:
        """The typed Fanvue API acting for ``creator`` (over :meth:`client`)."""
        return FanvueAPI(self.client(creator))

    async def granted_scopes(self, creator: str, *, fresh: bool = False) -> frozenset[str]:
        """The scopes ``creator`` granted, as their token response named them (empty: named
        none, i.e. what was requested). ``missing_scopes`` compares them with the app's.

        Served from process memory like :meth:`access_token` (a re-consent commits a new set,
        whose invalidation drops the cached one); ``fresh`` reads the store instead."""
        held = self._held.get(creator)
        if held is not None:
            return held.scopes
        if not fresh:
            cached = self.store.cached(creator)
            if cached is not None:
                return cached.tokens.scopes
        return (await self._shared_load(creator)).tokens.scopes

    def _grant_reader(self, creator: str) -> GrantedScopes:
        """The grant for one client: its first read may come from memory; a client reads
        again only to confirm a scope it seems to lack, and that read goes to the store (a
        re-consent may have landed a moment ago, its invalidation still on the way)."""
        reads = 0

        async def read() -> frozenset[str]:
            nonlocal reads
            reads += 1
            return await self.granted_scopes(creator, fresh=reads > 1)

        return read

    async def missing_scopes(self, creator: str) -> tuple[str, ...]:
        """The app's configured scopes ``creator`` has not granted (they connected before the
        scopes grew): a re-authorization would grant them."""
        return missing_scopes(self._oauth.scopes, await self.granted_scopes(creator))

    async def settled(self, creator: str | None = None) -> None:
        """Wait until this process's refreshes in flight (of ``creator``, or all) have ended,
        commit included. Their outcomes went to their callers."""
        tasks = [task for key, task in self._inflight.items() if creator is None or key == creator]
        if tasks:
            await asyncio.wait(tasks)

    async def aclose(self) -> None:
        """Let refreshes in flight end (their commits land), then stop background commits and
        lock releases (a held set still unstored is lost)."""
        await self.settled()
        await self._held.aclose()

    # -- internals ---------------------------------------------------------------------

    def _usable(self, tokens: TokenSet, rejected: str | None) -> bool:
        if rejected is not None and tokens.access_token == rejected:
            return False
        return not tokens.is_expired(self.leeway, now=self._clock())

    async def _load(self, creator: str) -> StoredTokens:
        stored = await self.store.load(creator)
        if stored is None:
            mark = await self.store.reauthorization_mark(creator)
            reason = mark.reason if mark else "not_authorized"
            raise ReauthorizationRequired(
                f"no usable tokens for this creator ({reason})", reason=reason, creator=creator
            )
        return stored

    async def _shared_load(self, creator: str) -> StoredTokens:
        """The fast path's read, shared by the coroutines that ask at the same moment: a
        storm of N callers at expiry costs one store round trip per process, not N. The first
        caller reads inline (no task per lookup); the others await its result. (A joined read
        began a moment before this call; that is harmless here, because an expired or
        rejected token sends the caller to the coordinator, which re-reads.)"""
        pending = self._reads.get(creator)
        if pending is not None and not pending.done():
            try:
                return await asyncio.shield(pending)
            except _LeaderGone:
                return await self._load(creator)  # the reading caller was cancelled
        future: asyncio.Future[StoredTokens] = asyncio.get_running_loop().create_future()
        self._reads[creator] = future
        try:
            stored = await self._load(creator)
        except BaseException as exc:
            failure = _LeaderGone() if isinstance(exc, asyncio.CancelledError) else exc
            future.set_exception(failure)
            future.exception()  # retrieved: no "never retrieved" warning without waiters
            raise
        else:
            future.set_result(stored)
            return stored
        finally:
            if self._reads.get(creator) is future:
                del self._reads[creator]

    async def _single_flight(
        self,
        creator: str,
        seen_generation: int | None,
        rejected: str | None,
        *,
        force: bool,
        min_age: float = 0.0,
    ) -> RefreshResult:
        task = self._inflight.get(creator)
        # A finished task whose done-callback has not run yet must not be joined: its result
        # may be the very token this caller was just refused with.
        if task is None or task.done():
            task = asyncio.ensure_future(
                self._coordinator.run(
                    creator, seen_generation, rejected, force=force, min_age=min_age
                )
            )
            self._inflight[creator] = task
            task.add_done_callback(self._forget(self._inflight, creator))
        # shield: one caller being cancelled must not cancel the refresh the others wait on.
        return await asyncio.shield(task)

    @staticmethod
    def _forget(
        registry: dict[str, asyncio.Task[RefreshResult]], creator: str
    ) -> Callable[[asyncio.Task[RefreshResult]], None]:
        def forget(task: asyncio.Task[RefreshResult]) -> None:
            if registry.get(creator) is task:  # a newer one may have replaced it
                del registry[creator]
            if not task.cancelled():
                # Every joiner may have been cancelled (shield): mark the outcome as seen so
                # asyncio does not log "exception was never retrieved".
                task.exception()

        return forget
