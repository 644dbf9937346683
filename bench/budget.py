"""9. The shared rate-limit budget: 4 processes x 500 calls for one creator, no 429.

Four OS processes share one Redis budget and call ``GET /users/me`` for the same creator (one
Fanvue bucket), 4 calls in flight each, against the emulator scaled down to ``LIMIT`` requests
per ``WINDOW`` seconds (Fanvue's 200 / 60 s takes 10 minutes for 2,000 calls). Figures: the
429s the emulator served (goal 0) and the achieved rate — calls / (last answer - first send)
— against the limit's ``LIMIT / WINDOW`` (goal >= 0.95x). A fixed window lets the last
window's calls go at once, so a perfect client slightly beats 1.0x. The naive baseline is the
same processes without a budget (the client's 429 retry off), briefly: its 429 count shows
what the budget prevents.
"""

from __future__ import annotations

import asyncio
import json
import math
import multiprocessing
from typing import Any

from fanvue_embedded._redis import redis_from_url
from fanvue_embedded.budget import Bucket, RedisRateBudget
from tests.support import budget_workers

from .common import BenchEnv, Section
from .paging import _access_token

PROCESSES = 4
CALLS = 500
IN_FLIGHT = 4
LIMIT = 100
WINDOW = 5
NAIVE_CALLS = 60
GOAL_RATIO = 0.95


def _run_processes(
    env: BenchEnv, token: str, user: str, calls: int, limit: int
) -> list[dict[str, Any]]:
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(PROCESSES)
    results = context.Queue()
    processes = [
        context.Process(
            target=budget_workers.call_through_budget,
            args=(
                env.redis_url,
                env.emulator.base_url,
                token,
                user,
                ["/users/me"] * calls,
                limit,
                WINDOW,
                IN_FLIGHT,
                barrier,
                results,
            ),
        )
        for _ in range(PROCESSES)
    ]
    for process in processes:
        process.start()
    outcomes = [json.loads(results.get(True, 600)) for _ in processes]
    for process in processes:
        process.join(60)
    return outcomes


async def _forget_bucket(env: BenchEnv, user: str) -> None:
    """Drop this creator's bucket left by an earlier benchmark: it was kept with another
    window and limit (the throughput benchmark's app), a configuration these processes do
    not share, so it is not the budget under test."""
    redis = redis_from_url(env.redis_url)
    try:
        await redis.delete(RedisRateBudget(redis).key(Bucket(user)))
    finally:
        await redis.aclose()


async def run(env: BenchEnv) -> Section:
    calls = 50 if env.quick else CALLS
    emulator = env.emulator
    previous = emulator.control("GET", "/settings")
    user = emulator.creator_uuid("luna.rivers")
    token = await _access_token(env)
    try:
        # Naive first, in a window of its own; then the budget on fresh windows.
        emulator.settings(rate_limit=LIMIT, rate_window=WINDOW)
        emulator.control("DELETE", "/counters")
        naive = await asyncio.to_thread(_run_processes, env, token, user, NAIVE_CALLS, 0)
        naive_429 = int(emulator.counters()["rate_limited"])
        await asyncio.sleep(WINDOW + 1)  # let the naive run's window end
        await _forget_bucket(env, user)
        emulator.control("DELETE", "/counters")
        outcomes = await asyncio.to_thread(_run_processes, env, token, user, calls, LIMIT)
        served_429 = int(emulator.counters()["rate_limited"])
    finally:
        emulator.settings(rate_limit=previous["rate_limit"], rate_window=previous["rate_window"])
    done = sum(int(outcome["ok"]) for outcome in outcomes)
    failed = sum(int(outcome["failed"]) for outcome in outcomes)
    total = PROCESSES * calls
    elapsed = max(o["finished"] for o in outcomes) - min(o["started"] for o in outcomes)
    limit_rate = LIMIT / WINDOW
    rate = done / elapsed
    ratio = rate / limit_rate
    # The fewest windows the calls can take, and the least time: all but the last are full.
    windows = math.ceil(total / LIMIT)
    floor_seconds = (windows - 1) * WINDOW
    met = served_429 == 0 and failed == 0 and done == total and ratio >= GOAL_RATIO
    naive_done = sum(int(outcome["ok"]) for outcome in naive)
    return Section(
        key="budget",
        title=f"9. Rate-limit budget ({PROCESSES} processes x {calls} calls, one creator)",
        goal=f"0 responses with status 429, achieved rate ≥ {GOAL_RATIO:.2f}x the limit",
        met=met,
        headline=f"{served_429} 429s, {ratio:.3f}x the limit ({rate:.1f} calls/s)",
        rows=[
            ("emulator limit", f"{LIMIT} requests per {WINDOW} s ({limit_rate:.0f}/s), one bucket"),
            ("calls completed / attempted", f"{done} / {total} ({failed} failed)"),
            ("429 responses served by the emulator", str(served_429)),
            ("achieved rate / limit", f"{ratio:.3f}x ({rate:.2f} calls/s over {elapsed:.1f} s)"),
            (
                "elapsed / the fixed-window floor",
                f"{elapsed:.1f} s / {floor_seconds:.0f} s ({windows} windows of {LIMIT})",
            ),
            (
                f"naive: {PROCESSES} x {NAIVE_CALLS} calls, no budget, client 429 retry off",
                f"{naive_429} 429s, {naive_done} of {PROCESSES * NAIVE_CALLS} calls served",
            ),
        ],
        notes=[
            f"Each process keeps {IN_FLIGHT} calls in flight; the budget is one Redis hash per "
            "bucket, taken with one Lua call before each request and re-synced with another "
            "from each response's X-RateLimit-* headers.",
            "Rate = calls / (last answer - first send), over all processes (wall clock, one "
            "machine). The limit's rate is LIMIT / WINDOW; a fixed window lets the last "
            "window's calls go at once, so a perfect client ends slightly above 1.0x.",
        ],
    )
