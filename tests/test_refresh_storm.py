"""The refresh storm: many processes x many coroutines at every expiry, one refresh each time.

8 OS processes, each with its own Redis store, OAuth client and ``TokenManager``, meet the
test at a barrier before every round; then each moves its injected clock one token lifetime
on (the stored access token is now expired everywhere) and 50 coroutines ask for the token at
once. After each round the test reads the emulator's counters: exactly one rotation per
expiry and no broken chain — first in Fanvue's *replay* rotation mode, then in plain Hydra's
*new-pair* mode — and every caller of a round got the same, new token.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import time

import pytest

from fanvue_embedded.tokens import RefreshOutcome
from tests.support.emulator import EmulatorHandle
from tests.support.storm import BARRIER_TIMEOUT, Setup, collect, open_manager, seed, stop, storm

pytestmark = pytest.mark.both_topologies

PROCESSES = 8
CALLERS = 50
ROUNDS_PER_MODE = 100
MODES = ("replay", "new-pair")


async def refresh_once(setup: Setup, creator: str) -> int:
    async with open_manager(setup, time.time) as manager:
        assert await manager.refresh(creator, force=True) is RefreshOutcome.REFRESHED
        return await manager.store.generation(creator)


@pytest.mark.slow
def test_one_refresh_per_expiry_across_processes(redis_url: str, emulator: EmulatorHandle) -> None:
    setup = Setup(redis_url, emulator.base_url, os.urandom(32))
    creator = asyncio.run(seed(setup, emulator))
    emulator.control("DELETE", "/counters")
    rounds = ROUNDS_PER_MODE * len(MODES)

    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(PROCESSES + 1)  # the test takes part, to look between rounds
    report = context.Queue()
    processes = [
        context.Process(target=storm, args=(setup, creator, CALLERS, rounds, barrier, report))
        for _ in range(PROCESSES)
    ]
    for process in processes:
        process.start()
    try:
        for number in range(1, rounds + 1):
            mode = MODES[(number - 1) // ROUNDS_PER_MODE]
            if (number - 1) % ROUNDS_PER_MODE == 0:
                emulator.settings(rotation_mode=mode)
            barrier.wait(BARRIER_TIMEOUT)  # round starts: every clock moves past the expiry
            barrier.wait(BARRIER_TIMEOUT)  # round over: all 400 callers have a token
            counters = emulator.counters()
            assert counters["rotations"] == number, f"round {number} ({mode})"
            assert counters["refresh_requests"] == number, f"round {number} ({mode})"
            assert counters["grace_reuses"] == 0
            assert counters["chain_breaks"] == 0
    except BaseException:
        barrier.abort()
        stop(processes)
        raise
    per_process = collect(report, processes)
    assert [p.exitcode for p in processes] == [0] * PROCESSES

    # Every caller of a round got the same token, and each round a new one.
    for number in range(rounds):
        fingerprints = {tuple(seen[number]) for seen in per_process}
        assert len(fingerprints) == 1, f"round {number + 1}: callers saw different tokens"
        assert len(next(iter(fingerprints))) == 1, f"round {number + 1}: several tokens"
    assert len({seen[number][0] for seen in per_process for number in range(rounds)}) == rounds

    # The newest refresh token is the one stored: presenting it is a plain rotation, not a
    # reuse; the generation counts the exchange, one commit per expiry, and this refresh.
    assert asyncio.run(refresh_once(setup, creator)) == rounds + 2
    after = emulator.counters()
    assert after["rotations"] == rounds + 1
    assert after["grace_reuses"] == 0
    assert after["chain_breaks"] == 0
