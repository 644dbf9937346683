"""4. Throughput of an authenticated route vs a bare Starlette route doing the same upstream call.

Authenticated: the app's ``GET /api/me`` (app-session check with its Redis record, the token
lookup, one ``GET /users/me`` upstream). Bare: ``bench/bare_app.py`` with a fixed token. Both
run in their own process under identical uvicorn settings (``bench/servers.py``); the emulator
answers both. A closed-loop load generator in the bench process keeps a fixed number of
requests in flight for a fixed time; trials alternate the two servers.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from pathlib import Path

import httpx

from fanvue_embedded._http import shared_tls_context
from fanvue_embedded._transport import build_transport

from .common import BenchEnv, Section, exchange_creators, median, spread
from .exchange_latency import serve_process
from .servers import CLIENT_KEEPALIVE_EXPIRY

GOAL_RATIO = 0.9
LEVELS = (20, 200)
POOL = 20  # connections per load-generator client
RATE_LIMIT = 1_000_000


async def _load(
    clients: list[httpx.AsyncClient], path: str, seconds: float, concurrency: int
) -> tuple[float, int]:
    """Requests per second answered 200 over ``seconds``, and how many were not 200. Loop
    ``i`` of the ``concurrency`` loops sends through ``clients[i % len(clients)]``."""
    ok = 0
    failed = 0
    deadline = time.perf_counter() + seconds

    async def loop(client: httpx.AsyncClient) -> None:
        nonlocal ok, failed
        while time.perf_counter() < deadline:
            try:
                response = await client.get(path)
            except httpx.TransportError:
                failed += 1  # counted, not hidden: a reset connection is an error too
                continue
            if response.status_code == 200:
                ok += 1
            else:
                failed += 1

    started = time.perf_counter()
    await asyncio.gather(*(loop(clients[i % len(clients)]) for i in range(concurrency)))
    return ok / (time.perf_counter() - started), failed


def _cpu_seconds(pid: int) -> float:
    """User + system CPU seconds ``pid`` has used so far (Linux ``/proc``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _load_clients(base_url: str) -> list[httpx.AsyncClient]:
    """The load generator's clients for one server: pools of ``POOL`` connections with the
    cheap probe. httpcore's pool does work proportional to connections x queued requests on
    every request; one pool of 200 made the generator the bottleneck at 200 clients (every
    side measured the same ~100 requests per second). Idle connections are dropped before
    the servers' 5 s keep-alive ends (bench/servers.py)."""
    limits = httpx.Limits(
        max_connections=POOL,
        max_keepalive_connections=POOL,
        keepalive_expiry=CLIENT_KEEPALIVE_EXPIRY,
    )
    return [
        httpx.AsyncClient(
            base_url=base_url,
            timeout=60,
            transport=build_transport(verify=shared_tls_context(), limits=limits),
        )
        for _ in range(max(LEVELS) // POOL)
    ]


async def run(env: BenchEnv) -> Section:
    trials, seconds = (2, 1.0) if env.quick else (10, 2.0)
    env.emulator.settings(rate_limit=RATE_LIMIT)
    services = env.services()
    try:
        [creator] = await exchange_creators(services, env.emulator, ["luna.rivers"])
        stored = await services.store.load(creator)
        assert stored is not None
        bare_env = {"BENCH_ACCESS_TOKEN": stored.tokens.access_token}
    finally:
        await services.aclose()

    by_level: dict[int, tuple[list[float], list[float], list[float], int]] = {}
    cpu_by_level: dict[int, tuple[list[float], list[float], list[float]]] = {}
    # The emulator's limit is lifted for the run; the app's rate-limit budget is told the same
    # limit, so it still counts every call (its Redis work is part of the route's cost).
    app_env = {"FANVUE_RATE_LIMIT": str(RATE_LIMIT)}
    like_env = {**bare_env, "BENCH_TRANSPORT": "library"}
    with (
        serve_process(env, "app", app_env) as (app_url, app_pid),
        serve_process(env, "bare", bare_env) as (bare_url, bare_pid),
        serve_process(env, "bare", like_env) as (like_url, like_pid),
    ):
        pids = (app_pid, bare_pid, like_pid)
        app, plain, like = (_load_clients(url) for url in (app_url, bare_url, like_url))
        async with contextlib.AsyncExitStack() as stack:
            for client in (*app, *plain, *like):
                await stack.enter_async_context(client)
            response = await app[0].post(
                "/api/fanvue/session", json={"token": env.emulator.session_token()}
            )
            response.raise_for_status()
            authorization = f"Bearer {response.json()['session']}"
            for client in app:
                client.headers["Authorization"] = authorization
            for level in LEVELS:
                sides = [(app, "/api/me"), (plain, "/bare/me"), (like, "/bare/me")]
                for clients, path in sides:  # warm the servers and their pools
                    await _load(clients, path, 0.5, level)
                rates: list[list[float]] = [[], [], []]
                cpu: list[list[float]] = [[], [], []]
                failures = 0
                for trial in range(trials):
                    # The order rotates, so drift in machine load hits every side alike.
                    for index in [(trial + k) % 3 for k in range(3)]:
                        clients, path = sides[index]
                        before = _cpu_seconds(pids[index])
                        rate, failed = await _load(clients, path, seconds, level)
                        used = _cpu_seconds(pids[index]) - before
                        rates[index].append(rate)
                        cpu[index].append(used / max(rate * seconds, 1))
                        failures += failed
                by_level[level] = (rates[0], rates[1], rates[2], failures)
                cpu_by_level[level] = (cpu[0], cpu[1], cpu[2])

    rows: list[tuple[str, str]] = []
    met = True
    headline = []
    for level, (authed, bare, like_rates, failures) in by_level.items():
        ratios = [a / b for a, b in zip(authed, bare, strict=True)]
        ratio = median(ratios)
        own = [a / b for a, b in zip(authed, like_rates, strict=True)]
        gain = [b / a for a, b in zip(bare, like_rates, strict=True)]
        app_cpu, bare_cpu, like_cpu = cpu_by_level[level]
        met = met and ratio >= GOAL_RATIO and failures == 0
        headline.append(f"{ratio:.2f}x at {level} clients")
        rows += [
            (
                f"{level} clients: authenticated / bare (median of per-trial ratios)",
                f"{ratio:.2f}x (trials {spread(ratios)})",
            ),
            (
                f"{level} clients: `GET /api/me` (session + token lookup + upstream)",
                f"{median(authed):.0f} req/s median",
            ),
            (f"{level} clients: bare `GET /bare/me`", f"{median(bare):.0f} req/s median"),
            (
                f"{level} clients: like for like, authenticated / bare route on the library's "
                "transport (the app's own cost)",
                f"{median(own):.2f}x (trials {spread(own)})",
            ),
            (
                f"{level} clients: server CPU per request, authenticated / bare / bare on the "
                "library's transport (median over trials; the steadier view of the same cost)",
                f"{median(app_cpu) * 1e6:.0f} / {median(bare_cpu) * 1e6:.0f} / "
                f"{median(like_cpu) * 1e6:.0f} µs: bare / authenticated "
                f"{median(bare_cpu) / median(app_cpu):.2f}x, like for like "
                f"{median(like_cpu) / median(app_cpu):.2f}x",
            ),
            (
                f"{level} clients: bare route on the library's transport / plain httpx",
                f"{median(gain):.2f}x (trials {spread(gain)}); {median(like_rates):.0f} req/s median",
            ),
            (f"{level} clients: non-200 answers (all three servers)", str(failures)),
        ]
    rows.append(("trials", f"{trials} x {seconds:.0f} s per side and level, order rotating"))
    return Section(
        key="throughput",
        title="4. Authenticated route throughput vs a bare Starlette route (served process)",
        goal=f"≥ {GOAL_RATIO}x the bare route's requests per second at 20 and 200 clients, "
        "0 errors",
        met=met,
        headline=", ".join(headline) + " (0 errors)" if met else ", ".join(headline),
        rows=rows,
        notes=[
            "One uvicorn worker per server (asyncio loop, h11, no access log). The load "
            "generator, both servers, the emulator and Redis share the machine's 2 cores, so the "
            "absolute rates are low; the ratio is the figure.",
            "The app's route verifies the app session (one Redis read, on a blocking pool that "
            "queues bursts), takes the access token from process memory (no Redis) and a "
            "rate-limit token from the shared budget (one Redis script).",
            "The goal's baseline is a plain httpx client. The library's clients use httpx's "
            "transport with a cheaper pool probe (`fanvue_embedded/_transport.py`; "
            "encode/httpcore#928), which pays for much of the app's own work: the like-for-like "
            "row compares against a bare route on that same transport.",
        ],
    )
