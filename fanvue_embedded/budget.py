"""The Fanvue rate-limit budget: one token bucket per Fanvue bucket, shared by every process.

Fanvue allows 200 requests per 60 s per bucket (``conventions.md``): the bucket of the user the
app acts for, plus one per managed creator for ``/creators/{creatorUserUuid}/*``
(``/agencies/*`` and the user's own routes share the user's bucket). A client takes a token
before it sends (:meth:`RateBudget.acquire`): when none is left it waits for the window to end,
up to ``max_wait`` seconds, or raises ``RateLimitedError`` with the time to wait, without
sending. Every response re-syncs the bucket from its ``X-RateLimit-*`` headers
(:meth:`RateBudget.observe`), so a 429 from Fanvue is the exception, not the flow control.

How the two views are merged (the same in Lua and in memory):

- Counts: the server's count wins, but an answer can only lower what is left in the window it
  belongs to — other requests of that window are still in flight and the server has not
  counted them yet. ``X-RateLimit-Reset`` identifies the server's window; an answer from a
  window the bucket has already left is ignored. A window is opened counting against the
  limit Fanvue last announced (the configured one before any answer); when an answer
  announces another limit, what is left first moves by the difference, so the calls taken
  but not yet counted by the server stay taken (taking ``min`` alone would forget them).
- Timing: the server's window already held the request when it answered, so it ends at most
  one window after the first answer arrived (sooner if ``Retry-After`` says so). That bound
  uses only the budget's own clock (Redis ``TIME``: every process shares it), never
  ``X-RateLimit-Reset`` as a time, so clock skew against Fanvue cannot cause a 429, and it
  is not rounded up to a whole second as the header is.

Redis layout: ``{prefix}:{<user>}:rl:self`` and ``{prefix}:{<user>}:rl:<creatorUserUuid>``,
hashes in the user's slot (the hash tag its token set uses), expiring two windows after the
window ends. The scripts live in ``store/lua/budget_take.lua`` and ``budget_sync.lua``.
"""

from __future__ import annotations

import asyncio
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from importlib.resources import files
from typing import Protocol

from ._redis import RedisClient, close_redis, ensure_bytes_client, translate_redis_errors
from .api_responses import RateLimit
from .errors import RateLimitedError

__all__ = [
    "DEFAULT_MAX_WAIT",
    "DEFAULT_RATE_LIMIT",
    "DEFAULT_RATE_WINDOW",
    "Bucket",
    "MemoryRateBudget",
    "RateBudget",
    "RedisRateBudget",
    "Taken",
    "bucket_for",
]

DEFAULT_RATE_LIMIT = 200
"""Requests per window per bucket, as Fanvue documents (raised from 100)."""
DEFAULT_RATE_WINDOW = 60.0
"""Seconds after which a Fanvue bucket refills fully."""
DEFAULT_MAX_WAIT = 5.0
"""How long a call waits in-line for its bucket to refill before raising ``RateLimitedError``."""

_MIRROR = re.compile(r"^/creators/([^/]+)/")
# A wake-up this much after the window's end, so the sleepers do not arrive a hair early.
_WAKE_MARGIN = 0.005
# Buckets whose lowest take one process remembers (least recently used go first).
_MAX_LOWEST = 10_000


@dataclass(frozen=True, slots=True)
class Bucket:
    """One Fanvue rate-limit bucket: the ``user`` the app acts for (its token's subject), plus
    the managed ``creator`` for ``/creators/{creatorUserUuid}/*`` routes."""

    user: str
    creator: str | None = None


def bucket_for(user: str, path: str) -> Bucket:
    """The bucket a call to ``path`` (concrete, e.g. ``/creators/<uuid>/chats``) counts against."""
    found = _MIRROR.match(path)
    return Bucket(user, found.group(1) if found else None)


@dataclass(frozen=True, slots=True)
class Taken:
    """A bucket right after a token was taken: what is left, the server window it is
    confirmed for (its ``X-RateLimit-Reset``; None while unconfirmed) and the limit Fanvue
    last announced."""

    remaining: int
    server_window: int | None
    server_limit: int | None

    def same_window(self, other: Taken) -> bool:
        """Both taken in the same confirmed server window under the same announced limit."""
        return (
            self.server_window is not None
            and self.server_window == other.server_window
            and self.server_limit == other.server_limit
        )

    def unchanged_by(self, rate_limit: RateLimit) -> bool:
        """True when re-syncing from ``rate_limit`` cannot change the bucket: same confirmed
        window (so the window's end stays), the server counts no more than the bucket did
        right after this take (and the bucket only goes down within a window), and no new
        limit announced."""
        if self.server_window is None or rate_limit.reset != self.server_window:
            return False
        if rate_limit.remaining is None or rate_limit.remaining < self.remaining:
            return False
        announced = rate_limit.limit
        return announced is None or announced <= 0 or announced == self.server_limit


def _optional_int(value: object) -> int | None:
    if value is None:
        return None
    text = value.decode() if isinstance(value, bytes) else str(value)
    return int(float(text))


class RateBudget(Protocol):
    """Takes a token per request from a shared bucket and re-syncs it from Fanvue's headers."""

    async def acquire(self, bucket: Bucket, *, method: str = "", path: str = "") -> Taken | None:
        """Take one token; wait for the window to end (at most ``max_wait`` seconds) or raise
        ``RateLimitedError`` with ``retry_after`` = the seconds until a token is free. Returns
        what the bucket looked like after the take (for :meth:`observe`), if known."""
        ...

    async def observe(
        self,
        bucket: Bucket,
        rate_limit: RateLimit,
        *,
        retry_after: float | None = None,
        taken: Taken | None = None,
    ) -> None:
        """Re-sync ``bucket`` from one response's rate-limit headers. ``taken`` (what
        ``acquire`` returned for that request) lets a budget skip a re-sync that would change
        nothing."""
        ...

    async def aclose(self) -> None: ...


class _Budget:
    """The waiting loop both budgets share; subclasses take and sync one bucket atomically."""

    def __init__(
        self,
        *,
        limit: int,
        window: float,
        max_wait: float,
        sleep: Callable[[float], Awaitable[None]],
        clock: Callable[[], float],
    ) -> None:
        if limit < 1:
            raise ValueError(f"limit must be at least 1, got {limit}")
        if window <= 0:
            raise ValueError(f"window must be positive, got {window}")
        if max_wait < 0:
            raise ValueError(f"max_wait must not be negative, got {max_wait}")
        self.limit = limit
        self.window = window
        self.max_wait = max_wait
        self._sleep = sleep
        self._clock = clock

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(limit={self.limit}, window={self.window}, "
            f"max_wait={self.max_wait})"
        )

    async def _take(self, bucket: Bucket) -> tuple[float, Taken | None]:
        """Take a token: (0, what the bucket looks like now) when taken, else (the seconds
        until the window ends, None)."""
        raise NotImplementedError

    async def acquire(self, bucket: Bucket, *, method: str = "", path: str = "") -> Taken | None:
        deadline = self._clock() + self.max_wait
        while True:
            wait, taken = await self._take(bucket)
            if wait <= 0:
                return taken
            if self._clock() + wait > deadline:
                raise RateLimitedError(
                    f"the Fanvue rate-limit budget of this bucket is spent; a request is "
                    f"free in {wait:.1f} s",
                    retry_after=wait,
                    error="rate_limit_budget",
                    method=method or None,
                    path=path or None,
                )
            await self._sleep(wait + _WAKE_MARGIN)

    async def aclose(self) -> None:
        return None


def _ms(seconds: float) -> int:
    return max(1, round(seconds * 1000))


def _lua(name: str) -> str:
    return files("fanvue_embedded.store").joinpath("lua", f"{name}.lua").read_text("utf-8")


_TAKE = _lua("budget_take")
_SYNC = _lua("budget_sync")


class RedisRateBudget(_Budget):
    """:class:`RateBudget` on Redis (standalone, Sentinel or Cluster), shared by every process
    using the same Redis and ``prefix``. Times come from Redis (``TIME``), so hosts with
    drifting clocks still agree. A client passed in stays the caller's to close unless
    ``close_client``."""

    def __init__(
        self,
        redis: RedisClient,
        *,
        limit: int = DEFAULT_RATE_LIMIT,
        window: float = DEFAULT_RATE_WINDOW,
        max_wait: float = DEFAULT_MAX_WAIT,
        prefix: str = "fve",
        close_client: bool = False,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        super().__init__(
            limit=limit, window=window, max_wait=max_wait, sleep=sleep, clock=time.monotonic
        )
        ensure_bytes_client(redis)
        self._redis = redis
        self._prefix = prefix
        self._close_client = close_client
        self._take_script = redis.register_script(_TAKE)
        self._sync_script = redis.register_script(_SYNC)
        # Per bucket, the take with the least left that this process saw in the bucket's
        # confirmed window: answers arrive out of order, and any take is an upper bound of
        # what the bucket holds now (it only goes down within a window).
        self._lowest: OrderedDict[Bucket, Taken] = OrderedDict()

    def key(self, bucket: Bucket) -> str:
        """The bucket's Redis key (in the user's Cluster slot)."""
        return f"{self._prefix}:{{{bucket.user}}}:rl:{bucket.creator or 'self'}"

    async def _take(self, bucket: Bucket) -> tuple[float, Taken | None]:
        async with translate_redis_errors():
            reply = await self._take_script(
                keys=[self.key(bucket)], args=[self.limit, _ms(self.window)]
            )
        wait = int(reply[0])
        if wait > 0:
            return wait / 1000, None
        taken = Taken(int(reply[1]), _optional_int(reply[2]), _optional_int(reply[3]))
        self._note(bucket, taken)
        return 0.0, taken

    def _note(self, bucket: Bucket, taken: Taken) -> None:
        if taken.server_window is None:
            return
        lowest = self._lowest.get(bucket)
        if lowest is None or not taken.same_window(lowest) or taken.remaining < lowest.remaining:
            self._lowest[bucket] = taken
        self._lowest.move_to_end(bucket)
        while len(self._lowest) > _MAX_LOWEST:
            self._lowest.popitem(last=False)

    def _least_left(self, bucket: Bucket, taken: Taken) -> Taken:
        """``taken``, or a later take of the same window that left less."""
        lowest = self._lowest.get(bucket)
        if lowest is not None and lowest.same_window(taken) and lowest.remaining < taken.remaining:
            return lowest
        return taken

    async def observe(
        self,
        bucket: Bucket,
        rate_limit: RateLimit,
        *,
        retry_after: float | None = None,
        taken: Taken | None = None,
    ) -> None:
        if rate_limit.remaining is None or rate_limit.reset is None:
            return
        if (
            taken is not None
            and retry_after is None
            and self._least_left(bucket, taken).unchanged_by(rate_limit)
        ):
            return  # the steady state: one round trip per call, not two
        args = [
            max(rate_limit.remaining, 0),
            rate_limit.reset,
            rate_limit.limit if rate_limit.limit and rate_limit.limit > 0 else "",
            _ms(self.window),
            _ms(retry_after) if retry_after is not None else "",
        ]
        async with translate_redis_errors():
            await self._sync_script(keys=[self.key(bucket)], args=args)

    async def aclose(self) -> None:
        if self._close_client:
            await close_redis(self._redis)


@dataclass(slots=True)
class _State:
    remaining: int
    reset: float  # when the window ends, on the budget's clock
    server_window: int = 0  # X-RateLimit-Reset of the window last confirmed
    confirmed: bool = False
    server_limit: int | None = None
    counted_against: int | None = None  # the limit ``remaining`` is counted against


class MemoryRateBudget(_Budget):
    """:class:`RateBudget` in this process (every event loop and thread of it): the same rules
    as :class:`RedisRateBudget`, for development and single-process apps."""

    def __init__(
        self,
        *,
        limit: int = DEFAULT_RATE_LIMIT,
        window: float = DEFAULT_RATE_WINDOW,
        max_wait: float = DEFAULT_MAX_WAIT,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        super().__init__(limit=limit, window=window, max_wait=max_wait, sleep=sleep, clock=clock)
        self._buckets: dict[Bucket, _State] = {}
        self._lock = threading.Lock()

    async def _take(self, bucket: Bucket) -> tuple[float, Taken | None]:
        with self._lock:
            now = self._clock()
            state = self._buckets.get(bucket)
            if state is None or now >= state.reset:
                self._sweep(now)
                known = state.server_limit if state else None
                previous = state.server_window if state else 0
                opened = known or self.limit
                state = _State(opened, now + self.window, previous, False, known, opened)
                self._buckets[bucket] = state
            if state.remaining <= 0:
                return max(state.reset - now, 0.001), None
            state.remaining -= 1
            return 0.0, None  # observing is in memory here: nothing worth skipping

    async def observe(
        self,
        bucket: Bucket,
        rate_limit: RateLimit,
        *,
        retry_after: float | None = None,
        taken: Taken | None = None,
    ) -> None:
        told, server_window = rate_limit.remaining, rate_limit.reset
        if told is None or server_window is None:
            return
        told = max(told, 0)
        with self._lock:
            now = self._clock()
            bound = now + self.window
            if retry_after is not None:
                bound = min(bound, now + retry_after)
            state = self._buckets.get(bucket)
            announced = rate_limit.limit if rate_limit.limit and rate_limit.limit > 0 else None
            if state is None:
                state = _State(told, bound, server_window, True)
                self._buckets[bucket] = state
            elif server_window < state.server_window or (
                server_window == state.server_window and not state.confirmed
            ):
                return  # a late answer from a window this bucket has already left
            elif server_window == state.server_window:
                self._recount(state, announced)
                state.remaining = min(state.remaining, told)
                state.reset = min(state.reset, bound)
            else:
                first_news = not state.confirmed and now < state.reset
                self._recount(state, announced)
                state.remaining = min(state.remaining, told) if first_news else told
                state.reset = bound
                state.server_window = server_window
                state.confirmed = True
            if announced is not None:
                state.server_limit = state.counted_against = announced

    @staticmethod
    def _recount(state: _State, announced: int | None) -> None:
        # Counted against another limit than Fanvue's: the calls taken but not yet counted by
        # the server stay taken, so what is left moves by the difference.
        if announced is not None and state.counted_against is not None:
            state.remaining -= state.counted_against - announced

    def _sweep(self, now: float) -> None:
        # Buckets two windows past their end carry nothing worth keeping (as the Redis TTL).
        stale = [key for key, s in self._buckets.items() if now > s.reset + 2 * self.window]
        for key in stale:
            del self._buckets[key]
