"""11. The refresh path: its cost next to one bare token POST, its Redis round trips, its rate.

Forced refreshes (``TokenManager.refresh(force=True)``, what the keepalive worker does) of one
creator alternate with bare refreshes of another chain — one ``POST /oauth2/token`` with plain
httpx, the floor any refresh pays — and with one Redis PING (what a round trip costs here);
then the same pair again with 20 ms injected on the emulator's token endpoint. The coordinator adds its two store steps (begin, commit);
the Redis commands it sends are counted on the client (a script call counts once) and on the
server (``INFO commandstats``: every command, those inside scripts too). Then a rate: forced
refreshes per second from one process, 16 creators in parallel, for a few seconds.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

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
LATENCY_MS = 20
PARALLEL = 16


class StepTimes:
    """Wall time of each call to the methods it wraps, by phase and step (a benchmark-only
    shim); calls are recorded only while ``phase`` is set."""

    def __init__(self) -> None:
        self.times: dict[tuple[str, str], list[float]] = {}
        self.phase: str | None = None

    def wrap(self, owner: object, method: str, step: str) -> None:
        inner: Callable[..., Awaitable[Any]] = getattr(owner, method)

        async def timed(*args: Any, **kwargs: Any) -> Any:
            phase, started = self.phase, time.perf_counter()
            try:
                return await inner(*args, **kwargs)
            finally:
                if phase is not None:
                    elapsed = time.perf_counter() - started
                    self.times.setdefault((phase, step), []).append(elapsed)

        setattr(owner, method, timed)

    def medians_us(self, phase: str, totals: list[float], *steps: str) -> list[float]:
        """Each step's median, then the median of what each call spent outside them
        (``totals``: one wall time per call, in the order the steps were recorded)."""
        recorded = [self.times.get((phase, step), []) for step in steps]
        if any(len(times) != len(totals) for times in recorded):
            raise RuntimeError(f"a {phase} refresh did not take exactly one of each step")
        rest = [total - sum(parts) for total, *parts in zip(totals, *recorded, strict=True)]
        return [median(times) * 1e6 for times in (*recorded, rest)]


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
        store_redis = getattr(services.store, "_redis")  # noqa: B009
        counter = CommandCounter(store_redis)
        steps = StepTimes()  # where a forced refresh's time goes, step by step
        steps.wrap(services.store, "begin_refresh", "begin")
        steps.wrap(services.oauth, "refresh", "post")
        steps.wrap(services.store, "commit_refresh", "commit")
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

            async def ping() -> float:
                started = time.perf_counter()
                await store_redis.ping()
                return time.perf_counter() - started

            for _ in range(5):  # warm every path
                await forced()
                await bare()
                await ping()
            counter.reset()
            before = await redis_command_calls(raw)
            ours_times: list[float] = []
            for _ in range(trials):
                ours_times.append(await forced())
            server = command_delta(before, await redis_command_calls(raw))
            client_counts = dict(counter.counts)
            ours_times.clear()
            bare_times: list[float] = []
            ping_times: list[float] = []
            steps.phase = "near"
            for _ in range(trials):  # interleaved, so drift in load hits every side
                ours_times.append(await forced())
                bare_times.append(await bare())
                ping_times.append(await ping())
            steps.phase = None
            # The same pair with a network's worth of latency on the token endpoint: the
            # coordinator's cost is a constant, not a share of the POST.
            env.emulator.faults(latency_ms={"token": LATENCY_MS})
            far_ours: list[float] = []
            far_bare: list[float] = []
            far_pings: list[float] = []
            steps.phase = "far"
            try:
                for _ in range(max(trials // 3, 5)):
                    far_ours.append(await forced())
                    far_bare.append(await bare())
                    # Redis idle for the POST's 20 ms, as in the refresh: waking it costs more.
                    await asyncio.sleep(LATENCY_MS / 1000)
                    far_pings.append(await ping())
            finally:
                steps.phase = None
                env.emulator.control("DELETE", "/faults")

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
    one_trip = median(ping_times)
    # The floor any coordinated refresh has on this machine: the POST plus its two Redis
    # round trips at the cost of a PING from the same client (no script, no decoding).
    floor = (median(bare_times) + 2 * one_trip) / median(bare_times)
    far_ratio = median(far_ours) / median(far_bare)
    far_floor = (median(far_bare) + 2 * median(far_pings)) / median(far_bare)
    step_names = ("begin", "post", "commit")
    begin_us, post_us, commit_us, rest_us = steps.medians_us("near", ours_times, *step_names)
    far_begin, far_post, far_commit, far_rest = steps.medians_us("far", far_ours, *step_names)
    client_per = sum(client_counts.values()) / trials
    server_per = sum(server.values()) / trials
    met = ratio <= GOAL_RATIO and client_per == 2
    return Section(
        key="refresh",
        title="11. Forced refresh vs one bare token POST; Redis round trips per refresh",
        goal=f"≤ {GOAL_RATIO}x one bare token POST; 2 Redis round trips per refresh",
        met=met,
        headline=(
            f"{ratio:.2f}x a bare POST on loopback (this machine's floor with 2 Redis round "
            f"trips: {floor:.2f}x), {far_ratio:.3f}x with {LATENCY_MS} ms on the token "
            f"endpoint (floor {far_floor:.3f}x); {client_per:.0f} Redis round trips per refresh; "
            f"{rate:.0f} refreshes/s per process"
        ),
        rows=[
            ("forced refresh / bare token POST (ratio of medians)", f"{ratio:.2f}x"),
            ("per-trial ratios", f"median {median(ratios):.2f}x (range {spread(ratios)})"),
            ("`TokenManager.refresh(force=True)`", f"{median(ours_times) * 1e3:.2f} ms median"),
            (
                "one Redis round trip (PING on the store's client, sent right after a bare POST)",
                f"{one_trip * 1e6:.0f} µs median",
            ),
            (
                "a forced refresh step by step (medians): begin / POST / commit / the rest",
                f"{begin_us:.0f} µs / {post_us / 1e3:.2f} ms / {commit_us:.0f} µs / "
                f"{rest_us:.0f} µs",
            ),
            (
                "this machine's floor: the bare POST plus two such round trips",
                f"{floor:.2f}x",
            ),
            (
                f"with {LATENCY_MS} ms injected on the token endpoint: forced refresh / bare "
                "POST (ratio of medians)",
                f"{far_ratio:.3f}x ({median(far_ours) * 1e3:.1f} / "
                f"{median(far_bare) * 1e3:.1f} ms, {len(far_ours)} trials per side)",
            ),
            (
                f"with {LATENCY_MS} ms injected, step by step (medians): begin / POST / commit / "
                "the rest",
                f"{far_begin:.0f} µs / {far_post / 1e3:.2f} ms / {far_commit:.0f} µs / "
                f"{far_rest:.0f} µs",
            ),
            (
                f"with {LATENCY_MS} ms injected: a PING after {LATENCY_MS} ms idle, and the floor "
                "(the bare POST plus two of them)",
                f"{median(far_pings) * 1e6:.0f} µs median; {far_floor:.3f}x",
            ),
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
            (
                "trials",
                f"{trials} per side, interleaved (forced refresh, bare POST, PING), after 5 "
                f"warm-up rounds; the command counts come from a separate block of {trials} "
                "forced refreshes",
            ),
        ],
        notes=[
            "The POST and the two Redis round trips are sequential by design (the lock must be "
            "held before the refresh token is presented, and the caller gets the token only "
            "once the rotated set is stored). Both steps reach a Redis that sat idle during the "
            "POST: the step rows show each costing about one to two PINGs sent after a POST "
            "(the commit's script also writes the set, publishes the invalidation and "
            "reschedules the keepalive). On these VMs a round trip after a millisecond of "
            "quiet costs several times a hot one, so two bare PINGs already put the floor well "
            "above 1.2x; against a network the same constant is a few percent (the "
            "injected-latency row).",
            "A forced refresh is what the keepalive worker does in the background: no request "
            "waits on it, and its cost to the service is the rate row.",
            "The rate is bounded by this machine (2 cores shared by the emulator, Redis and the "
            "bench process), not by Redis: each refresh is two short scripts.",
            "On a Redis Cluster the commit also sends the keepalive ZADD (another slot), "
            "concurrently with the commit script: still two sequential round trips.",
        ],
    )
