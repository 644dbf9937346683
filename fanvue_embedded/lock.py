"""A per-creator mutual-exclusion lock with a TTL, for Redis (many processes) or memory (one).

Written after redis-py's ``redis/asyncio/lock.py``, minus its traps:

- every acquisition takes a fresh random owner token, so a holder whose TTL lapsed can never
  release or extend the lock somebody else acquired since;
- the lock always has a TTL, so a crashed holder frees it;
- release and extend are compare-and-act Lua scripts (one round trip, atomic);
- losing the lock is an answer (``False``), not an exception.

The lock is *advisory*. The race it cannot prevent, and why the store's writes are fenced::

    t0  A acquires (ttl 10 s)            A starts a refresh that stalls
    t10 A's TTL lapses                   B acquires, refreshes, saves generation 6
    t12 A's refresh returns              A's save(expected_generation=5) -> GenerationConflict

So a holder must make its final write conditional (the store's generation compare-and-set),
and may call :meth:`CreatorLock.extend` during long work to keep the lock.
"""

from __future__ import annotations

import abc
import asyncio
import random
import secrets
import time
from types import TracebackType

from ._redis import RedisClient, translate_redis_errors
from .errors import RefreshInProgress
from .models import Clock, system_clock

__all__ = ["CreatorLock", "MemoryCreatorLock", "RedisCreatorLock"]

_DEFAULT_RETRY_INTERVAL = 0.05


class CreatorLock(abc.ABC):
    """Common behaviour: acquire loop with jitter, owner bookkeeping, ``async with`` support.

    ``async with lock:`` waits up to ``acquire_timeout`` (default: one ``ttl``) and raises
    :class:`RefreshInProgress` if the lock stays taken; on exit it releases the lock.
    """

    def __init__(
        self,
        name: str,
        ttl: float,
        *,
        acquire_timeout: float | None = None,
        retry_interval: float = _DEFAULT_RETRY_INTERVAL,
    ) -> None:
        if ttl <= 0:
            raise ValueError("a lock needs a positive ttl")
        self.name = name
        self.ttl = ttl
        self.acquire_timeout = ttl if acquire_timeout is None else acquire_timeout
        self.retry_interval = retry_interval
        self._token: str | None = None

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, ttl={self.ttl!r}, owned={self.owned!r})"

    @property
    def owned(self) -> bool:
        """True while this object believes it holds the lock (its TTL may still have lapsed:
        :meth:`extend` tells for sure)."""
        return self._token is not None

    async def acquire(
        self,
        *,
        blocking: bool = True,
        timeout: float | None = None,  # noqa: ASYNC109 - a lock's wait limit is its contract
    ) -> bool:
        """Take the lock. Non-blocking: one attempt. Blocking: retry (with jitter) until
        ``timeout`` seconds pass (``None`` = no limit). Returns whether the lock is now held."""
        if self._token is not None:
            raise RuntimeError(f"lock {self.name!r} is already held by this object")
        token = secrets.token_hex(16)
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            if await self._try_acquire(token, self.ttl):
                self._token = token
                return True
            if not blocking:
                return False
            delay = self.retry_interval * (0.5 + random.random())  # noqa: S311 - jitter only
            if deadline is not None:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                delay = min(delay, remaining)
            await asyncio.sleep(delay)

    def adopt(self, token: str) -> CreatorLock:
        """Hold the lock under ``token``, taken elsewhere (the refresh coordinator's begin
        step takes it inside a script), so this object can release or extend it."""
        if self._token is not None:
            raise RuntimeError(f"lock {self.name!r} is already held by this object")
        self._token = token
        return self

    async def release(self) -> bool:
        """Give the lock up. False when it was not held, or had lapsed and maybe been re-taken
        (in which case the new holder's lock is left alone).

        If the store fails (``StoreUnavailable``) the object still owns the lock, so the
        release (or an extend) can be tried again: the owner token is forgotten only once the
        store has answered."""
        token = self._token
        if token is None:
            return False
        released = await self._release(token)
        self._token = None
        return released

    async def extend(self, ttl: float | None = None) -> bool:
        """Reset the lock's TTL to ``ttl`` (default: the original ttl) if still held.

        False means the lock was lost; the object then stops claiming to own it."""
        if self._token is None:
            return False
        extended = await self._extend(self._token, self.ttl if ttl is None else ttl)
        if not extended:
            self._token = None
        return extended

    async def __aenter__(self) -> CreatorLock:
        if not await self.acquire(timeout=self.acquire_timeout):
            raise RefreshInProgress(f"lock {self.name!r} is held elsewhere; gave up waiting")
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.release()

    @abc.abstractmethod
    async def _try_acquire(self, token: str, ttl: float) -> bool: ...

    @abc.abstractmethod
    async def _release(self, token: str) -> bool: ...

    @abc.abstractmethod
    async def _extend(self, token: str, ttl: float) -> bool: ...


_RELEASE_SCRIPT = """
if redis.call('get', KEYS[1]) == ARGV[1] then
    return redis.call('del', KEYS[1])
end
return 0
"""

_EXTEND_SCRIPT = """
if redis.call('get', KEYS[1]) == ARGV[1] then
    return redis.call('pexpire', KEYS[1], ARGV[2])
end
return 0
"""


def _milliseconds(seconds: float) -> int:
    return max(1, round(seconds * 1000))


class RedisCreatorLock(CreatorLock):
    """The lock as one Redis key: ``SET key owner NX PX ttl``; Lua compare-and-delete/-pexpire.

    One key per lock, so it works on Redis Cluster. Redis errors become ``StoreUnavailable``.
    """

    def __init__(
        self,
        redis: RedisClient,
        key: str,
        ttl: float,
        *,
        acquire_timeout: float | None = None,
        retry_interval: float = _DEFAULT_RETRY_INTERVAL,
    ) -> None:
        super().__init__(key, ttl, acquire_timeout=acquire_timeout, retry_interval=retry_interval)
        self._redis = redis
        self._release_script = redis.register_script(_RELEASE_SCRIPT)
        self._extend_script = redis.register_script(_EXTEND_SCRIPT)

    async def _try_acquire(self, token: str, ttl: float) -> bool:
        async with translate_redis_errors():
            return bool(await self._redis.set(self.name, token, nx=True, px=_milliseconds(ttl)))

    async def _release(self, token: str) -> bool:
        async with translate_redis_errors():
            return bool(await self._release_script(keys=[self.name], args=[token]))

    async def _extend(self, token: str, ttl: float) -> bool:
        async with translate_redis_errors():
            return bool(
                await self._extend_script(keys=[self.name], args=[token, _milliseconds(ttl)])
            )


class MemoryCreatorLock(CreatorLock):
    """The same lock for one process (one event loop): a shared dict of name -> (owner, expiry).

    Locks that should exclude each other must share ``registry``; there is no process-wide
    default (a ``MemoryTokenStore`` passes its own, so two stores never see each other's locks).
    Expiry follows the injected ``clock``.
    """

    def __init__(
        self,
        name: str,
        ttl: float,
        *,
        registry: dict[str, tuple[str, float]],
        clock: Clock = system_clock,
        acquire_timeout: float | None = None,
        retry_interval: float = _DEFAULT_RETRY_INTERVAL,
    ) -> None:
        super().__init__(name, ttl, acquire_timeout=acquire_timeout, retry_interval=retry_interval)
        self._registry = registry
        self._clock = clock

    def _holder(self) -> str | None:
        entry = self._registry.get(self.name)
        if entry is None:
            return None
        if entry[1] <= self._clock():
            del self._registry[self.name]
            return None
        return entry[0]

    # No awaits inside these: on one event loop each check-and-act is atomic.
    async def _try_acquire(self, token: str, ttl: float) -> bool:
        if self._holder() is not None:
            return False
        self._registry[self.name] = (token, self._clock() + ttl)
        return True

    async def _release(self, token: str) -> bool:
        if self._holder() != token:
            return False
        del self._registry[self.name]
        return True

    async def _extend(self, token: str, ttl: float) -> bool:
        if self._holder() != token:
            return False
        self._registry[self.name] = (token, self._clock() + ttl)
        return True
