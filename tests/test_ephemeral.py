"""EphemeralStore: memory and Redis implementations under one contract."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

import pytest

from fanvue_embedded._redis import redis_from_url
from fanvue_embedded.ephemeral import MemoryEphemeralStore, RedisEphemeralStore
from fanvue_embedded.errors import ConfigurationError
from tests.support.redis_topology import decoding_async_client, redis_url_for

pytestmark = pytest.mark.both_topologies


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Harness:
    store: MemoryEphemeralStore | RedisEphemeralStore
    expire_all: Callable[[], Awaitable[None]]
    """Let every TTL run out."""


@pytest.fixture(params=["memory", "redis", "cluster"])
async def harness(request: pytest.FixtureRequest) -> AsyncIterator[Harness]:
    if request.param == "memory":
        clock = FakeClock()
        memory = MemoryEphemeralStore(clock)

        async def advance() -> None:
            clock.now += 3600

        yield Harness(memory, advance)
        return
    redis_url = redis_url_for(request, request.param)
    client = redis_from_url(redis_url)
    store = RedisEphemeralStore(client)

    async def wait_out() -> None:
        # Keys in these tests live 0.2 s at most when this is used; poll until Redis expired them.
        for _ in range(200):
            if not await client.keys("fve:e:*"):
                return
            await asyncio.sleep(0.05)
        raise AssertionError("keys did not expire")

    try:
        yield Harness(store, wait_out)
    finally:
        await client.aclose()


@pytest.mark.anyio
class TestEphemeralContract:
    async def test_put_get_delete(self, harness: Harness) -> None:
        store = harness.store
        assert await store.get("k") is None
        assert await store.put("k", b"\x00value", 60)
        assert await store.get("k") == b"\x00value"
        assert await store.put("k", b"other", 60)
        assert await store.get("k") == b"other"
        assert await store.delete("k")
        assert not await store.delete("k")
        assert await store.get("k") is None

    async def test_only_if_absent_is_a_dedup_primitive(self, harness: Harness) -> None:
        store = harness.store
        assert await store.put("event-1", b"1", 60, only_if_absent=True)
        assert not await store.put("event-1", b"2", 60, only_if_absent=True)
        assert await store.get("event-1") == b"1"

    async def test_take_returns_once(self, harness: Harness) -> None:
        store = harness.store
        await store.put("state", b"verifier", 60)
        assert await store.take("state") == b"verifier"
        assert await store.take("state") is None
        assert await store.get("state") is None

    async def test_concurrent_takes_get_the_value_exactly_once(self, harness: Harness) -> None:
        store = harness.store
        await store.put("state", b"verifier", 60)
        results = await asyncio.gather(*(store.take("state") for _ in range(20)))
        assert [r for r in results if r is not None] == [b"verifier"]

    async def test_values_expire(self, harness: Harness) -> None:
        store = harness.store
        await store.put("short", b"x", 0.2)
        await store.put("dedup", b"x", 0.2, only_if_absent=True)
        await harness.expire_all()
        assert await store.get("short") is None
        assert await store.take("short") is None
        assert not await store.touch("short", 60)
        assert not await store.delete("short")
        assert await store.put("dedup", b"y", 60, only_if_absent=True)  # expired = absent

    async def test_touch_extends_live_keys_only(self, harness: Harness) -> None:
        store = harness.store
        assert not await store.touch("missing", 60)
        await store.put("session", b"s", 60)
        assert await store.touch("session", 120)
        assert await store.get("session") == b"s"

    async def test_rejects_non_positive_ttl(self, harness: Harness) -> None:
        with pytest.raises(ValueError, match="ttl"):
            await harness.store.put("k", b"v", 0)


@pytest.mark.anyio
async def test_memory_touch_resets_expiry_from_now() -> None:
    clock = FakeClock()
    store = MemoryEphemeralStore(clock)
    await store.put("session", b"s", 10)
    clock.now += 8
    assert await store.touch("session", 10)
    clock.now += 8
    assert await store.get("session") == b"s"  # would have expired without the touch
    clock.now += 2
    assert await store.get("session") is None


@pytest.mark.anyio
async def test_memory_store_sweeps_abandoned_keys() -> None:
    clock = FakeClock()
    store = MemoryEphemeralStore(clock)
    for n in range(100):
        await store.put(f"old-{n}", b"x", 1)
    clock.now += 5
    for n in range(300):
        await store.put(f"new-{n}", b"x", 60)
    assert not any(key.startswith("old-") for key in store._items)


@pytest.mark.anyio
async def test_redis_layout_and_ttl(redis_url: str) -> None:
    client = redis_from_url(redis_url)
    try:
        store = RedisEphemeralStore(client, prefix="app")
        await store.put("sess:1", b"v", 30)
        assert await client.get("app:e:sess:1") == b"v"
        assert 0 < await client.pttl("app:e:sess:1") <= 30_000
        assert await store.touch("sess:1", 600)
        assert 30_000 < await client.pttl("app:e:sess:1") <= 600_000
    finally:
        await client.aclose()


@pytest.mark.anyio
async def test_redis_store_refuses_a_decoding_client(redis_url: str) -> None:
    client = decoding_async_client(redis_url)
    try:
        with pytest.raises(ConfigurationError, match="decode_responses"):
            RedisEphemeralStore(client)
    finally:
        await client.aclose()


@pytest.mark.anyio
async def test_redis_store_from_url_owns_its_client(redis_url: str) -> None:
    store = RedisEphemeralStore.from_url(redis_url)
    await store.put("k", b"v", 30)
    assert await store.get("k") == b"v"
    await store.aclose()
