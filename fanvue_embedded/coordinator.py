"""The refresh coordinator: one refresh per expiry across every process, in two store steps.

DESIGN §3 as two atomic store calls around the one upstream call::

    begin   (one script)  read the set; unless somebody committed since the caller's view,
                          take or renew the creator's lock under a fresh owner token and
                          record the attempt (when this generation's refresh token was first
                          presented); hand back the decrypted set
    POST /oauth2/token    the refresh
    commit  (one script)  compare-and-set the new set on the generation, release the lock,
                          publish the invalidation (and reschedule the keepalive)

Nothing else touches the store on the way. Losers of the lock wait for the winner's
invalidation (or poll, when no channel is live) and begin again: the set has *moved*, and
they return it. Failures that prove the token was never consumed end with one *abort* step
(forget the attempt, release the lock). A retry after a lost response begins again (renews
the lock, keeps the first attempt time) and re-presents the token only inside the grace window
minus the margin; past it the chain is declared dead rather than broken at Fanvue. A commit
that finds the store down is held (``held``), never dropped.
"""

from __future__ import annotations

import asyncio
import enum
import inspect
import logging
import random
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace

import httpx

from .errors import (
    ClientAuthenticationError,
    ConcurrentRefreshError,
    FanvueError,
    GenerationConflict,
    ProtocolError,
    RateLimitedError,
    ReauthorizationRequired,
    RefreshInProgress,
    StoreUnavailable,
    UpstreamServerError,
    UpstreamUnavailable,
)
from .held import HeldCommits
from .metrics import Metrics
from .models import Clock, TokenSet
from .oauth import OAuthClient
from .store import RefreshBegin, StoredTokens, TokenStore

__all__ = ["OnReauthorizationRequired", "RefreshCoordinator", "RefreshOutcome", "RefreshResult"]

logger = logging.getLogger("fanvue_embedded.tokens")

# A loser waits for the winner's announcement; these bound each wait (jittered ±50 %), the
# fallback when an announcement is lost or no channel is live. A refresh under load takes
# tens of milliseconds: shorter waits would only send the losers back to Redis while the
# winner is still at Fanvue.
_FIRST_WAIT = 0.05
_LAST_WAIT = 0.2

OnReauthorizationRequired = Callable[[str, str], Awaitable[None] | None]
"""Called with ``(creator_uuid, reason)`` once when a creator's chain is found dead."""


class RefreshOutcome(enum.Enum):
    REFRESHED = "refreshed"
    ALREADY_FRESH = "already_fresh"


@dataclass(frozen=True, slots=True)
class RefreshResult:
    access_token: str
    outcome: RefreshOutcome


class _LostLock(Exception):
    """Renewing the lock between sends found it taken or the set moved: start over."""


def _request_never_sent(exc: UpstreamUnavailable) -> bool:
    # A connect failure means the server never saw the token; anything later is ambiguous.
    return isinstance(exc.__cause__, httpx.ConnectError | httpx.ConnectTimeout)


class RefreshCoordinator:
    """Runs one creator's refresh to an outcome; ``TokenManager`` adds single-flight on top."""

    def __init__(
        self,
        *,
        store: TokenStore,
        oauth: OAuthClient,
        held: HeldCommits,
        usable: Callable[[TokenSet, str | None], bool],
        clock: Clock,
        metrics: Metrics,
        lock_ttl: float,
        grace_period: float,
        grace_margin: float,
        wait_timeout: float,
        max_sends: int,
        keepalive_interval: float,
        on_reauthorization_required: OnReauthorizationRequired | None = None,
    ) -> None:
        if not 0 < lock_ttl < grace_period:
            raise ValueError("lock_ttl must be positive and well under the grace period")
        self._store = store
        self._oauth = oauth
        self._held = held
        self._usable = usable
        self._clock = clock
        self._metrics = metrics
        self._lock_ttl = lock_ttl
        self._grace_period = grace_period
        self._grace_margin = grace_margin
        self._wait_timeout = wait_timeout
        self._max_sends = max_sends
        self._keepalive_interval = keepalive_interval
        self._on_reauthorization_required = on_reauthorization_required

    def __repr__(self) -> str:
        return f"RefreshCoordinator(store={type(self._store).__name__}, lock_ttl={self._lock_ttl})"

    async def run(
        self,
        creator: str,
        seen_generation: int | None,
        rejected: str | None,
        *,
        force: bool,
        min_age: float = 0.0,
    ) -> RefreshResult:
        """A usable access token for ``creator``: somebody else's fresh one, or our refresh.

        ``seen_generation``: the generation of the caller's unusable view (None: no view, a
        forced refresh). ``rejected``: a token the API refused. ``min_age``: skip a forced
        refresh of a set written less than that many seconds ago."""
        started = self._clock()
        deadline = started + self._wait_timeout
        owner = secrets.token_hex(16)
        delay = _FIRST_WAIT
        seen = seen_generation
        while True:
            begun = await self._begin(creator, owner, seen, min_age)
            if begun.state == "absent":
                reason = begun.mark.reason if begun.mark else "not_authorized"
                raise ReauthorizationRequired(
                    f"no usable tokens for this creator ({reason})", reason=reason, creator=creator
                )
            if begun.state in ("moved", "recent"):
                assert begun.stored is not None
                if self._usable(begun.stored.tokens, rejected):
                    self._metrics.lock_waits.observe(self._clock() - started)
                    return RefreshResult(
                        begun.stored.tokens.access_token, RefreshOutcome.ALREADY_FRESH
                    )
                seen, min_age = begun.generation, 0.0
                continue
            if begun.state == "busy":
                # Another process is refreshing: wait for its commit to be announced.
                if seen is None:
                    seen = begun.generation
                if self._clock() > deadline:
                    self._metrics.refresh_outcomes.labels("timeout").inc()
                    raise RefreshInProgress("another worker's refresh did not finish in time")
                # Until the winner's commit is announced (or the wait ends: the fallback
                # for a lost announcement, or the poll interval with no live channel).
                await self._store.changed(creator, delay * (0.5 + random.random()))  # noqa: S311
                delay = min(delay * 1.5, _LAST_WAIT)
                continue
            self._metrics.lock_waits.observe(self._clock() - started)
            assert begun.stored is not None
            if seen is None and not force and self._usable(begun.stored.tokens, rejected):
                await self._abort(creator, owner, forget_attempt=begun.generation)
                return RefreshResult(begun.stored.tokens.access_token, RefreshOutcome.ALREADY_FRESH)
            try:
                return await self._refresh_locked(creator, begun, owner, seen, min_age)
            except _LostLock:
                seen = begun.generation
                continue
            except FanvueError:
                raise  # every typed failure has already ended its attempt
            except BaseException:
                await self._release_quietly(creator, owner)
                raise

    # -- the steps -----------------------------------------------------------------------

    async def _begin(
        self, creator: str, owner: str, seen: int | None, min_age: float
    ) -> RefreshBegin:
        return await self._store.begin_refresh(
            creator,
            owner=owner,
            ttl=self._lock_ttl,
            now=self._clock(),
            seen_generation=seen,
            min_age=min_age,
        )

    async def _abort(self, creator: str, owner: str, *, forget_attempt: int | None) -> None:
        """The token was not consumed (``forget_attempt``) or nothing more can be done: end
        the attempt. If the store is down, the lock is released in the background."""
        try:
            await self._store.abort_refresh(creator, owner=owner, forget_attempt=forget_attempt)
        except StoreUnavailable:
            self._held.release_later(self._store.lock(creator, self._lock_ttl).adopt(owner))

    async def _release_quietly(self, creator: str, owner: str) -> None:
        try:
            await self._abort(creator, owner, forget_attempt=None)
        except Exception:  # the original failure matters more
            logger.debug("could not release a refresh lock", exc_info=True)

    async def _refresh_locked(
        self, creator: str, begun: RefreshBegin, owner: str, seen: int | None, min_age: float
    ) -> RefreshResult:
        stored = begun.stored
        assert stored is not None
        assert begun.attempt is not None
        generation = stored.generation
        refresh_token = stored.tokens.refresh_token
        if not refresh_token:
            return await self._chain_dead(creator, stored, "no_refresh_token", owner)
        first_attempt_at = begun.attempt.first_attempt_at
        sends = 0
        while True:
            if self._clock() - first_attempt_at > self._grace_period - self._grace_margin:
                # This token was presented before and no answer was ever committed; the
                # grace window is over, so presenting it again would break the chain.
                return await self._chain_dead(creator, stored, "refresh_response_lost", owner)
            sends += 1
            try:
                fresh = await self._oauth.refresh(refresh_token)
            except ReauthorizationRequired:
                return await self._chain_dead(creator, stored, "invalid_grant", owner)
            except ClientAuthenticationError:
                await self._abort(creator, owner, forget_attempt=generation)
                self._metrics.refresh_outcomes.labels("invalid_client").inc()
                logger.error(
                    "token endpoint rejected the client credentials (invalid_client); "
                    "tokens kept — fix OAUTH_CLIENT_ID / OAUTH_CLIENT_SECRET"
                )
                raise
            except ConcurrentRefreshError:
                # Hydra saw our token in flight elsewhere and did not rotate: try again.
                self._metrics.refresh_outcomes.labels("concurrent_retry").inc()
                if sends >= self._max_sends:
                    await self._abort(creator, owner, forget_attempt=generation)
                    raise
                await asyncio.sleep(0.05 * sends * (0.5 + random.random()))  # noqa: S311
            except (UpstreamServerError, RateLimitedError):
                await self._abort(creator, owner, forget_attempt=generation)
                self._metrics.refresh_outcomes.labels("transient").inc()
                raise
            except UpstreamUnavailable as exc:
                if _request_never_sent(exc):
                    await self._abort(creator, owner, forget_attempt=generation)
                    self._metrics.refresh_outcomes.labels("transient").inc()
                    raise
                # The request may have rotated the token: re-present it while inside grace.
                self._metrics.refresh_outcomes.labels("response_lost").inc()
                logger.warning("refresh response lost; retrying inside the grace window")
                if sends >= self._max_sends:
                    await self._abort(creator, owner, forget_attempt=None)
                    raise
            except ProtocolError:
                self._metrics.refresh_outcomes.labels("protocol_error").inc()
                if sends >= self._max_sends:
                    await self._abort(creator, owner, forget_attempt=None)
                    raise
            else:
                return await self._commit(creator, stored, fresh, owner)
            # Before sending again: renew the lock (the attempt's first time is kept).
            renewed = await self._begin(creator, owner, generation, 0.0)
            if renewed.state != "locked" or renewed.attempt is None:
                raise _LostLock
            first_attempt_at = renewed.attempt.first_attempt_at

    async def _commit(
        self, creator: str, stored: StoredTokens, fresh: TokenSet, owner: str
    ) -> RefreshResult:
        if fresh.refresh_token is None:
            logger.warning("token response carried no refresh_token; keeping the previous one")
            previous = stored.tokens
            scopes = fresh.scopes or previous.scopes
            fresh = replace(fresh, refresh_token=previous.refresh_token, scopes=scopes)
        try:
            # Fanvue has rotated: if the store is down, the set is held and stored later.
            await self._held.commit_or_hold(
                creator,
                fresh,
                owner=owner,
                expected_generation=stored.generation,
                keepalive_at=self._clock() + self._keepalive_interval,
                lock_ttl=self._lock_ttl,
            )
        except GenerationConflict:
            # A newer chain was stored meanwhile (a fresh exchange): it wins.
            self._metrics.refresh_outcomes.labels("superseded").inc()
            current = await self._load(creator)
            return RefreshResult(current.tokens.access_token, RefreshOutcome.ALREADY_FRESH)
        self._metrics.refresh_outcomes.labels("refreshed").inc()
        return RefreshResult(fresh.access_token, RefreshOutcome.REFRESHED)

    async def _chain_dead(
        self, creator: str, stored: StoredTokens, reason: str, owner: str
    ) -> RefreshResult:
        """Clear the dead chain and raise — unless a newer chain was stored meanwhile."""
        marked = await self._store.mark_reauthorization_required(
            creator, reason=reason, now=self._clock(), expected_generation=stored.generation
        )
        await self._release_quietly(creator, owner)
        if not marked:
            current = await self._load(creator)
            return RefreshResult(current.tokens.access_token, RefreshOutcome.ALREADY_FRESH)
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

    async def _load(self, creator: str) -> StoredTokens:
        stored = await self._store.load(creator)
        if stored is None:
            mark = await self._store.reauthorization_mark(creator)
            reason = mark.reason if mark else "not_authorized"
            raise ReauthorizationRequired(
                f"no usable tokens for this creator ({reason})", reason=reason, creator=creator
            )
        return stored
