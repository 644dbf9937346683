"""Bursts queue, they never become errors: 300 clients at once on an authenticated route.

A real served process (``fanvue-embedded serve``, one uvicorn worker) on real Redis and the
emulator, with a deliberately small Redis pool (4 connections): every request needs the app
session's Redis record and a token, so 300 at once must wait for connections. redis-py's own
pools raise ``MaxConnectionsError`` past their size, which became 503s; the blocking pool (and
the gate in front of the Cluster client) makes them queue.

The same holds for embedded opens: many session exchanges at once, each writing its tokens and
its app session concurrently, on a pool of 2 connections.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from redis import exceptions as redis_errors
from redis.asyncio.cluster import RedisCluster

from fanvue_embedded._redis import RedisClient, close_redis, redis_from_url
from fanvue_embedded.cli import dev_environment
from tests.support.emulator import EmulatorHandle
from tests.support.servers import free_port, spawn

pytestmark = pytest.mark.both_topologies

CLIENTS = 300
ROUNDS = 2
OPENS = 100


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


@contextlib.contextmanager
def served_app(
    redis_url: str, emulator: EmulatorHandle, tmp_path: Path, *, redis_connections: int
) -> Iterator[str]:
    """``fanvue-embedded serve`` (one uvicorn worker) with a small Redis pool; yields its URL."""
    emulator.settings(rate_limit=1_000_000)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        **dev_environment(
            app_url=base, platform_url=emulator.base_url, redis_url=redis_url, environ={}
        ),
        # Far fewer than requests in flight: they must queue.
        "REDIS_MAX_CONNECTIONS": str(redis_connections),
        "REDIS_POOL_TIMEOUT": "60",
        # The app's rate-limit budget matches the emulator's raised limit: these tests are about
        # bursts queueing for Redis connections, not about Fanvue's 200 per 60 s.
        "FANVUE_RATE_LIMIT": "1000000",
        "LOG_LEVEL": "WARNING",
    }
    emulator.control("PATCH", "/app", json={"redirect_uris": [env["OAUTH_REDIRECT_URI"]]})
    command = [sys.executable, "-m", "fanvue_embedded.cli", "serve", "--host", "127.0.0.1"]
    command += ["--port", str(port)]
    with spawn(command, host="127.0.0.1", port=port, env=env, log_path=tmp_path / "serve.log"):
        yield base


@pytest.mark.slow
def test_300_concurrent_clients_on_an_authenticated_route_get_no_errors(
    redis_url: str, emulator: EmulatorHandle, tmp_path: Path
) -> None:
    with served_app(redis_url, emulator, tmp_path, redis_connections=4) as base:
        answer = httpx.post(
            f"{base}/api/fanvue/session", json={"token": emulator.session_token()}, timeout=30
        )
        assert answer.status_code == 200, answer.text
        statuses = asyncio.run(_burst(base, answer.json()["session"]))
    assert statuses == Counter({200: CLIENTS * ROUNDS}), statuses


async def _opens(base: str, tokens: list[str]) -> list[httpx.Response]:
    """One session exchange per token, all at once, each on its own connection."""
    limits = httpx.Limits(max_connections=len(tokens), max_keepalive_connections=0)
    async with httpx.AsyncClient(base_url=base, timeout=120, limits=limits) as client:
        exchanged = await asyncio.gather(
            *(client.post("/api/fanvue/session", json={"token": token}) for token in tokens)
        )
        # Every session issued works: its record was written before the answer.
        checked = await asyncio.gather(
            *(
                client.get("/api/me", headers={"Authorization": f"Bearer {r.json()['session']}"})
                for r in exchanged
                if r.status_code == 200
            )
        )
    return [*exchanged, *checked]


@pytest.mark.slow
def test_100_concurrent_session_exchanges_get_no_errors(
    redis_url: str, emulator: EmulatorHandle, tmp_path: Path
) -> None:
    tokens = [emulator.session_token() for _ in range(OPENS)]
    with served_app(redis_url, emulator, tmp_path, redis_connections=2) as base:
        answers = asyncio.run(_opens(base, tokens))
    statuses = Counter(answer.status_code for answer in answers)
    assert statuses == Counter({200: 2 * OPENS}), statuses
    sessions = {answer.json()["session"] for answer in answers[:OPENS]}
    assert len(sessions) == OPENS


async def _blocked_on_server(client: RedisClient) -> None:
    """Until the server has a client parked in BLPOP (the pool's one connection is taken)."""
    for _ in range(500):
        infos = (
            await client.info("clients", target_nodes=RedisCluster.PRIMARIES)
            if isinstance(client, RedisCluster)
            else {"one": await client.info("clients")}
        )
        if any(int(info["blocked_clients"]) for info in infos.values()):
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the BLPOP never reached the server")


async def _pop(client: RedisClient, queue: bytes) -> list[object]:
    """BLPOP ``queue`` (holding one of ``client``'s connections until something is pushed)."""
    return list(await client.blpop([queue], timeout=30) or [])


async def _get(client: RedisClient, key: bytes) -> object:
    return await client.get(key)


@pytest.mark.anyio
async def test_a_command_finding_every_connection_busy_waits_then_gives_up_at_the_pool_timeout(
    redis_url: str,
) -> None:
    # One connection, held by a BLPOP: a command queues behind it. With a long pool timeout it
    # gets the connection once the BLPOP returns; with a short one it fails, naming the pool.
    queue, key = b"{burst}:queue", b"{burst}:key"
    patient = redis_from_url(redis_url, max_connections=1, pool_timeout=30)
    impatient = redis_from_url(redis_url, max_connections=1, pool_timeout=0.2)
    observer = redis_from_url(redis_url)
    try:
        await observer.set(key, b"kept")
        for client in (patient, impatient):
            await client.ping()  # the connection (a Cluster's topology) exists before the BLPOP
        blocked = asyncio.create_task(_pop(impatient, queue))
        await _blocked_on_server(observer)
        with pytest.raises(redis_errors.ConnectionError, match="No connection available"):
            await impatient.get(key)
        await observer.rpush(queue, b"go")
        assert await blocked == [queue, b"go"]
        assert await impatient.get(key) == b"kept"  # the freed connection is usable again

        blocked = asyncio.create_task(_pop(patient, queue))
        await _blocked_on_server(observer)
        waiting = asyncio.create_task(_get(patient, key))
        await asyncio.sleep(0.3)  # longer than the impatient pool's timeout: still waiting
        assert not waiting.done()
        await observer.rpush(queue, b"go")
        assert await blocked == [queue, b"go"]
        assert await waiting == b"kept"
    finally:
        for client in (patient, impatient, observer):
            await close_redis(client)
