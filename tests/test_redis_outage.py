"""A long Redis outage while refreshes are in flight loses no creator.

Fanvue rotates, then the commit finds Redis gone. The rotated set is held in memory, served to
callers, and stored once Redis is back (``fanvue_embedded.held``); a lock whose release failed
is released in the background. The emulator's counters are the referee.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from fanvue_embedded.errors import GenerationConflict, StoreUnavailable
from fanvue_embedded.held import HeldCommits
from fanvue_embedded.metrics import Metrics
from fanvue_embedded.models import TokenSet
from fanvue_embedded.store import RedisTokenStore, TokenStore
from fanvue_embedded.tokens import RefreshOutcome
from tests.support.emulator import EmulatorHandle
from tests.support.redis_server import run_redis_server
from tests.support.redis_topology import sync_client
from tests.support.servers import free_port
from tests.support.storm import Setup, open_manager, seed

pytestmark = pytest.mark.both_topologies

HANDLES = ("luna.rivers", "outage.one", "outage.two")
FRESH = TokenSet(
    access_token="eyJheld.access.token",
    expires_at=2_000_000_000.0,
    refresh_token="ory_rt_held_refresh",
    scopes=frozenset({"read:self"}),
)


async def wait_until(condition: Callable[[], bool], what: str) -> None:
    """Poll while letting this loop run (a wait, not a timing assertion)."""
    deadline = time.monotonic() + 90.0
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        await asyncio.sleep(0.05)


def generations(url: str, creators: list[str]) -> list[int]:
    client = sync_client(url)
    try:
        return [int(client.hget(f"fve:{{{creator}}}:t", "g") or 0) for creator in creators]
    finally:
        client.close()


GRACE = 4.0
"""The emulator's grace window for the outage test (Fanvue's is 30 s): what matters is that
Redis stays down past it, and a short one keeps the run short."""
OUTAGE = 12.0
"""Past the grace window and past the lock TTL (``Setup.lock_ttl``, 10 s), as a 40 s outage
against the 30 s window would be: re-presenting the old refresh token would now break the
chain, and the locks the failed releases left behind have expired."""


@pytest.mark.slow
@pytest.mark.anyio
async def test_redis_down_past_the_grace_window_mid_refresh_loses_no_creator(
    emulator: EmulatorHandle, tmp_path: Path
) -> None:
    emulator.settings(grace_seconds=GRACE)
    for handle in HANDLES[1:]:
        emulator.control("POST", "/creators", json={"handle": handle, "consent": True})
    port, data = free_port(), tmp_path / "redis"
    data.mkdir()
    with contextlib.ExitStack() as servers:
        url, proc = servers.enter_context(
            run_redis_server(appendonly=True, port=port, directory=str(data))
        )
        setup = Setup(url, emulator.base_url, os.urandom(32))
        creators = [await seed(setup, emulator, handle) for handle in HANDLES]
        before = generations(url, creators)
        emulator.control("DELETE", "/counters")
        emulator.faults(latency_ms={"token": 2000})  # the emulator rotates after 2 s

        async with open_manager(setup, time.time) as manager:
            refreshes = [
                asyncio.ensure_future(manager.refresh(creator, force=True)) for creator in creators
            ]
            await wait_until(
                lambda: emulator.counters()["refresh_requests"] == len(creators), "in flight"
            )
            proc.terminate()  # Redis goes away with all three refreshes in flight
            proc.wait(10)
            outcomes = await asyncio.gather(*refreshes)
            assert outcomes == [RefreshOutcome.REFRESHED] * len(creators)
            assert emulator.counters()["rotations"] == len(creators)
            emulator.faults(latency_ms={"token": 0})

            # Redis is down, yet the API works for every creator: the held sets serve.
            for creator in creators:
                user = await manager.client(creator).get_current_user()
                assert user.uuid == creator

            await asyncio.sleep(OUTAGE)

            servers.enter_context(run_redis_server(appendonly=True, port=port, directory=str(data)))
            after = [generation + 1 for generation in before]
            await wait_until(lambda: generations(url, creators) == after, "the held commits")
            for creator in creators:
                assert await manager.store.reauthorization_mark(creator) is None
                assert await manager.store.refresh_attempt(creator) is None
                # The stored set is the chain's newest: the next refresh is a plain rotation.
                assert await manager.refresh(creator, force=True) is RefreshOutcome.REFRESHED
                assert await manager.store.reauthorization_mark(creator) is None
    counters = emulator.counters()
    assert counters["chain_breaks"] == 0
    assert counters["rotations"] == 2 * len(creators)
    assert counters["grace_reuses"] == 0


class FlakyFirstSave:
    """The real Redis store, except that the first ``save`` runs ``meanwhile`` (what another
    process does during an outage) and then fails as if Redis had gone: the interleaving is
    fixed, so the test does not race the retry."""

    def __init__(self, store: RedisTokenStore, meanwhile: Callable[[], Any]) -> None:
        self._store = store
        self._meanwhile = meanwhile
        self.saves = 0

    async def save(self, creator: str, tokens: TokenSet, **kwargs: Any) -> int:
        self.saves += 1
        if self.saves == 1:
            await self._meanwhile()
            raise StoreUnavailable("Redis is unavailable (ConnectionError)")
        return await self._store.save(creator, tokens, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)


@pytest.mark.anyio
async def test_a_held_set_replaces_another_workers_response_lost_mark(redis_url: str) -> None:
    store = RedisTokenStore.from_url(redis_url, Setup("", "", os.urandom(32)).keyring())
    try:
        old = await store.save("creator-1", FRESH, expected_generation=0)

        async def declare_lost() -> None:  # another worker, past the grace window
            await store.mark_reauthorization_required(
                "creator-1", reason="refresh_response_lost", now=1.0, expected_generation=old
            )

        flaky = FlakyFirstSave(store, declare_lost)
        held = HeldCommits(flaky, Metrics(), first_delay=0.01)
        rotated = TokenSet("eyJrotated.access.x", 2_000_000_000.0, "ory_rt_rotated")
        await held.save_or_hold("creator-1", rotated, expected_generation=old, keepalive_at=9.0)
        assert held.get("creator-1") == rotated  # served from memory meanwhile
        await held.settled("creator-1")
        stored = await store.load("creator-1")
        assert stored is not None
        assert stored.tokens == rotated
        assert stored.generation == old + 2  # the mark, then the held set over it
        assert await store.reauthorization_mark("creator-1") is None
        assert held.get("creator-1") is None
    finally:
        await store.aclose()


@pytest.mark.anyio
async def test_a_held_set_never_overwrites_a_newer_chain(redis_url: str) -> None:
    store = RedisTokenStore.from_url(redis_url, Setup("", "", os.urandom(32)).keyring())
    newer = TokenSet("eyJnewer.access.x", 2_000_000_000.0, "ory_rt_newer_chain")
    try:
        old = await store.save("creator-1", FRESH, expected_generation=0)

        async def new_exchange() -> None:  # the creator opened the app: a new chain
            await store.save("creator-1", newer, expected_generation=old)

        held = HeldCommits(FlakyFirstSave(store, new_exchange), Metrics(), first_delay=0.01)
        rotated = TokenSet("eyJrotated.access.x", 2_000_000_000.0, "ory_rt_rotated")
        await held.save_or_hold("creator-1", rotated, expected_generation=old, keepalive_at=9.0)
        await held.settled("creator-1")
        stored = await store.load("creator-1")
        assert stored is not None
        assert stored.tokens == newer
        with pytest.raises(GenerationConflict):  # and a direct save still conflicts as usual
            await held.save_or_hold("creator-1", rotated, expected_generation=old, keepalive_at=9)
    finally:
        await store.aclose()


@pytest.mark.anyio
async def test_a_lock_whose_release_failed_is_released_once_redis_is_back(tmp_path: Path) -> None:
    port = free_port()
    with run_redis_server(appendonly=True, port=port, directory=str(tmp_path)) as (url, proc):
        store: TokenStore = RedisTokenStore.from_url(url, Setup("", "", os.urandom(32)).keyring())
        try:
            lock = store.lock("creator-1", ttl=120.0)  # far longer than this test waits
            assert await lock.acquire(blocking=False)
            proc.terminate()
            proc.wait(10)
            held = HeldCommits(store, Metrics(), first_delay=0.05)
            await held.release(lock)  # Redis is down: no error, retried in the background
            assert lock.owned
            with run_redis_server(appendonly=True, port=port, directory=str(tmp_path)):
                client = sync_client(url)
                try:
                    assert client.exists("fve:{creator-1}:l")  # survived the restart
                    await wait_until(lambda: not lock.owned, "the retried release")
                    assert not client.exists("fve:{creator-1}:l")  # released, not expired
                finally:
                    client.close()
        finally:
            await store.aclose()


STALL_TIMEOUT = 1.0
"""The store's socket timeout in the stall test (the default is 5 s)."""


@pytest.mark.slow
@pytest.mark.anyio
async def test_a_stalled_redis_fails_fast_and_the_refreshes_in_flight_are_held(
    emulator: EmulatorHandle,
) -> None:
    # A paused redis-server (SIGSTOP) keeps its sockets open and answers nothing, as a server
    # behind a network that drops packets does: without a socket timeout every command to it
    # would wait forever. The refreshes in flight rotate at Fanvue meanwhile: their commits
    # must fail fast, be held, and land once Redis answers again.
    for handle in HANDLES[1:]:
        emulator.control("POST", "/creators", json={"handle": handle, "consent": True})
    with run_redis_server() as (url, proc):
        setup = Setup(url, emulator.base_url, os.urandom(32))
        creators = [await seed(setup, emulator, handle) for handle in HANDLES]
        before = generations(url, creators)
        emulator.control("DELETE", "/counters")
        emulator.faults(latency_ms={"token": 2000})  # the emulator rotates after 2 s
        store = RedisTokenStore.from_url(url, setup.keyring(), socket_timeout=STALL_TIMEOUT)
        try:
            async with open_manager(setup, time.time, store=store) as manager:
                refreshes = [
                    asyncio.ensure_future(manager.refresh(creator, force=True))
                    for creator in creators
                ]
                await wait_until(
                    lambda: emulator.counters()["refresh_requests"] == len(creators), "in flight"
                )
                os.kill(proc.pid, signal.SIGSTOP)
                try:
                    # wait_for only turns a hang (the bug) into a failure; it times nothing.
                    outcomes = await asyncio.wait_for(asyncio.gather(*refreshes), 60)
                    assert outcomes == [RefreshOutcome.REFRESHED] * len(creators)
                    assert emulator.counters()["rotations"] == len(creators)
                    with pytest.raises(StoreUnavailable):
                        await asyncio.wait_for(store.generation(creators[0]), 60)
                    # Redis is stalled, yet the API works for every creator: the held sets.
                    emulator.faults(latency_ms={"token": 0})
                    for creator in creators:
                        user = await manager.client(creator).get_current_user()
                        assert user.uuid == creator
                finally:
                    os.kill(proc.pid, signal.SIGCONT)

                after = [generation + 1 for generation in before]
                await wait_until(lambda: generations(url, creators) == after, "the held commits")
                for creator in creators:
                    assert await manager.store.reauthorization_mark(creator) is None
                    assert await manager.refresh(creator, force=True) is RefreshOutcome.REFRESHED
        finally:
            await store.aclose()
    counters = emulator.counters()
    assert counters["chain_breaks"] == 0
    assert counters["rotations"] == 2 * len(creators)
    assert counters["grace_reuses"] == 0
