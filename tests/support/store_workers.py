"""Entry points for the multi-process store tests (run in ``spawn`` children, so importable)."""

from __future__ import annotations

import asyncio
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Barrier

from fanvue_embedded._redis import redis_from_url
from fanvue_embedded.config import EncryptionKey
from fanvue_embedded.crypto import Keyring
from fanvue_embedded.errors import GenerationConflict
from fanvue_embedded.models import TokenSet
from fanvue_embedded.store import RedisTokenStore


def race_to_save(
    url: str, key: bytes, creator: str, index: int, barrier: Barrier, results: Queue[str]
) -> None:
    """Save with expected generation 1 once every racer is ready; report won/lost."""
    barrier.wait(timeout=60)
    results.put(asyncio.run(_save(url, key, creator, index)))


async def _save(url: str, key: bytes, creator: str, index: int) -> str:
    store = RedisTokenStore.from_url(url, Keyring([EncryptionKey("k1", key)]))
    tokens = TokenSet(
        access_token=f"eyJ.access-from-{index}.sig",
        expires_at=2_000_000_000.0,
        refresh_token=f"ory_rt_from-{index}",
    )
    try:
        await store.save(creator, tokens, expected_generation=1)
    except GenerationConflict:
        return f"lost:{index}"
    finally:
        await store.aclose()
    return f"won:{index}"


def increment_under_lock(url: str, creator: str, counter_key: str, rounds: int) -> None:
    """Read-sleep-write a shared counter ``rounds`` times, each inside the creator's lock."""
    asyncio.run(_increment(url, creator, counter_key, rounds))


async def _increment(url: str, creator: str, counter_key: str, rounds: int) -> None:
    store = RedisTokenStore.from_url(url, Keyring.generate_ephemeral())
    raw = redis_from_url(url)
    try:
        for _ in range(rounds):
            async with store.lock(creator, ttl=30.0, acquire_timeout=120.0):
                value = int(await raw.get(counter_key) or 0)
                await asyncio.sleep(0.002)  # widen the read-modify-write window
                await raw.set(counter_key, value + 1)
    finally:
        await raw.aclose()
        await store.aclose()
