"""Refreshed token sets waiting for the store: held in memory, committed when Redis is back.

Fanvue rotates on every refresh, so once its answer is in hand, that token set holds the only
copy of the creator's live refresh token. If the compare-and-set commit then fails because
Redis is down (an outage, a failover), throwing the set away kills the chain as soon as the
grace window passes: every creator refreshed during the outage would have to authorize again.
So the set is *held* instead. Callers in this process are served from it, and a background task
retries the commit with backoff for up to ``window`` seconds (default 120 s, well beyond the
30 s grace). If, meanwhile, another process declared the response lost (it found the attempt
record past the grace window and marked the creator ``refresh_response_lost``), the held set
is the very answer it gave up on: it replaces that mark.

Limits: the set lives in this process only. If the process dies, or Redis stays down longer
than the window, the set is gone, and with it the creator's chain (``refresh_response_lost`` on
the next refresh, as before).

A lock whose release failed (Redis down) is released in the background too, until its TTL
would have freed it anyway, so a brief blip does not leave other workers waiting a full TTL.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Callable

from .errors import FanvueError, GenerationConflict, StoreUnavailable
from .lock import CreatorLock
from .metrics import Metrics
from .models import TokenSet
from .store import TokenStore

__all__ = ["DEFAULT_COMMIT_WINDOW", "HeldCommits"]

logger = logging.getLogger("fanvue_embedded.tokens")

DEFAULT_COMMIT_WINDOW = 120.0
"""How long a refreshed set is held and its commit retried while the store is down (seconds)."""


class HeldCommits:
    """The token sets of one ``TokenManager`` that are refreshed but not yet stored."""

    def __init__(
        self,
        store: TokenStore,
        metrics: Metrics,
        *,
        window: float = DEFAULT_COMMIT_WINDOW,
        first_delay: float = 0.1,
        max_delay: float = 1.0,
    ) -> None:
        self._store = store
        self._metrics = metrics
        self.window = window
        self._first_delay = first_delay
        self._max_delay = max_delay
        self._held: dict[str, tuple[TokenSet, asyncio.Task[None]]] = {}
        self._releases: set[asyncio.Task[None]] = set()

    def __repr__(self) -> str:
        return f"HeldCommits(held={len(self._held)}, window={self.window!r})"

    def get(self, creator: str) -> TokenSet | None:
        """The set held for ``creator`` (newer than the stored one), or None."""
        entry = self._held.get(creator)
        return entry[0] if entry else None

    async def usable(self, creator: str, usable: Callable[[TokenSet], bool]) -> TokenSet | None:
        """The held set for ``creator`` if ``usable`` accepts it. A held set that is not
        usable (expired, or refused by the API) is waited out: its commit must end before a
        refresh starts, or that refresh would start from the older stored set."""
        entry = self._held.get(creator)
        if entry is None:
            return None
        if usable(entry[0]):
            return entry[0]
        await self.settled(creator)
        return None

    async def save_or_hold(
        self, creator: str, tokens: TokenSet, *, expected_generation: int, keepalive_at: float
    ) -> None:
        """``store.save`` (compare-and-set on ``expected_generation``; ``GenerationConflict``
        is raised as usual). If the store is unavailable, keep ``tokens`` and commit them in
        the background as soon as it takes writes again, for up to ``window`` seconds."""
        try:
            await self._store.save(
                creator, tokens, expected_generation=expected_generation, keepalive_at=keepalive_at
            )
        except StoreUnavailable:
            self._hold(creator, tokens, expected_generation, keepalive_at)

    async def commit_or_hold(
        self,
        creator: str,
        tokens: TokenSet,
        *,
        owner: str,
        expected_generation: int,
        keepalive_at: float,
        lock_ttl: float,
    ) -> None:
        """The refresh coordinator's commit (``store.commit_refresh``: compare-and-set, lock
        release, invalidation in one step). If the store is unavailable, hold ``tokens`` as
        :meth:`save_or_hold` does, and release ``owner``'s lock in the background."""
        try:
            await self._store.commit_refresh(
                creator,
                tokens,
                owner=owner,
                expected_generation=expected_generation,
                keepalive_at=keepalive_at,
            )
        except StoreUnavailable:
            self._hold(creator, tokens, expected_generation, keepalive_at)
            self._release_later(self._store.lock(creator, lock_ttl).adopt(owner))

    def _hold(
        self, creator: str, tokens: TokenSet, expected_generation: int, keepalive_at: float
    ) -> None:
        logger.warning(
            "token store unavailable after a rotation: holding the new token set and retrying "
            "the commit for up to %.0f s",
            self.window,
        )
        self._metrics.refresh_outcomes.labels("commit_held").inc()
        task = asyncio.ensure_future(
            self._commit_later(creator, tokens, expected_generation, keepalive_at)
        )
        self._held[creator] = (tokens, task)
        task.add_done_callback(lambda done: self._forget(creator, done))

    async def settled(self, creator: str) -> None:
        """Wait until the held commit for ``creator`` (if any) has ended, however it ended."""
        entry = self._held.get(creator)
        if entry is not None:
            with contextlib.suppress(Exception):
                await asyncio.shield(entry[1])

    def release_later(self, lock: CreatorLock) -> None:
        """Release ``lock`` in the background, retried until its TTL would free it."""
        self._release_later(lock)

    async def release(self, lock: CreatorLock) -> None:
        """Release ``lock``. If the store is down, never raise (the outcome of the work done
        under the lock matters more): retry in the background until the lock's TTL would
        have lapsed anyway."""
        try:
            await lock.release()
        except StoreUnavailable:
            self._release_later(lock)

    def _release_later(self, lock: CreatorLock) -> None:
        task = asyncio.ensure_future(self._retry_release(lock))
        self._releases.add(task)
        task.add_done_callback(self._releases.discard)

    async def aclose(self) -> None:
        """Stop retrying. A set still held is lost, with its creator's chain: said loudly."""
        if self._held:
            logger.error(
                "shutting down with %d refreshed token set(s) never stored: those creators "
                "will have to authorize again",
                len(self._held),
            )
        tasks = [task for _, task in self._held.values()] + list(self._releases)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    def _forget(self, creator: str, task: asyncio.Task[None]) -> None:
        entry = self._held.get(creator)
        if entry is not None and entry[1] is task:
            del self._held[creator]

    async def _commit_later(
        self, creator: str, tokens: TokenSet, expected: int, keepalive_at: float
    ) -> None:
        deadline = time.monotonic() + self.window
        delay = self._first_delay
        while True:
            await asyncio.sleep(delay * (0.5 + random.random()))  # noqa: S311 - jitter only
            delay = min(delay * 2, self._max_delay)
            try:
                await self._store.save(
                    creator, tokens, expected_generation=expected, keepalive_at=keepalive_at
                )
            except StoreUnavailable:
                if time.monotonic() < deadline:
                    continue
                self._metrics.refresh_outcomes.labels("commit_lost").inc()
                logger.error(
                    "gave up storing a refreshed token set after %.0f s: the store stayed "
                    "unavailable; the creator will have to authorize again",
                    self.window,
                )
                return
            except GenerationConflict:
                try:
                    declared_lost = await self._declared_lost(creator, expected)
                except FanvueError:
                    declared_lost = False
                if declared_lost:
                    expected += 1
                    delay = 0.0
                    continue
                # A newer chain (a fresh session exchange) was stored meanwhile: it wins.
                self._metrics.refresh_outcomes.labels("superseded").inc()
                return
            except FanvueError as exc:
                logger.error("could not store a held token set", extra={"code": exc.code})
                return
            self._metrics.refresh_outcomes.labels("commit_recovered").inc()
            logger.warning("held token set stored after the store came back")
            return

    async def _declared_lost(self, creator: str, expected: int) -> bool:
        """True when the only write since ``expected`` is another worker's
        ``refresh_response_lost`` mark: the answer it gave up on is the set held here."""
        if await self._store.generation(creator) != expected + 1:
            return False
        if await self._store.load(creator) is not None:
            return False
        mark = await self._store.reauthorization_mark(creator)
        return mark is not None and mark.reason == "refresh_response_lost"

    async def _retry_release(self, lock: CreatorLock) -> None:
        deadline = time.monotonic() + lock.ttl
        delay = self._first_delay
        while lock.owned and time.monotonic() < deadline:
            await asyncio.sleep(delay * (0.5 + random.random()))  # noqa: S311 - jitter only
            delay = min(delay * 2, self._max_delay)
            with contextlib.suppress(StoreUnavailable):
                await lock.release()
