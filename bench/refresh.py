"""11. The refresh path: its cost next to one bare token POST, its Redis round trips, its rate.

Forced refreshes (``TokenManager.refresh(force=True)``, what the keepalive worker does) of one
creator alternate with bare refreshes of another chain: one ``POST /oauth2/token`` with plain
httpx, the floor any refresh pays. The coordinator adds its two store steps (begin, commit);
the Redis commands it sends are counted on the client (a script call counts once) and on the
server (``INFO commandstats``: every command, those inside scripts too). Then a rate: forced
refreshes per second from one process, 16 creators in parallel, for a few seconds.
"""

from __future__ import annotations

import asyncio
import time

import httpx

from fanvue_embedded._devdefaults import DEV_CLIENT_ID, DEV_CLIENT_SECRET
from fanvue_embedded._redis import close_redis, redis_from_url
from fanvue_embedded.oauth import client_secret_basic

from .common import (
    BenchEnv,
    CommandCounter,
    Section,
    add_emulator_creators,
    command_delta,
    exchange_creators,
    median,
    redis_command_calls,
    spread,
)

GOAL_RATIO = 1.2
PARALLEL = 16


async def run(env: BenchEnv) -> Section:
    trials, rate_seconds = (10, 1.0) if env.quick else (60, 5.0)
    env.emulator.settings(rate_limit=1_000_000)
    services = env.services()
    raw = redis_from_url(env.redis_url)
    try:
        handles = ["bench-refresh", "bench-refresh-bare"] + [
            f"bench-rate-{n:02d}" for n in range(PARALLEL)
        ]
        await add_emulator_creators(env.emulator, handles)
        creators = await exchange_creators(services, env.emulator, handles)
        ours, bare_creator, rate_creators = creators[0], creators[1], creators[2:]
        stored = await services.store.load(bare_creator)
        assert stored is not None
        assert stored.tokens.refresh_token
        refresh_token = stored.tokens.refresh_token
        headers = {"Authorization": client_secret_basic(DEV_CLIENT_ID, DEV_CLIENT_SECRET)}
        manager = services.tokens
        counter = CommandCounter(getattr(services.store, "_redis"))  # noqa: B009
        async with httpx.AsyncClient(base_url=env.emulator.base_url, timeout=30) as plain:

            async def bare() -> float:
                nonlocal refresh_token
                started = time.perf_counter()
                response = await plain.post(
                    "/oauth2/token",
                    data={"grant_type": "refresh_token", "refresh_token": refresh_token},
                    headers=headers,
                )
                elapsed = time.perf_counter() - started
                response.raise_for_status()
                refresh_token = response.json()["refresh_token"]
                return elapsed

            async def forced() -> float:
                started = time.perf_counter()
                await manager.refresh(ours, force=True)
                return time.perf_counter() - started

            for _ in range(5):  # warm both paths
                await forced()
                await bare()
            counter.reset()
            before = await redis_command_calls(raw)
            ours_times: list[float] = []
            bare_times: list[float] = []
            for _ in range(trials):
                ours_times.append(await forced())
                bare_times.append(await bare())
            server = command_delta(before, await redis_command_calls(raw))
            client_counts = dict(counter.counts)

        # Rate: forced refreshes from one process, PARALLEL creators at once.
        done = 0
        deadline = time.perf_counter() + rate_seconds
        counter.reset()
        before = await redis_command_calls(raw)

        async def loop(creator: str) -> None:
            nonlocal done
            while time.perf_counter() < deadline:
                await manager.refresh(creator, force=True)
                done += 1

        started = time.perf_counter()
        await asyncio.gather(*(loop(creator) for creator in rate_creators))
        rate = done / (time.perf_counter() - started)
        rate_server = command_delta(before, await redis_command_calls(raw))
        rate_client = counter.total()
    finally:
        await close_redis(raw)
        await services.aclose()

    ratios = [a / b for a, b in zip(ours_times, bare_times, strict=True)]
    ratio = median(ours_times) / median(bare_times)
    client_per = sum(client_counts.values()) / trials
    server_per = sum(server.values()) / trials
    met = ratio <= GOAL_RATIO and client_per == 2
    return Section(
        key="refresh",
        title="11. Forced refresh vs one bare token POST; Redis round trips per refresh",
        goal=f"≤ {GOAL_RATIO}x one bare token POST; 2 Redis round trips per refresh",
        met=met,
        headline=(
            f"{ratio:.2f}x a bare POST; {client_per:.0f} Redis round trips per refresh; "
            f"{rate:.0f} refreshes/s per process"
        ),
        rows=[
            ("forced refresh / bare token POST (ratio of medians)", f"{ratio:.2f}x"),
            ("per-trial ratios", f"median {median(ratios):.2f}x (range {spread(ratios)})"),
            ("`TokenManager.refresh(force=True)`", f"{median(ours_times) * 1e3:.2f} ms median"),
            (
                "bare `POST /oauth2/token` (plain httpx)",
                f"{median(bare_times) * 1e3:.2f} ms median",
            ),
            (
                "Redis commands sent per refresh (client side; a script counts once)",
                f"{client_per:.1f}: "
                + ", ".join(
                    f"{name} {count / trials:.1f}" for name, count in client_counts.items()
                ),
            ),
            (
                "Redis commands executed per refresh (server side, scripts' inner calls included)",
                f"{server_per:.1f}: "
                + ", ".join(f"{name} {count / trials:.1f}" for name, count in server.items()),
            ),
            (
                f"refreshes per second, one process, {PARALLEL} creators in parallel",
                f"{rate:.0f}/s over {rate_seconds:.0f} s; {rate_client / max(done, 1):.1f} "
                f"commands sent and {sum(rate_server.values()) / max(done, 1):.1f} executed "
                "per refresh",
            ),
            ("trials", f"{trials} per side, interleaved, after 5 warm-up pairs"),
        ],
        notes=[
            "The rate is bounded by this machine (2 cores shared by the emulator, Redis and the "
            "bench process), not by Redis: each refresh is two short scripts.",
            "On a Redis Cluster the commit also sends the keepalive ZADD (another slot), "
            "concurrently with the commit script: still two sequential round trips.",
        ],
    )
