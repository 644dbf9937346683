"""The in-process token cache across OS processes: what one process decides, all apply.

Each child process is an app process: it holds the creator's set in memory and serves it
without Redis. When the test (another process) revokes the creator, marks it for
re-authorization or commits a newer set, every child must stop serving the old token; the time
that takes is measured and printed with the run's figures (not asserted: the bound is the
design, pub/sub delivery, or 3 missed pings on a silent partition). A process that lost its
Redis connection must serve nothing stale once it is back, even if it missed messages.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import time
from multiprocessing.synchronize import Barrier, Event
from pathlib import Path
from typing import Any

import pytest

from fanvue_embedded.errors import ReauthorizationRequired, StoreUnavailable
from fanvue_embedded.models import TokenSet
from fanvue_embedded.store import RedisTokenStore
from fanvue_embedded.tokens import fingerprint
from tests.support.emulator import EmulatorHandle
from tests.support.figures import report
from tests.support.redis_server import run_redis_server
from tests.support.redis_topology import sync_client
from tests.support.servers import free_port
from tests.support.storm import BARRIER_TIMEOUT, Report, Setup, _run, collect, open_manager, stop

pytestmark = pytest.mark.both_topologies

PROCESSES = 4
CREATOR = "cache-creator-1"
LATENCIES: dict[str, list[float]] = {}


def token_set(n: int) -> TokenSet:
    return TokenSet(
        access_token=f"eyJhbGciOiJSUzI1NiJ9.cached-access-{n}.sig",
        expires_at=time.time() + 3600,
        refresh_token=f"ory_rt_cached-refresh-{n}",
        scopes=frozenset({"read:self"}),
    )


# --- child processes ----------------------------------------------------------------------------


def watch(setup: Setup, barrier: Barrier, report_to: Report) -> None:
    """Serve the creator from memory, meet the test at the barrier, then note when the old
    token stops being served and what ``access_token`` answers after that."""
    _run(report_to, _watch(setup, barrier))


async def _watch(setup: Setup, barrier: Barrier) -> dict[str, Any]:
    async with open_manager(setup, time.time) as manager:
        old = await manager.access_token(CREATOR)
        while (held := manager.store.cached(CREATOR)) is None:  # until the channel is live
            await asyncio.sleep(0.01)
            await manager.access_token(CREATOR)
        served_from_memory = held.tokens.access_token == old
        barrier.wait(BARRIER_TIMEOUT)  # the test acts right after this
        deadline = time.monotonic() + 30
        while (held := manager.store.cached(CREATOR)) is not None and (
            held.tokens.access_token == old
        ):
            if time.monotonic() > deadline:
                raise AssertionError("the old token was still served after 30 s")
            await asyncio.sleep(0.0002)
        stopped_at = time.monotonic()
        try:
            after = fingerprint(await manager.access_token(CREATOR))
        except ReauthorizationRequired as exc:
            after = f"reauthorization:{exc.reason}"
    return {
        "served_from_memory": served_from_memory,
        "old": fingerprint(old),
        "stopped_at": stopped_at,
        "after": after,
    }


def hold_through_outage(setup: Setup, ready: Event, check: Event, report_to: Report) -> None:
    """Hold the creator's set in memory, then (when told) ask for the token again."""
    _run(report_to, _hold_through_outage(setup, ready, check))


async def _hold_through_outage(setup: Setup, ready: Event, check: Event) -> dict[str, Any]:
    async with open_manager(setup, time.time) as manager:
        store = manager.store
        assert isinstance(store, RedisTokenStore)
        old = await manager.access_token(CREATOR)
        while store.cached(CREATOR) is None:
            await asyncio.sleep(0.01)
            await manager.access_token(CREATOR)
        ready.set()
        served_during_outage = 0
        was_live, went_dark = True, False
        while not check.is_set():  # the loop keeps running: the listener sees the outage
            live = store.cache_live
            went_dark = went_dark or (was_live and not live)
            was_live = live
            if not live and store.cached(CREATOR) is not None:
                served_during_outage += 1
            await asyncio.sleep(0.005)
        after, unavailable = "", 0
        while not after:
            try:
                after = fingerprint(await manager.access_token(CREATOR))
            except ReauthorizationRequired as exc:
                after = f"reauthorization:{exc.reason}"
            except StoreUnavailable:  # a pooled connection from before the restart
                unavailable += 1
                assert unavailable < 100, "Redis never answered again"
                await asyncio.sleep(0.05)
    return {
        "old": fingerprint(old),
        "after": after,
        "went_dark": went_dark,
        "served_during_outage": served_during_outage,
    }


# --- the tests ----------------------------------------------------------------------------------


async def _act(setup: Setup, action: str, barrier: Barrier) -> tuple[float, TokenSet | None]:
    """Meet the children at the barrier with a warm store, then act; returns when it acted."""
    store = RedisTokenStore.from_url(setup.redis_url, setup.keyring(), cache=False)
    try:
        await store.generation(CREATOR)  # connected (every node of a Cluster) before timing
        await store.reencrypt(CREATOR)
        barrier.wait(BARRIER_TIMEOUT)
        return time.monotonic(), await _write(store, action)
    finally:
        await store.aclose()


async def _write(store: RedisTokenStore, action: str) -> TokenSet | None:
    if action == "revoke":  # `fanvue-embedded tokens revoke`
        assert await store.delete(CREATOR)
        return None
    if action == "mark":  # what the coordinator does on invalid_grant
        assert await store.mark_reauthorization_required(
            CREATOR, reason="invalid_grant", now=time.time(), expected_generation=None
        )
        return None
    newer = token_set(2)  # a commit of a new set (another process refreshed)
    await store.save(CREATOR, newer, expected_generation=None)
    return newer


async def _seed(setup: Setup) -> None:
    store = RedisTokenStore.from_url(setup.redis_url, setup.keyring(), cache=False)
    try:
        await store.save(CREATOR, token_set(1), expected_generation=None)
    finally:
        await store.aclose()


@pytest.mark.slow
@pytest.mark.parametrize("action", ["revoke", "mark", "commit"])
def test_every_process_stops_serving_what_one_process_invalidated(
    redis_url: str, emulator: EmulatorHandle, action: str
) -> None:
    setup = Setup(redis_url, emulator.base_url, os.urandom(32))
    asyncio.run(_seed(setup))
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(PROCESSES + 1)
    queue = context.Queue()
    children = [
        context.Process(target=watch, args=(setup, barrier, queue)) for _ in range(PROCESSES)
    ]
    for child in children:
        child.start()
    try:
        acted_at, newer = asyncio.run(_act(setup, action, barrier))
    except BaseException:
        barrier.abort()
        stop(children)
        raise
    results = collect(queue, children)
    assert [child.exitcode for child in children] == [0] * PROCESSES
    for result in results:
        assert result["served_from_memory"]
        assert result["stopped_at"] >= acted_at
        if newer is None:
            expected = "reauthorization:" + (
                "invalid_grant" if action == "mark" else "not_authorized"
            )
            assert result["after"] == expected
        else:
            assert result["after"] == fingerprint(newer.access_token)
    topology = "cluster" if "cluster" in redis_url else "redis"
    samples = LATENCIES.setdefault(topology, [])
    samples += [result["stopped_at"] - acted_at for result in results]
    if action == "commit":  # the last of the three: one figure per topology
        report(f"invalidation latency, {PROCESSES} processes, {topology}", samples)


@pytest.mark.slow
def test_a_process_that_lost_redis_serves_nothing_stale_after_reconnecting(
    emulator: EmulatorHandle, tmp_path: Path
) -> None:
    port = free_port()
    data = tmp_path / "redis"
    data.mkdir()
    context = multiprocessing.get_context("spawn")
    ready, check = context.Event(), context.Event()
    queue = context.Queue()
    with run_redis_server(appendonly=True, port=port, directory=str(data)) as (url, proc):
        setup = Setup(url, emulator.base_url, os.urandom(32))
        asyncio.run(_seed(setup))
        child = context.Process(target=hold_through_outage, args=(setup, ready, check, queue))
        child.start()
        try:
            assert ready.wait(60)
            proc.terminate()  # Redis goes away under the child...
            proc.wait(10)
            time.sleep(0.5)
        except BaseException:
            stop([child])
            raise
    try:
        # ...and comes back on the same port, with the data (AOF). While the child was cut
        # off, the creator was revoked and nothing told it (a lost message: no PUBLISH).
        with run_redis_server(appendonly=True, port=port, directory=str(data)) as (url, _):
            client = sync_client(url)
            try:
                assert client.delete(f"fve:{{{CREATOR}}}:t") == 1
            finally:
                client.close()
            time.sleep(0.5)
            check.set()
            [result] = collect(queue, [child])
    finally:
        stop([child])
    assert child.exitcode == 0
    assert result["went_dark"], "the child never noticed the outage"
    assert result["served_during_outage"] == 0
    assert result["after"] == "reauthorization:not_authorized"  # not the old token
