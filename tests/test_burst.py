"""Bursts queue, they never become errors: 300 clients at once on an authenticated route.

A real served process (``fanvue-embedded serve``, one uvicorn worker) on real Redis and the
emulator, with a deliberately small Redis pool (4 connections): every request needs the app
session's Redis record and a token, so 300 at once must wait for connections. redis-py's own
pools raise ``MaxConnectionsError`` past their size, which became 503s; the blocking pool (and
the gate in front of the Cluster client) makes them queue.
"""

from __future__ import annotations

import asyncio
import sys
from collections import Counter
from pathlib import Path

import httpx
import pytest

from fanvue_embedded.cli import dev_environment
from tests.support.emulator import EmulatorHandle
from tests.support.servers import free_port, spawn

pytestmark = pytest.mark.both_topologies

CLIENTS = 300
ROUNDS = 2


async def _burst(base: str, session: str) -> Counter[int]:
    """``ROUNDS`` times, ``CLIENTS`` clients at once, each on its own connection."""
    limits = httpx.Limits(max_connections=CLIENTS, max_keepalive_connections=0)
    headers = {"Authorization": f"Bearer {session}"}
    statuses: Counter[int] = Counter()
    for _ in range(ROUNDS):
        async with httpx.AsyncClient(
            base_url=base, timeout=120, limits=limits, headers=headers
        ) as client:
            answers = await asyncio.gather(*(client.get("/api/me") for _ in range(CLIENTS)))
        statuses.update(answer.status_code for answer in answers)
    return statuses


@pytest.mark.slow
def test_300_concurrent_clients_on_an_authenticated_route_get_no_errors(
    redis_url: str, emulator: EmulatorHandle, tmp_path: Path
) -> None:
    emulator.settings(rate_limit=1_000_000)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        **dev_environment(
            app_url=base, platform_url=emulator.base_url, redis_url=redis_url, environ={}
        ),
        "REDIS_MAX_CONNECTIONS": "4",  # far fewer than requests in flight: they must queue
        "REDIS_POOL_TIMEOUT": "60",
        # The app's rate-limit budget matches the emulator's raised limit: this test is about
        # bursts queueing for Redis connections, not about Fanvue's 200 per 60 s.
        "FANVUE_RATE_LIMIT": "1000000",
        "LOG_LEVEL": "WARNING",
    }
    emulator.control("PATCH", "/app", json={"redirect_uris": [env["OAUTH_REDIRECT_URI"]]})
    command = [sys.executable, "-m", "fanvue_embedded.cli", "serve", "--host", "127.0.0.1"]
    command += ["--port", str(port)]
    with spawn(command, host="127.0.0.1", port=port, env=env, log_path=tmp_path / "serve.log"):
        answer = httpx.post(
            f"{base}/api/fanvue/session", json={"token": emulator.session_token()}, timeout=30
        )
        assert answer.status_code == 200, answer.text
        statuses = asyncio.run(_burst(base, answer.json()["session"]))
    assert statuses == Counter({200: CLIENTS * ROUNDS}), statuses
