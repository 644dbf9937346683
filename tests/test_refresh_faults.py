"""Refresh under faults: lost responses, a killed worker, Redis restarts, upstream errors.

Every test runs the real coordinator against the emulator over a socket and a real Redis;
the multi-process ones use ``spawn`` children from ``tests/support/storm.py``. The emulator's
counters are the referee: a chain break is what must never happen short of a dead grant.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fanvue_embedded._devdefaults import DEV_CLIENT_SECRET
from fanvue_embedded.errors import (
    ClientAuthenticationError,
    ReauthorizationRequired,
    TransientError,
    UpstreamServerError,
    UpstreamUnavailable,
)
from fanvue_embedded.models import TokenSet
from fanvue_embedded.store import RedisTokenStore
from fanvue_embedded.tokens import RefreshOutcome
from tests.support.emulator import EmulatorHandle
from tests.support.redis_cluster import run_redis_cluster
from tests.support.redis_server import run_redis_server
from tests.support.redis_topology import sync_client
from tests.support.servers import free_port
from tests.support.storm import (
    BARRIER_TIMEOUT,
    OffsetClock,
    Setup,
    collect,
    hold_refresh,
    open_manager,
    reauthorization_storm,
    seed,
    stop,
    storm,
)

pytestmark = pytest.mark.both_topologies

LUNA = "luna.rivers"


@pytest.fixture
def setup(redis_url: str, emulator: EmulatorHandle) -> Setup:
    return Setup(redis_url, emulator.base_url, os.urandom(32))


def with_(setup: Setup, **changes: Any) -> Setup:
    return Setup(**{**setup.__dict__, **changes})


def wait_for(condition: Any, what: str, timeout: float = 60.0) -> None:
    """Poll ``condition`` (a wait, not a timing assertion: the deadline only stops a hang)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.05)


@pytest.fixture
def spawn_context() -> Any:
    return multiprocessing.get_context("spawn")


# --- (a) the refresh response is lost ---------------------------------------------------------


@pytest.mark.anyio
@pytest.mark.parametrize("rotation_mode", ["replay", "new-pair"])
async def test_lost_response_is_re_presented_inside_the_grace_window(
    setup: Setup, emulator: EmulatorHandle, rotation_mode: str
) -> None:
    emulator.settings(rotation_mode=rotation_mode)
    creator = await seed(setup, emulator)
    emulator.control("DELETE", "/counters")
    emulator.faults(drop_after_rotation=1)  # rotate, then never answer

    async with open_manager(with_(setup, http_timeout=1.5), time.time) as manager:
        before = await manager.store.load(creator)
        assert before is not None
        assert await manager.refresh(creator, force=True) is RefreshOutcome.REFRESHED
        after = await manager.store.load(creator)
        assert after is not None
        assert after.tokens.refresh_token != before.tokens.refresh_token
        assert after.generation == before.generation + 1
        assert await manager.store.refresh_attempt(creator) is None  # committed
        user = await manager.client(creator).get_current_user()
        assert user.uuid == creator

        counters = emulator.counters()
        assert counters["dropped_responses"] == 1
        assert counters["rotations"] == 1
        assert counters["grace_reuses"] == 1  # the re-presentation, answered
        assert counters["chain_breaks"] == 0

        # The stored token is a live member of the chain: the next refresh is a plain one.
        assert await manager.refresh(creator, force=True) is RefreshOutcome.REFRESHED
    counters = emulator.counters()
    assert counters["rotations"] == 2
    assert counters["grace_reuses"] == 1
    assert counters["chain_breaks"] == 0


# --- (b) a worker dies between rotation and commit --------------------------------------------


def test_killed_worker_is_taken_over_inside_the_grace_window(
    setup: Setup, emulator: EmulatorHandle, spawn_context: Any
) -> None:
    fast = with_(setup, lock_ttl=2.0, http_timeout=60.0)
    creator = asyncio.run(seed(fast, emulator))
    before = asyncio.run(load(fast, creator))
    emulator.control("DELETE", "/counters")
    emulator.faults(drop_after_rotation=1)  # the emulator rotates and holds the answer

    report = spawn_context.Queue()
    doomed = spawn_context.Process(target=hold_refresh, args=(fast, creator, report))
    doomed.start()
    try:
        wait_for(lambda: emulator.counters()["dropped_responses"] == 1, "the held rotation")
        doomed.kill()
        doomed.join(timeout=10)
    finally:
        stop([doomed])
    assert doomed.exitcode == -signal.SIGKILL

    # The token was presented and consumed, nothing was committed.
    assert emulator.counters()["rotations"] == 1
    assert asyncio.run(attempt(fast, creator)) is not None
    assert asyncio.run(load(fast, creator)).generation == before.generation

    # This process takes over once the dead worker's lock lapses, and re-presents the token.
    outcome, user_uuid, generation = asyncio.run(take_over(fast, creator))
    assert outcome is RefreshOutcome.REFRESHED
    assert user_uuid == creator
    assert generation == before.generation + 1
    counters = emulator.counters()
    assert counters["rotations"] == 2  # the held one, then a plain one from the new token
    assert counters["grace_reuses"] == 1
    assert counters["chain_breaks"] == 0


def test_no_re_presentation_once_the_grace_window_is_over(
    setup: Setup, emulator: EmulatorHandle, spawn_context: Any
) -> None:
    fast = with_(setup, lock_ttl=2.0, http_timeout=60.0)
    creator = asyncio.run(seed(fast, emulator))
    emulator.control("DELETE", "/counters")
    emulator.faults(drop_after_rotation=1)
    report = spawn_context.Queue()
    doomed = spawn_context.Process(target=hold_refresh, args=(fast, creator, report))
    doomed.start()
    try:
        wait_for(lambda: emulator.counters()["dropped_responses"] == 1, "the held rotation")
        doomed.kill()
    finally:
        stop([doomed])

    # Nobody took over for a minute (the clock says): presenting the consumed token now
    # would break the chain at Fanvue, so the coordinator gives up on it instead.
    reason = asyncio.run(take_over_late(fast, creator, late_by=60.0))
    assert reason == "refresh_response_lost"
    assert asyncio.run(reauthorization_mark(fast, creator)).reason == "refresh_response_lost"
    counters = emulator.counters()
    assert counters["refresh_requests"] == 1  # the old token was not presented again
    assert counters["chain_breaks"] == 0


async def take_over_late(setup: Setup, creator: str, late_by: float) -> str:
    async with open_manager(setup, OffsetClock(late_by)) as manager:
        with pytest.raises(ReauthorizationRequired) as caught:
            await manager.refresh(creator, force=True)
    return caught.value.reason


async def load(setup: Setup, creator: str) -> Any:
    async with open_manager(setup, time.time) as manager:
        return await manager.store.load(creator)


async def attempt(setup: Setup, creator: str) -> Any:
    async with open_manager(setup, time.time) as manager:
        return await manager.store.refresh_attempt(creator)


async def take_over(setup: Setup, creator: str) -> tuple[RefreshOutcome, str, int]:
    async with open_manager(setup, time.time) as manager:
        outcome = await manager.refresh(creator, force=True)
        user = await manager.client(creator).get_current_user()
        generation = await manager.store.generation(creator)
        # Prove the committed token is the chain's newest: one more refresh, no reuse.
        assert await manager.refresh(creator, force=True) is RefreshOutcome.REFRESHED
    return outcome, user.uuid, generation


# --- (c) Redis restarts with AOF on -----------------------------------------------------------


@contextlib.contextmanager
def redis_with_aof(topology: str, directory: Path, port: int) -> Iterator[str]:
    """Redis with AOF on, its data in ``directory``: starting it again restarts the same
    server (or, for ``cluster``, the same 3 masters with their slots)."""
    if topology == "cluster":
        with run_redis_cluster(3, appendonly=True, directory=directory) as url:
            yield url
    else:
        with run_redis_server(appendonly=True, port=port, directory=str(directory)) as (url, _):
            yield url


@pytest.mark.anyio
@pytest.mark.parametrize("topology", ["redis", "cluster"])
async def test_tokens_survive_a_redis_restart_with_aof(topology: str, tmp_path: Path) -> None:
    port = free_port()
    key = os.urandom(32)
    keyring_setup = Setup("", "", key)
    tokens = TokenSet(
        access_token="eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhIn0.c2ln",
        expires_at=2_000_000_000.0,
        refresh_token="ory_rt_restart-test",
        scopes=frozenset({"openid", "read:self"}),
    )
    with redis_with_aof(topology, tmp_path, port) as url:
        store = RedisTokenStore.from_url(url, keyring_setup.keyring())
        try:
            await store.save("creator-1", tokens, expected_generation=0)
            generation = await store.save(
                "creator-1", tokens, expected_generation=1, keepalive_at=1234.0
            )
            await store.record_refresh_attempt("creator-1", "fp-1", 99.0)
        finally:
            await store.aclose()

    with redis_with_aof(topology, tmp_path, port) as url:
        store = RedisTokenStore.from_url(url, keyring_setup.keyring())
        try:
            loaded = await store.load("creator-1")
            assert loaded is not None
            assert loaded.tokens == tokens
            assert loaded.generation == generation == 2
            recorded = await store.refresh_attempt("creator-1")
            assert recorded is not None
            assert (recorded.fingerprint, recorded.first_attempt_at) == ("fp-1", 99.0)
            assert await store.due_for_keepalive(1234.0, 10) == ["creator-1"]
            assert await store.due_for_keepalive(1233.0, 10) == []
        finally:
            await store.aclose()


# --- (d) the token endpoint fails -------------------------------------------------------------


@pytest.mark.anyio
async def test_server_error_keeps_tokens_and_the_next_call_succeeds(
    setup: Setup, emulator: EmulatorHandle
) -> None:
    creator = await seed(setup, emulator)
    emulator.control("DELETE", "/counters")
    emulator.faults(fail_next={"token": 1})
    async with open_manager(setup, time.time) as manager:
        before = await manager.store.load(creator)
        assert before is not None
        with pytest.raises(UpstreamServerError) as caught:
            await manager.access_token(creator, rejected=before.tokens.access_token)
        assert isinstance(caught.value, TransientError)
        kept = await manager.store.load(creator)
        assert kept == before
        assert await manager.store.refresh_attempt(creator) is None  # nothing was consumed

        token = await manager.access_token(creator, rejected=before.tokens.access_token)
        assert token != before.tokens.access_token
    counters = emulator.counters()
    assert counters["rotations"] == 1
    assert counters["chain_breaks"] == 0


@pytest.mark.anyio
async def test_timeouts_keep_tokens_and_a_later_call_recovers(
    setup: Setup, emulator: EmulatorHandle
) -> None:
    creator = await seed(setup, emulator)
    emulator.control("DELETE", "/counters")
    # The emulator sleeps before rotating; the client gives up first, every time.
    emulator.faults(latency_ms={"token": 2500})
    async with open_manager(with_(setup, http_timeout=0.8), time.time) as manager:
        before = await manager.store.load(creator)
        assert before is not None
        with pytest.raises(UpstreamUnavailable):
            await manager.refresh(creator, force=True)
        assert await manager.store.load(creator) == before
        # The token may have been consumed: the attempt stays on record for the grace check.
        assert await manager.store.refresh_attempt(creator) is not None

        emulator.faults(latency_ms={"token": 0})
        assert await manager.refresh(creator, force=True) is RefreshOutcome.REFRESHED
        assert await manager.client(creator).get_current_user()
    wait_for(lambda: emulator.counters()["refresh_requests"] >= 4, "the timed-out requests")
    counters = emulator.counters()
    assert counters["rotations"] == 1
    assert counters["chain_breaks"] == 0


@pytest.mark.anyio
async def test_unreachable_token_endpoint_keeps_tokens_and_clears_the_attempt(
    setup: Setup, emulator: EmulatorHandle
) -> None:
    creator = await seed(setup, emulator)
    nowhere = with_(setup, emulator_url=f"http://127.0.0.1:{free_port()}")
    async with open_manager(nowhere, time.time) as manager:
        before = await manager.store.load(creator)
        with pytest.raises(UpstreamUnavailable):
            await manager.refresh(creator, force=True)
        assert await manager.store.load(creator) == before
        # A connection that never opened consumed nothing: no attempt is left on record.
        assert await manager.store.refresh_attempt(creator) is None


# --- (e) Hydra rejects concurrent refreshes ---------------------------------------------------


def test_concurrent_refresh_rejection_is_retried_across_processes(
    setup: Setup, emulator: EmulatorHandle, spawn_context: Any
) -> None:
    processes_count, callers = 4, 10
    creator = asyncio.run(seed(setup, emulator))
    emulator.control("DELETE", "/counters")
    emulator.faults(reject_concurrent_refresh=True, reject_next_refresh=2)

    barrier = spawn_context.Barrier(processes_count + 1)
    report = spawn_context.Queue()
    processes = [
        spawn_context.Process(target=storm, args=(setup, creator, callers, 1, barrier, report))
        for _ in range(processes_count)
    ]
    for process in processes:
        process.start()
    try:
        barrier.wait(BARRIER_TIMEOUT)
        barrier.wait(BARRIER_TIMEOUT)
    except BaseException:
        barrier.abort()
        stop(processes)
        raise
    seen = collect(report, processes)
    assert len({tuple(rounds[0]) for rounds in seen}) == 1  # one token for all 40 callers
    counters = emulator.counters()
    assert counters["concurrent_rejections"] == 2
    assert counters["rotations"] == 1
    assert counters["chain_breaks"] == 0


# --- (f) wrong client credentials -------------------------------------------------------------


@pytest.mark.anyio
async def test_invalid_client_keeps_tokens(setup: Setup, emulator: EmulatorHandle) -> None:
    creator = await seed(setup, emulator)
    emulator.control("PATCH", "/app", json={"client_secret": "rotated-in-the-console"})
    async with open_manager(setup, time.time) as manager:
        before = await manager.store.load(creator)
        assert before is not None
        with pytest.raises(ClientAuthenticationError):
            await manager.refresh(creator, force=True)
        assert await manager.store.load(creator) == before
        assert await manager.store.reauthorization_mark(creator) is None
        assert await manager.store.refresh_attempt(creator) is None

        emulator.control("PATCH", "/app", json={"client_secret": DEV_CLIENT_SECRET})
        assert await manager.refresh(creator, force=True) is RefreshOutcome.REFRESHED
    assert emulator.counters()["chain_breaks"] == 0


# --- (g) consent revoked ----------------------------------------------------------------------


def test_revoked_consent_requires_reauthorization_once_across_processes(
    setup: Setup, emulator: EmulatorHandle, spawn_context: Any
) -> None:
    processes_count, callers = 4, 10
    creator = asyncio.run(seed(setup, emulator))
    emulator.control("DELETE", f"/creators/{creator}/consent")
    emulator.control("DELETE", "/counters")
    hook_counter = "test:reauthorization-hook-calls"

    barrier = spawn_context.Barrier(processes_count)
    report = spawn_context.Queue()
    processes = [
        spawn_context.Process(
            target=reauthorization_storm,
            args=(setup, creator, callers, hook_counter, barrier, report),
        )
        for _ in range(processes_count)
    ]
    for process in processes:
        process.start()
    outcomes = [outcome for result in collect(report, processes) for outcome in result]

    assert outcomes == ["reauthorization_required:invalid_grant"] * processes_count * callers
    client = sync_client(setup.redis_url)
    try:
        assert int(client.get(hook_counter) or 0) == 1
    finally:
        client.close()
    assert asyncio.run(load(setup, creator)) is None
    mark = asyncio.run(reauthorization_mark(setup, creator))
    assert mark is not None
    assert mark.reason == "invalid_grant"
    counters = emulator.counters()
    assert counters["refresh_requests"] == 1  # the dead grant was presented once, not 40 times
    assert counters["rotations"] == 0


async def reauthorization_mark(setup: Setup, creator: str) -> Any:
    async with open_manager(setup, time.time) as manager:
        return await manager.store.reauthorization_mark(creator)
