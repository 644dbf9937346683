"""4. Throughput of an authenticated route vs a bare Starlette route doing the same upstream call.

Authenticated: the app's ``GET /api/me`` (app-session check with its Redis record, the token
lookup, one ``GET /users/me`` upstream). Bare: ``bench/bare_app.py`` with a fixed token. Both
run in their own process under identical uvicorn settings (``bench/servers.py``); the emulator
answers both. A closed-loop load generator in the bench process keeps a fixed number of
requests in flight for a fixed time; trials alternate the two servers.
"""

from __future__ import annotations

import asyncio
import time

import httpx

from .common import BenchEnv, Section, exchange_creators, median, spread
from .exchange_latency import serve

GOAL_RATIO = 0.8
CONCURRENCY = 16


async def _load(client: httpx.AsyncClient, path: str, seconds: float) -> tuple[float, int]:
    """Requests per second answered 200 over ``seconds``, and how many were not 200."""
    ok = 0
    failed = 0
    deadline = time.perf_counter() + seconds

    async def loop() -> None:
        nonlocal ok, failed
        while time.perf_counter() < deadline:
            response = await client.get(path)
            if response.status_code == 200:
                ok += 1
            else:
                failed += 1

    started = time.perf_counter()
    await asyncio.gather(*(loop() for _ in range(CONCURRENCY)))
    return ok / (time.perf_counter() - started), failed


async def run(env: BenchEnv) -> Section:
    trials, seconds = (2, 1.0) if env.quick else (6, 3.0)
    env.emulator.settings(rate_limit=1_000_000)
    services = env.services()
    try:
        [creator] = await exchange_creators(services, env.emulator, ["luna.rivers"])
        stored = await services.store.load(creator)
        assert stored is not None
        bare_env = {"BENCH_ACCESS_TOKEN": stored.tokens.access_token}
    finally:
        await services.aclose()

    authed: list[float] = []
    bare: list[float] = []
    failures = 0
    limits = httpx.Limits(max_connections=CONCURRENCY, max_keepalive_connections=CONCURRENCY)
    with serve(env, "app") as app_url, serve(env, "bare", bare_env) as bare_url:
        async with (
            httpx.AsyncClient(base_url=app_url, timeout=30, limits=limits) as app,
            httpx.AsyncClient(base_url=bare_url, timeout=30, limits=limits) as plain,
        ):
            response = await app.post(
                "/api/fanvue/session", json={"token": env.emulator.session_token()}
            )
            response.raise_for_status()
            app.headers["Authorization"] = f"Bearer {response.json()['session']}"
            await _load(app, "/api/me", 0.5)  # warm both servers and their pools
            await _load(plain, "/bare/me", 0.5)
            for _ in range(trials):
                rate, failed = await _load(app, "/api/me", seconds)
                authed.append(rate)
                failures += failed
                rate, failed = await _load(plain, "/bare/me", seconds)
                bare.append(rate)
                failures += failed

    ratios = [a / b for a, b in zip(authed, bare, strict=True)]
    ratio = median(ratios)
    return Section(
        key="throughput",
        title="4. Authenticated route throughput vs a bare Starlette route",
        goal=f"≥ {GOAL_RATIO}x the bare route's requests per second",
        met=ratio >= GOAL_RATIO and failures == 0,
        headline=f"{ratio:.2f}x the bare route",
        rows=[
            (
                "authenticated / bare (median of per-trial ratios)",
                f"{ratio:.2f}x (trials {spread(ratios)})",
            ),
            (
                "`GET /api/me` (session + token lookup + upstream)",
                f"{median(authed):.0f} req/s median",
            ),
            ("bare `GET /bare/me` (upstream only)", f"{median(bare):.0f} req/s median"),
            ("non-200 answers during the trials", str(failures)),
            (
                "trials",
                f"{trials} x {seconds:.0f} s per side, interleaved, {CONCURRENCY} requests in flight",
            ),
        ],
        notes=[
            "One uvicorn worker per server (asyncio loop, h11, no access log). The load "
            "generator, both servers, the emulator and Redis share the machine's 2 cores, so the "
            "absolute rates are low; the ratio is the figure.",
        ],
    )
