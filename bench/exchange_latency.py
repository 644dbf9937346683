"""3. Session exchange latency with 20 ms injected on each emulator endpoint.

Measured: ``POST /api/fanvue/session`` on the real app (its own process, over a socket), which
makes three sequential upstream calls — authorize-on-behalf, the code exchange, ``/users/me`` —
then stores the tokens and issues an app session in Redis. Baseline: the same three calls made
with plain httpx from the bench process. Session tokens are minted outside the timed region.
Trials alternate app / baseline. Then throughput: 50 embedded opens at once through the app
vs 50 of the plain three-call sequences at once, as batches per second.

Both clients drop connections idle for ``CLIENT_KEEPALIVE_EXPIRY`` seconds, before the servers
close them (``bench/servers.py``): a batch reusing a connection just as the app's uvicorn
closed it once failed with ``httpx.ReadError``. The batches' session tokens are minted all at
once, so the gap between two batches on one side stays short.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import os
import secrets
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

from fanvue_embedded._devdefaults import DEV_CLIENT_ID, DEV_CLIENT_SECRET
from fanvue_embedded.oauth import client_secret_basic
from tests.support.servers import free_port, spawn

from .common import REDIRECT_URI, BenchEnv, Section, median, spread
from .servers import CLIENT_KEEPALIVE_EXPIRY

LATENCY_MS = 20
GOAL_RATIO = 1.05
GOAL_CONCURRENT = 0.9
OPENS = 50
IDLE_GAP = 0.065  # about what an exchange's three upstream calls leave the app's socket idle
API_VERSION = "2025-06-26"


@contextlib.contextmanager
def serve(env: BenchEnv, target: str, extra_env: dict[str, str] | None = None) -> Iterator[str]:
    """Run ``bench.servers <target>`` in its own process; yields its base URL."""
    with serve_process(env, target, extra_env) as (url, _pid):
        yield url


@contextlib.contextmanager
def serve_process(
    env: BenchEnv, target: str, extra_env: dict[str, str] | None = None
) -> Iterator[tuple[str, int]]:
    """:func:`serve`, also yielding the server's process id (to read its CPU time)."""
    port = free_port()
    log = Path(os.environ.get("TMPDIR", "/tmp")) / f"fve-bench-{target}-{port}.log"
    command = [sys.executable, "-m", "bench.servers", target, "--port", str(port)]
    environ = {**env.app_environ(), **(extra_env or {})}
    with spawn(command, host="127.0.0.1", port=port, env=environ, log_path=log) as process:
        yield f"http://127.0.0.1:{port}", process.pid


def _pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return verifier, base64.urlsafe_b64encode(digest).decode("ascii").rstrip("=")


async def _plain_three_calls(upstream: httpx.AsyncClient, session_token: str) -> float:
    """authorize-on-behalf → code exchange → /users/me, sequentially, timed."""
    verifier, challenge = _pkce()
    state = secrets.token_urlsafe(16)
    started = time.perf_counter()
    response = await upstream.post(
        "/api/v1/app-integrations/authorize-on-behalf",
        json={"code_challenge": challenge, "code_challenge_method": "S256", "state": state},
        headers={"Authorization": f"Bearer {session_token}"},
    )
    response.raise_for_status()
    code = response.json()["code"]
    response = await upstream.post(
        "/oauth2/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "code_verifier": verifier,
            "redirect_uri": REDIRECT_URI,
        },
        headers={"Authorization": client_secret_basic(DEV_CLIENT_ID, DEV_CLIENT_SECRET)},
    )
    response.raise_for_status()
    access_token = response.json()["access_token"]
    response = await upstream.get(
        "/users/me",
        headers={"Authorization": f"Bearer {access_token}", "X-Fanvue-API-Version": API_VERSION},
    )
    response.raise_for_status()
    return time.perf_counter() - started


async def _mint(emulator: httpx.AsyncClient, count: int) -> list[str]:
    """``count`` fresh session tokens from the emulator's control API, requested at once."""

    async def one() -> str:
        response = await emulator.post("/_emulator/session-tokens", json={"creator": "luna.rivers"})
        response.raise_for_status()
        token: str = response.json()["token"]
        return token

    return list(await asyncio.gather(*(one() for _ in range(count))))


async def _app_exchange(app: httpx.AsyncClient, session_token: str) -> float:
    started = time.perf_counter()
    response = await app.post("/api/fanvue/session", json={"token": session_token})
    elapsed = time.perf_counter() - started
    if response.status_code != 200:
        raise RuntimeError(f"session exchange answered {response.status_code}")
    return elapsed


async def _hop(app: httpx.AsyncClient, idle: float, count: int) -> float:
    """Median time of ``GET /healthz`` on the app, each after ``idle`` seconds of quiet: the
    hop alone, hot (0) or after the quiet an exchange's upstream calls leave behind."""
    times: list[float] = []
    for _ in range(count):
        if idle:
            await asyncio.sleep(idle)
        started = time.perf_counter()
        response = await app.get("/healthz")
        times.append(time.perf_counter() - started)
        response.raise_for_status()
    return median(times)


async def run(env: BenchEnv) -> Section:
    trials = 5 if env.quick else 25
    warmup = 3
    env.emulator.settings(rate_limit=1_000_000)
    batches = 3 if env.quick else 10
    apps: list[float] = []
    plains: list[float] = []
    app_batches: list[float] = []
    plain_batches: list[float] = []
    limits = httpx.Limits(
        max_connections=OPENS,
        max_keepalive_connections=OPENS,
        keepalive_expiry=CLIENT_KEEPALIVE_EXPIRY,
    )
    with serve(env, "app") as app_url:
        async with (
            httpx.AsyncClient(base_url=app_url, timeout=60, limits=limits) as app,
            httpx.AsyncClient(
                base_url=env.emulator.base_url, timeout=60, limits=limits
            ) as upstream,
        ):
            hop_count = 10 if env.quick else 40
            hot_hop = await _hop(app, 0, hop_count)
            idle_hop = await _hop(app, IDLE_GAP, hop_count)
            env.emulator.faults(
                latency_ms={group: LATENCY_MS for group in ("platform", "token", "api")}
            )
            try:
                for trial in range(warmup + trials):
                    app_time = await _app_exchange(app, env.emulator.session_token())
                    plain_time = await _plain_three_calls(upstream, env.emulator.session_token())
                    if trial >= warmup:
                        apps.append(app_time)
                        plains.append(plain_time)
                for batch in range(batches + 1):
                    tokens = await _mint(upstream, 2 * OPENS)
                    started = time.perf_counter()
                    await asyncio.gather(*(_app_exchange(app, t) for t in tokens[:OPENS]))
                    app_batch = time.perf_counter() - started
                    started = time.perf_counter()
                    await asyncio.gather(*(_plain_three_calls(upstream, t) for t in tokens[OPENS:]))
                    plain_batch = time.perf_counter() - started
                    if batch:  # the first batch warms both pools
                        app_batches.append(app_batch)
                        plain_batches.append(plain_batch)
            finally:
                env.emulator.control("DELETE", "/faults")
    ratios = [a / p for a, p in zip(apps, plains, strict=True)]
    ratio = median(apps) / median(plains)
    throughput = [p / a for a, p in zip(app_batches, plain_batches, strict=True)]
    concurrent = median(throughput)
    return Section(
        key="exchange",
        title="3. Session exchange latency, 20 ms injected per upstream call",
        goal=f"≤ {GOAL_RATIO:.2f}x the three sequential upstream calls made with plain httpx; "
        f"{OPENS} opens at once ≥ {GOAL_CONCURRENT}x the plain sequences' throughput",
        met=ratio <= GOAL_RATIO and concurrent >= GOAL_CONCURRENT,
        headline=f"{ratio:.3f}x the plain upstream calls; {OPENS} at once: {concurrent:.2f}x "
        "their throughput",
        rows=[
            ("app exchange / plain three calls (ratio of medians)", f"{ratio:.3f}x"),
            ("per-trial ratios", f"median {median(ratios):.3f}x (range {spread(ratios)})"),
            ("`POST /api/fanvue/session` through the app", f"{median(apps) * 1e3:.1f} ms median"),
            (
                "three sequential upstream calls, plain httpx",
                f"{median(plains) * 1e3:.1f} ms median",
            ),
            (
                "overhead of the app (hop to the app, PKCE, parsing; Redis: the failed-attempts "
                "check while the code is requested, then the token commit and the app session "
                "written together)",
                f"{(median(apps) - median(plains)) * 1e3:.1f} ms",
            ),
            (
                "the hop alone: `GET /healthz` on the app, hot / after "
                f"{IDLE_GAP * 1e3:.0f} ms idle",
                f"{hot_hop * 1e3:.2f} ms / {idle_hop * 1e3:.2f} ms median",
            ),
            (
                "this machine's floor: the plain calls plus one idle hop",
                f"{(median(plains) + idle_hop) / median(plains):.3f}x",
            ),
            ("trials", f"{trials} per side, interleaved, after {warmup} warm-up pairs"),
            (
                f"{OPENS} opens at once: app throughput / plain sequences' throughput",
                f"{concurrent:.2f}x (median of per-batch ratios, range {spread(throughput)})",
            ),
            (
                f"{OPENS} opens at once: one batch through the app",
                f"{median(app_batches) * 1e3:.0f} ms median "
                f"({OPENS / median(app_batches):.0f} opens/s)",
            ),
            (
                f"{OPENS} plain three-call sequences at once",
                f"{median(plain_batches) * 1e3:.0f} ms median "
                f"({OPENS / median(plain_batches):.0f} sequences/s)",
            ),
            ("batches", f"{batches} per side, interleaved, after 1 warm-up pair"),
        ],
        notes=[
            f"Latency: {LATENCY_MS} ms on the emulator's platform, token and api groups "
            "(each of the three calls sleeps 20 ms server-side).",
            "The app's timing includes its own HTTP hop from the bench client, which the "
            "baseline does not have. On this VM a process woken after tens of milliseconds of "
            "quiet answers several times slower than a busy one (the hop row; a Redis round "
            "trip after 65 ms idle measured ~0.5 ms against ~0.15 ms hot), and every step the "
            "app adds (the hop, the failed-attempts check, the commit) comes after such quiet.",
            f"{OPENS} at once: the plain sequences' single httpx client pools {OPENS} "
            "connections and pays httpx's per-request pool probe over all of them; the app's "
            "clients use the library's transport with the cheap probe (README: Performance).",
            f"Both clients close connections idle for {CLIENT_KEEPALIVE_EXPIRY:g} s, before the "
            "servers' keep-alive timeout does (bench/servers.py): reusing a connection as the "
            "server closes it fails the request.",
        ],
    )
