"""The keepalive worker: due creators refreshed, others untouched, copies never double up."""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from fanvue_embedded._devdefaults import (
    DEV_CLIENT_ID,
    DEV_CLIENT_SECRET,
    DEV_ENCRYPTION_KEY,
    DEV_REDIRECT_URI,
    DEV_SESSION_SECRET,
)
from fanvue_embedded.config import parse_encryption_keys
from fanvue_embedded.crypto import Keyring
from fanvue_embedded.store import RedisTokenStore
from fanvue_embedded.tokens import TokenManager
from fanvue_embedded.worker import KeepaliveWorker, SweepResult
from tests.support.emulator import EmulatorHandle
from tests.support.storm import OffsetClock, Setup, authorize, collect, open_manager, sweep_once

pytestmark = pytest.mark.both_topologies

DAY = 24 * 3600.0
LATER = 4 * DAY  # past the default 3-day keepalive interval of a fresh exchange


@pytest.fixture
def setup(redis_url: str, emulator: EmulatorHandle) -> Setup:
    return Setup(redis_url, emulator.base_url, os.urandom(32))


def add_creators(emulator: EmulatorHandle, count: int) -> list[str]:
    handles = [f"creator-{index}" for index in range(count)]
    for handle in handles:
        emulator.control("POST", "/creators", json={"handle": handle, "consent": True})
    return handles


async def seed_all(setup: Setup, emulator: EmulatorHandle, handles: list[str]) -> list[str]:
    store = RedisTokenStore.from_url(setup.redis_url, setup.keyring())
    try:
        return [
            await authorize(setup.emulator_url, store, emulator.session_token(handle))
            for handle in handles
        ]
    finally:
        await store.aclose()


class Stack:
    def __init__(self, store: RedisTokenStore, manager: TokenManager, clock: OffsetClock):
        self.store, self.manager, self.clock = store, manager, clock

    def worker(self, **options: Any) -> KeepaliveWorker:
        return KeepaliveWorker(self.manager, self.store, clock=self.clock, **options)


@pytest.fixture
async def stack(setup: Setup) -> AsyncIterator[Stack]:
    clock = OffsetClock(LATER)
    store = RedisTokenStore.from_url(setup.redis_url, setup.keyring(), clock=clock)
    try:
        async with open_manager(setup, clock, store=store) as manager:
            yield Stack(store, manager, clock)
    finally:
        await store.aclose()


@pytest.mark.anyio
async def test_due_creators_are_refreshed_and_others_untouched(
    setup: Setup, emulator: EmulatorHandle, stack: Stack
) -> None:
    due, idle = await seed_all(setup, emulator, ["luna.rivers", *add_creators(emulator, 1)])
    await stack.store.reschedule_keepalive(idle, stack.clock() + 30 * DAY)
    idle_before = await stack.store.load(idle)
    due_before = await stack.store.load(due)
    emulator.control("DELETE", "/counters")

    result = await stack.worker().sweep()

    assert result == SweepResult(
        due=1, refreshed=1, already_fresh=0, reauthorization=0, transient=0
    )
    assert await stack.store.load(idle) == idle_before
    due_after = await stack.store.load(due)
    assert due_after is not None
    assert due_before is not None
    assert due_after.tokens.refresh_token != due_before.tokens.refresh_token
    # Rescheduled one keepalive interval on: nothing is due now.
    assert await stack.store.due_for_keepalive(stack.clock(), 10) == []
    assert emulator.counters()["rotations"] == 1
    assert await stack.worker().sweep() == SweepResult(0, 0, 0, 0, 0)


@pytest.mark.anyio
async def test_transient_failure_is_rescheduled_with_backoff(
    setup: Setup, emulator: EmulatorHandle, stack: Stack
) -> None:
    (creator,) = await seed_all(setup, emulator, ["luna.rivers"])
    before = await stack.store.load(creator)
    emulator.control("DELETE", "/counters")
    emulator.faults(fail_next={"token": 1})
    worker = stack.worker(retry_delay=600.0)

    now = stack.clock()
    result = await worker.sweep(now)
    assert (result.due, result.transient, result.refreshed) == (1, 1, 0)
    assert await stack.store.load(creator) == before
    # Not due again at once (no hot loop), but due once the backoff (600 s +-25 %) is over.
    assert await stack.store.due_for_keepalive(now, 10) == []
    assert await stack.store.due_for_keepalive(now + 400.0, 10) == []
    assert await stack.store.due_for_keepalive(now + 800.0, 10) == [creator]

    result = await worker.sweep(now + 800.0)
    assert (result.due, result.refreshed) == (1, 1)
    assert emulator.counters()["rotations"] == 1


@pytest.mark.anyio
async def test_dead_chain_is_dropped_from_the_schedule(
    setup: Setup, emulator: EmulatorHandle, stack: Stack
) -> None:
    (creator,) = await seed_all(setup, emulator, ["luna.rivers"])
    emulator.control("DELETE", f"/creators/{creator}/consent")
    result = await stack.worker().sweep()
    assert (result.due, result.reauthorization) == (1, 1)
    assert await stack.store.load(creator) is None
    assert await stack.store.due_for_keepalive(stack.clock() + 365 * DAY, 10) == []


@pytest.mark.anyio
async def test_run_forever_sweeps_until_stopped(
    setup: Setup, emulator: EmulatorHandle, stack: Stack
) -> None:
    (creator,) = await seed_all(setup, emulator, ["luna.rivers"])
    stop = asyncio.Event()
    pauses: list[float] = []

    async def sleep(seconds: float) -> None:
        pauses.append(seconds)
        if len(pauses) == 3:
            stop.set()
        await asyncio.sleep(0)

    await stack.worker(interval=10.0, sleep=sleep).run_forever(stop)
    assert len(pauses) == 3
    assert all(8.0 <= pause <= 12.0 for pause in pauses)  # interval with +-20 % jitter
    assert emulator.counters()["rotations"] == 1  # due once, then rescheduled days ahead
    assert await stack.store.due_for_keepalive(stack.clock(), 10) == []
    assert await stack.store.load(creator) is not None


def test_two_worker_processes_refresh_each_due_creator_once(
    setup: Setup, emulator: EmulatorHandle
) -> None:
    creators = asyncio.run(seed_all(setup, emulator, add_creators(emulator, 12)))
    emulator.control("DELETE", "/counters")

    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(2)
    report = context.Queue()
    processes = [
        context.Process(target=sweep_once, args=(setup, LATER, barrier, report)) for _ in range(2)
    ]
    for process in processes:
        process.start()
    results = [SweepResult(**fields) for fields in collect(report, processes)]

    assert sum(result.refreshed for result in results) == len(creators)
    assert all(result.transient == result.reauthorization == 0 for result in results)
    counters = emulator.counters()
    assert counters["rotations"] == len(creators)
    assert counters["refresh_requests"] == len(creators)
    assert counters["chain_breaks"] == 0


def test_run_worker_refreshes_due_creators_and_stops_on_sigterm(
    redis_url: str, emulator: EmulatorHandle, tmp_path: Path
) -> None:
    keys = DEV_ENCRYPTION_KEY
    keyring = Keyring(parse_encryption_keys(keys))
    creator = asyncio.run(seed_as_of_yesterday(redis_url, emulator, keyring))
    emulator.control("DELETE", "/counters")
    env = {
        **os.environ,
        "FANVUE_EMBEDDED_MODE": "development",
        "OAUTH_CLIENT_ID": DEV_CLIENT_ID,
        "OAUTH_CLIENT_SECRET": DEV_CLIENT_SECRET,
        "OAUTH_REDIRECT_URI": DEV_REDIRECT_URI,
        "SESSION_SECRET": DEV_SESSION_SECRET,
        "OAUTH_ISSUER_BASE_URL": emulator.base_url,
        "API_BASE_URL": emulator.base_url,
        "FANVUE_PLATFORM_URL": emulator.base_url,
        "REDIS_URL": redis_url,
        "TOKEN_ENCRYPTION_KEYS": keys,
    }
    program = (
        "import asyncio, logging\n"
        "from fanvue_embedded.config import Settings\n"
        "from fanvue_embedded.worker import run_worker\n"
        "logging.basicConfig(level=logging.INFO)\n"
        "asyncio.run(run_worker(Settings.from_env()))\n"
    )
    with open(tmp_path / "worker.log", "wb") as log:
        process = subprocess.Popen([sys.executable, "-c", program], env=env, stdout=log, stderr=log)
        try:
            deadline = time.monotonic() + 60
            while emulator.counters()["rotations"] < 1:
                assert process.poll() is None, (tmp_path / "worker.log").read_text()
                assert time.monotonic() < deadline, "the worker never refreshed"
                time.sleep(0.1)
            process.send_signal(signal.SIGTERM)
            assert process.wait(timeout=30) == 0
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
    assert "keepalive worker stopped" in (tmp_path / "worker.log").read_text()
    assert emulator.counters()["rotations"] == 1
    assert emulator.counters()["chain_breaks"] == 0
    assert asyncio.run(scheduled_days_ahead(redis_url, keyring, creator))


async def scheduled_days_ahead(redis_url: str, keyring: Keyring, creator: str) -> bool:
    store = RedisTokenStore.from_url(redis_url, keyring)
    try:
        return await store.due_for_keepalive(time.time() + DAY, 10) == []
    finally:
        await store.aclose()


async def seed_as_of_yesterday(redis_url: str, emulator: EmulatorHandle, keyring: Keyring) -> str:
    """Tokens written a day ago (so not just refreshed) and due now."""
    yesterday = OffsetClock(-DAY)
    store = RedisTokenStore.from_url(redis_url, keyring, clock=yesterday)
    try:
        creator = await authorize(emulator.base_url, store, emulator.session_token(), yesterday)
        await store.reschedule_keepalive(creator, time.time() - 1)
    finally:
        await store.aclose()
    return creator
