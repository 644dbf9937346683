"""Short-lived key/value storage with a TTL: app sessions, webhook dedup, failure counters.

Values are opaque bytes; callers encrypt or sign what needs it. ``take`` is an atomic
read-and-delete, so a one-time value (an OAuth ``state``) can be consumed exactly once even when
two requests race for it.
"""

from __future__ import annotations

from typing import Protocol

from ._redis import (
    RedisClient,
    close_redis,
    ensure_bytes_client,
    redis_from_url,
    translate_redis_errors,
)
from .models import Clock, system_clock

__all__ = ["EphemeralStore", "MemoryEphemeralStore", "RedisEphemeralStore"]


class EphemeralStore(Protocol):
    """Bytes under string keys, each with a TTL in seconds."""

    async def put(
        self, key: str, value: bytes, ttl: float, *, only_if_absent: bool = False
    ) -> bool:
        """Store ``value`` for ``ttl`` seconds. With ``only_if_absent`` an existing live key is
        left alone and the answer is False (the dedup primitive); otherwise True."""
        ...

    async def get(self, key: str) -> bytes | None: ...

    async def take(self, key: str) -> bytes | None:
        """Return the value and delete it, atomically; None if absent or expired."""
        ...

    async def touch(self, key: str, ttl: float) -> bool:
        """Reset the TTL of a live key; False if there is none."""
        ...

    async def delete(self, key: str) -> bool: ...

    async def increment(self, key: str, ttl: float) -> int:
        """Add one to the counter under ``key`` and return it; a new counter lives ``ttl``
        seconds from its first increment (a fixed window: later increments keep its expiry)."""
        ...

    async def expires_in(self, key: str) -> float | None:
        """Seconds until ``key`` expires; None if absent or expired."""
        ...

    async def aclose(self) -> None: ...


# INCR and its expiry in one step: a crash between the two can't leave a counter for ever.
_INCREMENT = """
local count = redis.call('INCR', KEYS[1])
if count == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return count
"""


def _check_ttl(ttl: float) -> None:
    if ttl <= 0:
        raise ValueError("ttl must be positive")


def _milliseconds(seconds: float) -> int:
    return max(1, round(seconds * 1000))


def _optional_bytes(value: bytes | str | None) -> bytes | None:
    # The client is bytes-only (ensure_bytes_client); redis-py types replies as bytes | str.
    return value.encode("utf-8") if isinstance(value, str) else value


class MemoryEphemeralStore:
    """In-process :class:`EphemeralStore`; expiry follows the injected ``clock``."""

    # Sweep expired entries every this many writes, so abandoned keys can't pile up.
    _SWEEP_EVERY = 256

    def __init__(self, clock: Clock = system_clock) -> None:
        self._clock = clock
        self._items: dict[str, tuple[bytes, float]] = {}
        self._writes = 0

    def _live(self, key: str) -> bytes | None:
        entry = self._items.get(key)
        if entry is None:
            return None
        if entry[1] <= self._clock():
            del self._items[key]
            return None
        return entry[0]

    def _sweep(self) -> None:
        now = self._clock()
        for key in [key for key, (_, expiry) in self._items.items() if expiry <= now]:
            del self._items[key]

    async def put(
        self, key: str, value: bytes, ttl: float, *, only_if_absent: bool = False
    ) -> bool:
        _check_ttl(ttl)
        self._writes += 1
        if self._writes % self._SWEEP_EVERY == 0:
            self._sweep()
        if only_if_absent and self._live(key) is not None:
            return False
        self._items[key] = (bytes(value), self._clock() + ttl)
        return True

    async def get(self, key: str) -> bytes | None:
        return self._live(key)

    async def take(self, key: str) -> bytes | None:
        value = self._live(key)
        if value is not None:
            del self._items[key]
        return value

    async def touch(self, key: str, ttl: float) -> bool:
        _check_ttl(ttl)
        value = self._live(key)
        if value is None:
            return False
        self._items[key] = (value, self._clock() + ttl)
        return True

    async def delete(self, key: str) -> bool:
        value = self._live(key)
        self._items.pop(key, None)
        return value is not None

    async def increment(self, key: str, ttl: float) -> int:
        _check_ttl(ttl)
        value = self._live(key)
        if value is None:
            count, expiry = 1, self._clock() + ttl
        else:
            count, expiry = int(value) + 1, self._items[key][1]
        self._items[key] = (str(count).encode(), expiry)
        return count

    async def expires_in(self, key: str) -> float | None:
        if self._live(key) is None:
            return None
        return self._items[key][1] - self._clock()

    async def aclose(self) -> None:
        self._items.clear()


class RedisEphemeralStore:
    """:class:`EphemeralStore` on Redis: one string key ``{prefix}:e:<key>`` per value.

    Redis connection failures raise ``StoreUnavailable``. Needs Redis >= 6.2 (``GETDEL``).
    A client passed in stays the caller's to close; one built by :meth:`from_url` is closed by
    :meth:`aclose`.
    """

    def __init__(
        self, redis: RedisClient, prefix: str = "fve", *, close_client: bool = False
    ) -> None:
        ensure_bytes_client(redis)
        self._redis = redis
        self._prefix = f"{prefix}:e:"
        self._close_client = close_client
        self._increment_script = redis.register_script(_INCREMENT)

    @classmethod
    def from_url(cls, url: str, prefix: str = "fve") -> RedisEphemeralStore:
        """A store on its own client for ``url`` (any scheme :func:`redis_from_url` takes)."""
        return cls(redis_from_url(url), prefix, close_client=True)

    def _key(self, key: str) -> str:
        return self._prefix + key

    async def put(
        self, key: str, value: bytes, ttl: float, *, only_if_absent: bool = False
    ) -> bool:
        _check_ttl(ttl)
        async with translate_redis_errors():
            done = await self._redis.set(
                self._key(key), value, px=_milliseconds(ttl), nx=only_if_absent
            )
        return bool(done)

    async def get(self, key: str) -> bytes | None:
        async with translate_redis_errors():
            value = await self._redis.get(self._key(key))
        return _optional_bytes(value)

    async def take(self, key: str) -> bytes | None:
        async with translate_redis_errors():
            value = await self._redis.getdel(self._key(key))
        return _optional_bytes(value)

    async def touch(self, key: str, ttl: float) -> bool:
        _check_ttl(ttl)
        async with translate_redis_errors():
            return bool(await self._redis.pexpire(self._key(key), _milliseconds(ttl)))

    async def delete(self, key: str) -> bool:
        async with translate_redis_errors():
            return bool(await self._redis.delete(self._key(key)))

    async def increment(self, key: str, ttl: float) -> int:
        _check_ttl(ttl)
        async with translate_redis_errors():
            count = await self._increment_script(keys=[self._key(key)], args=[_milliseconds(ttl)])
        return int(count)

    async def expires_in(self, key: str) -> float | None:
        async with translate_redis_errors():
            milliseconds = int(await self._redis.pttl(self._key(key)))
        return milliseconds / 1000 if milliseconds >= 0 else None

    async def aclose(self) -> None:
        if self._close_client:
            await close_redis(self._redis)
