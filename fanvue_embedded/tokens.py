"""Access tokens for a creator, refreshed so that a rotating chain is never broken.

``TokenManager.access_token(creator)`` is the one call an app needs. Underneath is the
refresh coordinator of DESIGN §3:

1. fast path — a stored access token valid beyond the leeway is returned (one store read);
2. single-flight — concurrent coroutines of this process share one refresh per creator;
3. a per-creator lock across processes; losers wait for the stored generation to move;
4. re-read after acquiring — another worker may have refreshed already;
5. an attempt record before sending, so a refresh token is only ever re-presented inside
   Fanvue's grace window (minus a margin), by this worker or by one that takes over;
6. compare-and-set commit on the generation (a worker whose lock lapsed cannot overwrite);
   if the store is down at that moment, the rotated set is held and committed later (``held``);
7. typed outcomes: ``ReauthorizationRequired`` (chain dead — cleared, marked, hook fired),
   ``TransientError`` (tokens kept), ``ClientAuthenticationError`` (tokens kept, loud).
"""

from __future__ import annotations

import asyncio
import enum
import hashlib
import inspect
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace

import httpx

from .api import FanvueAPI
from .budget import RateBudget
from .client import AccessTokenProvider, FanvueClient
from .errors import (
    ClientAuthenticationError,
    ConcurrentRefreshError,
    GenerationConflict,
    ProtocolError,
    RateLimitedError,
    ReauthorizationRequired,
    RefreshInProgress,
    UpstreamServerError,
    UpstreamUnavailable,
)
from .held import DEFAULT_COMMIT_WINDOW, HeldCommits
from .lock import CreatorLock
from .metrics import Metrics
from .models import Clock, TokenSet, system_clock
from .oauth import OAuthClient
from .scopes import missing_scopes
from .store import StoredTokens, TokenStore
from .values import DEFAULT_API_VERSION, DEFAULT_KEEPALIVE_INTERVAL

__all__ = ["OnReauthorizationRequired", "RefreshOutcome", "TokenManager", "fingerprint"]

logger = logging.getLogger("fanvue_embedded.tokens")

OnReauthorizationRequired = Callable[[str, str], Awaitable[None] | None]
"""Called with ``(creator_uuid, reason)`` once when a creator's chain is found dead."""


class _LeaderGone(Exception):
    """The caller doing a shared read was cancelled; the waiters read for themselves."""


class RefreshOutcome(enum.Enum):
    REFRESHED = "refreshed"
    ALREADY_FRESH = "already_fresh"


@dataclass(frozen=True, slots=True)
class _Result:
    access_token: str
    outcome: RefreshOutcome


def fingerprint(refresh_token: str) -> str:
    """A non-reversible id for a refresh token: safe to store beside it and to log."""
    return hashlib.sha256(refresh_token.encode()).hexdigest()[:16]


def _request_never_sent(exc: UpstreamUnavailable) -> bool:
    # A connect failure means the server never saw the token; anything later is ambiguous.
    return isinstance(exc.__cause__, httpx.ConnectError | httpx.ConnectTimeout)


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
        self._inflight: dict[str, asyncio.Task[_Result]] = {}
        self._reads: dict[str, asyncio.Future[StoredTokens]] = {}
        # Rotated sets the store could not take yet (Redis down): served from here meanwhile.
        self._held = HeldCommits(store, self._metrics, window=commit_window)

    def __repr__(self) -> str:
        return f"TokenManager(store={type(self.store).__name__}, leeway={self.leeway})"

    # -- public ------------------------------------------------------------------------

    async def access_token(self, creator: str, *, rejected: str | None = None) -> str:
        """A valid access token for ``creator``; refreshes when needed.

        ``rejected`` is a token the API just refused with 401: a different one is returned.
        """
        held = await self._held.usable(creator, lambda tokens: self._usable(tokens, rejected))
        if held is not None:
            return held.access_token
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
        stored = await self._load(creator)
        if not force and self._usable(stored.tokens, None):
            return RefreshOutcome.ALREADY_FRESH
        if self._written_within(stored, min_age):
            return RefreshOutcome.ALREADY_FRESH
        result = await self._single_flight(
            creator, stored.generation, None, force=force, min_age=min_age
        )
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
            granted_scopes=lambda: self.granted_scopes(creator),
            budget=self._budget,
            acting_for=creator,
        )

    def api(self, creator: str) -> FanvueAPI:
        """The typed Fanvue API acting for ``creator`` (over :meth:`client`)."""
        return FanvueAPI(self.client(creator))

    async def granted_scopes(self, creator: str) -> frozenset[str]:
        """The scopes ``creator`` granted, as their token response named them (empty: named
        none, i.e. what was requested). ``missing_scopes`` compares them with the app's."""
        held = self._held.get(creator)
        return held.scopes if held is not None else (await self._shared_load(creator)).tokens.scopes

    async def missing_scopes(self, creator: str) -> tuple[str, ...]:
        """The app's configured scopes ``creator`` has not granted (they connected before the
        scopes grew): a re-authorization would grant them."""
        return missing_scopes(self._oauth.scopes, await self.granted_scopes(creator))

    async def aclose(self) -> None:
        """Stop background commits and lock releases (a held set still unstored is lost)."""
        await self._held.aclose()

    # -- internals ---------------------------------------------------------------------

    def _written_within(self, stored: StoredTokens, min_age: float) -> bool:
        return min_age > 0 and self._clock() - stored.updated_at < min_age

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
        seen_generation: int,
        rejected: str | None,
        *,
        force: bool,
        min_age: float = 0.0,
    ) -> _Result:
        task = self._inflight.get(creator)
        # A finished task whose done-callback has not run yet must not be joined: its result
        # may be the very token this caller was just refused with.
        if task is None or task.done():
            task = asyncio.ensure_future(
                self._coordinate(creator, seen_generation, rejected, force, min_age)
            )
            self._inflight[creator] = task
            task.add_done_callback(self._forget(self._inflight, creator))
        # shield: one caller being cancelled must not cancel the refresh the others wait on.
        return await asyncio.shield(task)

    @staticmethod
    def _forget(
        registry: dict[str, asyncio.Task[_Result]], creator: str
    ) -> Callable[[asyncio.Task[_Result]], None]:
        def forget(task: asyncio.Task[_Result]) -> None:
            if registry.get(creator) is task:  # a newer one may have replaced it
                del registry[creator]
            if not task.cancelled():
                # Every joiner may have been cancelled (shield): mark the outcome as seen so
                # asyncio does not log "exception was never retrieved".
                task.exception()

        return forget

    async def _coordinate(
        self,
        creator: str,
        seen_generation: int,
        rejected: str | None,
        force: bool,
        min_age: float = 0.0,
    ) -> _Result:
        started = self._clock()
        deadline = started + self._wait_timeout
        delay = 0.01
        while True:
            lock = self.store.lock(creator, ttl=self._lock_ttl)
            if await lock.acquire(blocking=False):
                self._metrics.lock_waits.observe(self._clock() - started)
                try:
                    return await self._refresh_locked(
                        creator, seen_generation, rejected, force, lock, min_age
                    )
                finally:
                    await self._held.release(lock)  # retried later if the store is down
            # Another process is refreshing: watch the generation, then re-read.
            await asyncio.sleep(delay * (0.5 + random.random()))  # noqa: S311 - jitter only
            delay = min(delay * 1.5, 0.1)
            if await self.store.generation(creator) != seen_generation:
                stored = await self._load(creator)
                if self._usable(stored.tokens, rejected):
                    self._metrics.lock_waits.observe(self._clock() - started)
                    return _Result(stored.tokens.access_token, RefreshOutcome.ALREADY_FRESH)
                seen_generation = stored.generation
            if self._clock() > deadline:
                self._metrics.refresh_outcomes.labels("timeout").inc()
                raise RefreshInProgress("another worker's refresh did not finish in time")

    async def _refresh_locked(
        self,
        creator: str,
        seen_generation: int,
        rejected: str | None,
        force: bool,
        lock: CreatorLock,
        min_age: float = 0.0,
    ) -> _Result:
        stored = await self._load(creator)
        if stored.generation != seen_generation and self._usable(stored.tokens, rejected):
            return _Result(stored.tokens.access_token, RefreshOutcome.ALREADY_FRESH)
        if not force and self._usable(stored.tokens, rejected):
            return _Result(stored.tokens.access_token, RefreshOutcome.ALREADY_FRESH)
        if self._written_within(stored, min_age) and self._usable(stored.tokens, rejected):
            return _Result(stored.tokens.access_token, RefreshOutcome.ALREADY_FRESH)
        refresh_token = stored.tokens.refresh_token
        if not refresh_token:
            return await self._chain_dead(creator, stored, "no_refresh_token")
        token_id = fingerprint(refresh_token)

        sends = 0
        while True:
            now = self._clock()
            attempt = await self.store.record_refresh_attempt(creator, token_id, now)
            if now - attempt.first_attempt_at > self._grace_period - self._grace_margin:
                # This token was presented before and no answer was ever committed; the
                # grace window is over, so presenting it again would break the chain.
                return await self._chain_dead(creator, stored, "refresh_response_lost")
            await lock.extend(self._lock_ttl)
            sends += 1
            try:
                fresh = await self._oauth.refresh(refresh_token)
            except ReauthorizationRequired:
                return await self._chain_dead(creator, stored, "invalid_grant")
            except ClientAuthenticationError:
                await self.store.clear_refresh_attempt(creator, token_id)
                self._metrics.refresh_outcomes.labels("invalid_client").inc()
                logger.error(
                    "token endpoint rejected the client credentials (invalid_client); "
                    "tokens kept — fix OAUTH_CLIENT_ID / OAUTH_CLIENT_SECRET"
                )
                raise
            except ConcurrentRefreshError:
                # Hydra saw our token in flight elsewhere and did not rotate: try again.
                await self.store.clear_refresh_attempt(creator, token_id)
                self._metrics.refresh_outcomes.labels("concurrent_retry").inc()
                if sends >= self._max_sends:
                    raise
                await asyncio.sleep(0.05 * sends * (0.5 + random.random()))  # noqa: S311
                continue
            except (UpstreamServerError, RateLimitedError):
                await self.store.clear_refresh_attempt(creator, token_id)
                self._metrics.refresh_outcomes.labels("transient").inc()
                raise
            except UpstreamUnavailable as exc:
                if _request_never_sent(exc):
                    await self.store.clear_refresh_attempt(creator, token_id)
                    self._metrics.refresh_outcomes.labels("transient").inc()
                    raise
                # The request may have rotated the token: re-present it while inside grace.
                self._metrics.refresh_outcomes.labels("response_lost").inc()
                logger.warning("refresh response lost; retrying inside the grace window")
                if sends >= self._max_sends:
                    raise
                continue
            except ProtocolError:
                self._metrics.refresh_outcomes.labels("protocol_error").inc()
                if sends >= self._max_sends:
                    raise
                continue
            return await self._commit(creator, stored, fresh)

    async def _commit(self, creator: str, stored: StoredTokens, fresh: TokenSet) -> _Result:
        if fresh.refresh_token is None:
            logger.warning("token response carried no refresh_token; keeping the previous one")
            previous = stored.tokens
            scopes = fresh.scopes or previous.scopes
            fresh = replace(fresh, refresh_token=previous.refresh_token, scopes=scopes)
        try:
            # Fanvue has rotated: if the store is down, the set is held and stored later.
            await self._held.save_or_hold(
                creator,
                fresh,
                expected_generation=stored.generation,
                keepalive_at=self._clock() + self._keepalive_interval,
            )
        except GenerationConflict:
            # A newer chain was stored meanwhile (a fresh exchange): it wins.
            self._metrics.refresh_outcomes.labels("superseded").inc()
            current = await self._load(creator)
            return _Result(current.tokens.access_token, RefreshOutcome.ALREADY_FRESH)
        self._metrics.refresh_outcomes.labels("refreshed").inc()
        return _Result(fresh.access_token, RefreshOutcome.REFRESHED)

    async def _chain_dead(self, creator: str, stored: StoredTokens, reason: str) -> _Result:
        """Clear the dead chain and raise — unless a newer chain was stored meanwhile."""
        marked = await self.store.mark_reauthorization_required(
            creator, reason=reason, now=self._clock(), expected_generation=stored.generation
        )
        if not marked:
            current = await self._load(creator)
            return _Result(current.tokens.access_token, RefreshOutcome.ALREADY_FRESH)
        self._metrics.reauthorizations.labels(reason).inc()
        self._metrics.refresh_outcomes.labels("reauthorization_required").inc()
        logger.warning("creator must re-authorize", extra={"reason": reason})
        if self._on_reauthorization_required is not None:
            outcome = self._on_reauthorization_required(creator, reason)
            if inspect.isawaitable(outcome):
                await outcome
        raise ReauthorizationRequired(
            f"the creator must authorize again ({reason})", reason=reason, creator=creator
        )
