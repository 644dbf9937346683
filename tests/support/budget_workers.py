"""Entry points for the multi-process rate-budget tests and benchmark (``spawn`` children)."""

from __future__ import annotations

import asyncio
import json
import time
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Barrier

from fanvue_embedded._redis import redis_from_url
from fanvue_embedded.budget import RedisRateBudget
from fanvue_embedded.client import FanvueClient
from fanvue_embedded.errors import FanvueError


def call_through_budget(
    redis_url: str,
    api_base_url: str,
    token: str,
    user: str,
    paths: list[str],
    limit: int,
    window: float,
    concurrency: int,
    barrier: Barrier,
    results: Queue[str],
) -> None:
    """GET each of ``paths`` through a Redis budget shared with the other processes (none when
    ``limit`` is 0: the naive baseline), once every process is ready; report ``{"ok",
    "failed", "rate_limited", "errors", "started", "finished"}`` (wall-clock times) as JSON."""
    barrier.wait(timeout=60)
    results.put(
        json.dumps(
            asyncio.run(
                _calls(redis_url, api_base_url, token, user, paths, limit, window, concurrency)
            )
        )
    )


async def _calls(
    redis_url: str,
    api_base_url: str,
    token: str,
    user: str,
    paths: list[str],
    limit: int,
    window: float,
    concurrency: int,
) -> dict[str, object]:
    budget = None
    if limit > 0:
        budget = RedisRateBudget(
            redis_from_url(redis_url), limit=limit, window=window, max_wait=120, close_client=True
        )
    queue: asyncio.Queue[str] = asyncio.Queue()
    for path in paths:
        queue.put_nowait(path)
    ok, rate_limited, errors = 0, 0, []
    started = time.time()
    # The client's own 429 retry is off: a 429 must surface here, not be waited out.
    async with FanvueClient(
        token, api_base_url=api_base_url, budget=budget, acting_for=user, rate_limit_retries=0
    ) as api:

        async def worker() -> None:
            nonlocal ok, rate_limited
            while not queue.empty():
                path = queue.get_nowait()
                try:
                    await api.get(path)
                except FanvueError as exc:
                    rate_limited += exc.code == "rate_limited"
                    errors.append(f"{type(exc).__name__}: {exc}")
                else:
                    ok += 1

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    finished = time.time()
    if budget is not None:
        await budget.aclose()
    return {
        "ok": ok,
        "failed": len(errors),
        "rate_limited": rate_limited,
        "errors": errors[:5],
        "started": started,
        "finished": finished,
    }
