"""CreatorLock: the Redis lock and the in-process lock honour the same contract."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

import pytest

from fanvue_embedded._redis import redis_from_url
from fanvue_embedded.errors import RefreshInProgress
from fanvue_embedded.lock import CreatorLock, MemoryCreatorLock, RedisCreatorLock
from tests.support.redis_topology import redis_url_for

pytestmark = pytest.mark.both_topologies


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class LockFactory:
    make: Callable[..., CreatorLock]
    lapse: Callable[[str], Awaitable[None]]
    """Make the named lock's TTL run out now (whoever holds it)."""
    holder: Callable[[str], Awaitable[str | None]]
    """The owner token currently stored for the name."""


@pytest.fixture(params=["memory", "redis", "cluster"])
async def locks(request: pytest.FixtureRequest) -> AsyncIterator[LockFactory]:
    if request.param == "memory":
        clock = FakeClock()
        registry: dict[str, tuple[str, float]] = {}

        def make_memory(name: str, ttl: float, **kwargs: float) -> CreatorLock:
            return MemoryCreatorLock(name, ttl, registry=registry, clock=clock, **kwargs)

        async def lapse_memory(name: str) -> None:
            clock.now = registry[name][1]

        async def holder_memory(name: str) -> str | None:
            entry = registry.get(name)
            return None if entry is None or entry[1] <= clock.now else entry[0]

        yield LockFactory(make_memory, lapse_memory, holder_memory)
        return

    redis_url = redis_url_for(request, request.param)
    client = redis_from_url(redis_url)

    def make_redis(name: str, ttl: float, **kwargs: float) -> CreatorLock:
        return RedisCreatorLock(client, name, ttl, **kwargs)

    async def lapse_redis(name: str) -> None:
        await client.delete(name)  # what an expired PX does, without waiting for it

    async def holder_redis(name: str) -> str | None:
        value = await client.get(name)
        # The client never decodes, but redis-py types replies as bytes | str.
        return value.decode() if isinstance(value, bytes) else value

    try:
        yield LockFactory(make_redis, lapse_redis, holder_redis)
    finally:
        await client.aclose()


@pytest.mark.anyio
class TestCreatorLockContract:
    async def test_exclusive_until_released(self, locks: LockFactory) -> None:
        first, second = locks.make("L", 10.0), locks.make("L", 10.0)
        assert await first.acquire(blocking=False)
        assert first.owned
        assert not await second.acquire(blocking=False)
        assert not second.owned
        assert not await second.acquire(timeout=0.05)
        assert await first.release()
        assert not first.owned
        assert await second.acquire(blocking=False)
        await second.release()

    async def test_each_acquisition_takes_a_fresh_owner_token(self, locks: LockFactory) -> None:
        lock = locks.make("L", 10.0)
        await lock.acquire(blocking=False)
        token = await locks.holder("L")
        await lock.release()
        assert await locks.holder("L") is None
        await lock.acquire(blocking=False)
        again = await locks.holder("L")
        assert token is not None
        assert again is not None
        assert again != token
        assert len(token) == 32
        await lock.release()

    async def test_acquiring_twice_with_one_object_is_a_bug(self, locks: LockFactory) -> None:
        lock = locks.make("L", 10.0)
        await lock.acquire(blocking=False)
        with pytest.raises(RuntimeError):
            await lock.acquire(blocking=False)
        await lock.release()

    async def test_lapsed_holder_cannot_release_or_extend_the_new_holders_lock(
        self, locks: LockFactory
    ) -> None:
        stale, fresh = locks.make("L", 10.0), locks.make("L", 10.0)
        assert await stale.acquire(blocking=False)
        await locks.lapse("L")
        assert await fresh.acquire(blocking=False)
        fresh_token = await locks.holder("L")

        assert not await stale.extend()
        assert not stale.owned
        assert not await stale.release()
        assert await locks.holder("L") == fresh_token
        assert await fresh.extend(20.0)
        assert await fresh.release()

    async def test_release_without_holding_returns_false(self, locks: LockFactory) -> None:
        lock = locks.make("L", 10.0)
        assert not await lock.release()
        assert not await lock.extend()

    async def test_blocking_acquire_waits_for_release(self, locks: LockFactory) -> None:
        holder, waiter = locks.make("L", 10.0), locks.make("L", 10.0, retry_interval=0.01)
        await holder.acquire(blocking=False)
        waiting = asyncio.create_task(waiter.acquire(timeout=30.0))
        await asyncio.sleep(0.05)
        assert not waiting.done()
        await holder.release()
        assert await waiting
        await waiter.release()

    async def test_context_manager_releases_and_times_out(self, locks: LockFactory) -> None:
        async with locks.make("L", 10.0) as held:
            assert held.owned
            blocked = locks.make("L", 10.0, acquire_timeout=0.05)
            with pytest.raises(RefreshInProgress):
                async with blocked:
                    pytest.fail("entered a lock somebody else holds")
        assert not held.owned
        assert await locks.holder("L") is None

    async def test_context_manager_releases_on_error(self, locks: LockFactory) -> None:
        with pytest.raises(KeyError):
            async with locks.make("L", 10.0):
                raise KeyError("boom")
        assert await locks.holder("L") is None

    async def test_rejects_non_positive_ttl(self, locks: LockFactory) -> None:
        with pytest.raises(ValueError, match="ttl"):
            locks.make("L", 0.0)


@pytest.mark.anyio
async def test_redis_lock_sets_a_ttl_and_extend_resets_it(redis_url: str) -> None:
    client = redis_from_url(redis_url)
    try:
        lock = RedisCreatorLock(client, "fve:{c}:l", 10.0)
        await lock.acquire(blocking=False)
        assert 0 < await client.pttl("fve:{c}:l") <= 10_000
        assert await lock.extend(60.0)
        assert 10_000 < await client.pttl("fve:{c}:l") <= 60_000
        await lock.release()
        assert await client.exists("fve:{c}:l") == 0
    finally:
        await client.aclose()


@pytest.mark.anyio
async def test_redis_lock_expires_on_its_own(redis_url: str) -> None:
    client = redis_from_url(redis_url)
    try:
        crashed = RedisCreatorLock(client, "fve:{c}:l", 0.05)
        await crashed.acquire(blocking=False)
        successor = RedisCreatorLock(client, "fve:{c}:l", 10.0, retry_interval=0.01)
        assert await successor.acquire(timeout=30.0)  # the crashed holder never releases
        assert not await crashed.release()
        assert await successor.release()
    finally:
        await client.aclose()
