"""Redis at its limits: full (maxmemory + noeviction), gone, restarted, read-only, evicting.

Every test starts its own ``redis-server`` (the session's must not be filled or stopped) and
drives the real stores, the real ``check`` command, the real app over a socket and the real
keepalive worker loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
from redis.asyncio.cluster import RedisCluster

from fanvue_embedded import _redis
from fanvue_embedded._devdefaults import DEV_ENCRYPTION_KEY
from fanvue_embedded._redis import RedisClient, redis_from_url
from fanvue_embedded.app import create_app
from fanvue_embedded.cli import dev_environment
from fanvue_embedded.config import Settings
from fanvue_embedded.crypto import Keyring
from fanvue_embedded.ephemeral import RedisEphemeralStore
from fanvue_embedded.errors import ConfigurationError, StoreFull, StoreUnavailable
from fanvue_embedded.models import TokenSet
from fanvue_embedded.store import RedisTokenStore
from fanvue_embedded.worker import KeepaliveWorker
from tests.support.emulator import EmulatorHandle
from tests.support.errors import error_code
from tests.support.redis_cluster import run_redis_cluster
from tests.support.redis_server import run_redis_server
from tests.support.redis_topology import sync_client
from tests.support.servers import free_port, serve_in_thread
from tests.support.storm import Setup, open_manager, seed

NOEVICTION = ("--maxmemory-policy", "noeviction")
TOKENS = TokenSet(
    access_token="eyJlimits.access.token",
    expires_at=2_000_000_000.0,
    refresh_token="ory_rt_limits_refresh",
    scopes=frozenset({"read:self"}),
)


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 60.0) -> None:
    """Poll ``condition`` (a wait, not a timing assertion: the deadline only stops a hang)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.05)


async def async_wait_for(condition: Callable[[], bool], what: str) -> None:
    """``wait_for`` that lets this loop run (the worker under test shares it)."""
    deadline = time.monotonic() + 60.0
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        await asyncio.sleep(0.05)


def port_of(url: str) -> int:
    return int(url.rsplit(":", 1)[1].split("/")[0])


def fill(url: str) -> None:
    """Write 512 KiB of filler, then set ``maxmemory`` 128 KiB under what is used: with
    ``noeviction`` Redis refuses every write from then on (a small write can't slip in)."""
    with redis.Redis(port=port_of(url)) as client:
        for number in range(128):
            client.set(f"filler:{number}", b"x" * 4096)
        used = int(client.info("memory")["used_memory"])
        client.config_set("maxmemory", used - 128 * 1024)
        with pytest.raises(redis.exceptions.OutOfMemoryError):
            client.set("one-more", b"x")


def free(url: str) -> None:
    """Drop the filler (deletes are allowed when full): writes fit under the limit again."""
    with redis.Redis(port=port_of(url)) as client:
        client.delete(*(f"filler:{number}" for number in range(128)))
        client.set("fits-again", b"x")


# --- a full Redis refuses writes: StoreFull, logged once per interval ----------------------------


@pytest.mark.anyio
async def test_writes_refused_at_maxmemory_raise_store_full_and_reads_still_work() -> None:
    keyring = Keyring.generate_ephemeral()
    with run_redis_server(*NOEVICTION) as (url, _proc):
        store = RedisTokenStore.from_url(url, keyring)
        ephemeral = RedisEphemeralStore.from_url(url)
        try:
            await store.save("creator-1", TOKENS, expected_generation=0)
            fill(url)
            # A plain command, a Lua script, the keepalive set and the ephemeral store: all
            # refused with one clear, transient error.
            with pytest.raises(StoreFull) as caught:
                await store.save("creator-2", TOKENS, expected_generation=0)
            assert caught.value.code == "store_full"
            assert isinstance(caught.value, StoreUnavailable)
            with pytest.raises(StoreFull):
                await store.record_refresh_attempt("creator-1", "fp-1", 1.0)
            with pytest.raises(StoreFull):
                await store.reschedule_keepalive("creator-1", 5.0)
            with pytest.raises(StoreFull):
                await ephemeral.put("session", b"x", 60)
            loaded = await store.load("creator-1")  # nothing stored was lost
            assert loaded is not None
            assert loaded.tokens == TOKENS
            free(url)
            assert await store.save("creator-2", TOKENS, expected_generation=0) == 1
        finally:
            await store.aclose()
            await ephemeral.aclose()


@pytest.mark.anyio
async def test_store_full_is_logged_once_per_interval(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_redis, "_full_logged_at", None)
    with run_redis_server(*NOEVICTION) as (url, _proc):
        ephemeral = RedisEphemeralStore.from_url(url)
        try:
            fill(url)
            with caplog.at_level(logging.ERROR, logger="fanvue_embedded.redis"):
                for number in range(20):
                    with pytest.raises(StoreFull):
                        await ephemeral.put(f"k{number}", b"x", 60)
                monkeypatch.setattr(_redis, "FULL_LOG_INTERVAL", 0.0)  # the interval is over
                with pytest.raises(StoreFull):
                    await ephemeral.put("later", b"x", 60)
        finally:
            await ephemeral.aclose()
    refused = [r for r in caplog.records if "Redis refuses writes" in r.getMessage()]
    assert len(refused) == 2  # the first of the 20, then one after the interval


# --- /readyz: not ready while Redis refuses writes -----------------------------------------------


def test_readyz_is_not_ready_while_redis_refuses_writes() -> None:
    with run_redis_server(*NOEVICTION) as (url, _proc):
        env = dev_environment(
            app_url="http://127.0.0.1:8000", platform_url="http://127.0.0.1:9", redis_url=url
        )
        settings = Settings.from_env(env)
        keyring = Keyring(settings.token_encryption_keys)
        app = create_app(
            settings,
            store=RedisTokenStore.from_url(url, keyring),
            ephemeral=RedisEphemeralStore.from_url(url),
        )
        with serve_in_thread(app) as base, httpx.Client(base_url=base, timeout=10) as http:
            assert http.get("/readyz").status_code == 200
            fill(url)
            # PING still answers; the write probe does not (the answer is cached ~1 s).
            wait_for(lambda: http.get("/readyz").status_code == 503, "readyz to report full")
            assert http.get("/healthz").status_code == 200  # liveness is untouched
            free(url)
            wait_for(lambda: http.get("/readyz").status_code == 200, "readyz to recover")


# --- check: maxmemory-policy must be noeviction; memory used vs maxmemory ------------------------


def check(redis_url: str, emulator: EmulatorHandle) -> subprocess.CompletedProcess[str]:
    env = dev_environment(
        app_url="http://127.0.0.1:8000", platform_url=emulator.base_url, redis_url=redis_url
    )
    return subprocess.run(
        [sys.executable, "-m", "fanvue_embedded.cli", "check"],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", **env},
        check=False,
    )


def test_check_fails_on_an_evicting_policy_and_reports_memory(emulator: EmulatorHandle) -> None:
    with run_redis_server("--maxmemory", "64mb", "--maxmemory-policy", "allkeys-lru") as (url, _):
        evicting = check(url, emulator)
    with run_redis_server("--maxmemory", "64mb", *NOEVICTION) as (url, _):
        fine = check(url, emulator)
    assert evicting.returncode == 1, evicting.stdout
    assert "FAIL redis memory: memory " in evicting.stdout
    assert "of 64.0 MiB" in evicting.stdout
    assert "maxmemory-policy is allkeys-lru: set it to noeviction" in evicting.stdout
    assert "verdict: FAIL" in evicting.stdout
    assert "OK   redis memory: memory " in fine.stdout
    assert "of 64.0 MiB" in fine.stdout
    assert "maxmemory-policy noeviction" in fine.stdout


def test_check_reports_memory_and_policy_of_every_cluster_master(
    emulator: EmulatorHandle,
) -> None:
    with run_redis_cluster(3) as url:
        cluster = sync_client(url)
        try:
            assert isinstance(cluster, redis.RedisCluster)
            ports = sorted(node.port for node in cluster.get_primaries())  # type: ignore[no-untyped-call]
        finally:
            cluster.close()
        all_fine = check(url, emulator)
        with redis.Redis(port=ports[0]) as node:
            node.config_set("maxmemory-policy", "volatile-lru")
        one_evicting = check(url, emulator)
    line = next(x for x in all_fine.stdout.splitlines() if "redis memory" in x)
    assert line.startswith("OK")
    assert all(f"127.0.0.1:{port}: " in line for port in ports)  # one figure per master
    assert one_evicting.returncode == 1
    assert f"maxmemory-policy is 127.0.0.1:{ports[0]} volatile-lru" in one_evicting.stdout


# --- a malformed REDIS_URL is a configuration error, never a traceback ---------------------------


@pytest.mark.parametrize(
    "bad_url",
    ["redis://host:notaport/0", "redis://[::1/0", "redis+cluster://h:99999", "redis://h:70000"],
)
def test_malformed_redis_url_is_a_configuration_error(bad_url: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        redis_from_url(bad_url)
    assert caught.value.variable == "REDIS_URL"
    assert "REDIS_URL is malformed" in str(caught.value)


@pytest.mark.parametrize("command", [["serve"], ["worker"], ["check"], ["tokens", "list"]])
def test_malformed_redis_url_stops_every_command_with_a_clear_message(command: list[str]) -> None:
    env = dev_environment(app_url="http://127.0.0.1:8000", platform_url="http://127.0.0.1:9")
    env.update(
        REDIS_URL="redis://user:hunter2-secret@host:notaport/0",
        TOKEN_ENCRYPTION_KEYS=DEV_ENCRYPTION_KEY,
    )
    result = subprocess.run(
        [sys.executable, "-m", "fanvue_embedded.cli", *command],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", **env},
        check=False,
    )
    output = result.stdout + result.stderr
    assert "Traceback" not in output
    assert "REDIS_URL is malformed" in output
    assert "hunter2-secret" not in output
    assert result.returncode == (1 if command == ["check"] else 2)


# --- the keepalive worker survives every Redis error ---------------------------------------------


@contextlib.asynccontextmanager
async def running_worker(setup: Setup) -> Any:
    """The real worker loop (short interval) as a task on this loop; stopped on exit."""
    async with open_manager(setup, time.time) as manager:
        worker = KeepaliveWorker(
            manager,
            manager.store,
            interval=0.2,
            min_age=0.0,
            retry_delay=0.2,
            max_retry_delay=0.5,
            max_sweep_delay=0.5,
        )
        stop = asyncio.Event()
        task = asyncio.ensure_future(worker.run_forever(stop))
        try:
            yield task
        finally:
            stop.set()
            await asyncio.wait_for(task, 30)


async def due_now(setup: Setup, creator: str) -> int:
    store = RedisTokenStore.from_url(setup.redis_url, setup.keyring())
    try:
        await store.reschedule_keepalive(creator, 0.0)
        return await store.generation(creator)
    finally:
        await store.aclose()


def generation_of(url: str, creator: str) -> int:
    with redis.Redis(port=port_of(url)) as client:
        raw = client.hget(f"fve:{{{creator}}}:t", "g")
    return int(raw or 0)


@pytest.mark.anyio
async def test_worker_survives_a_full_redis_and_refreshes_once_memory_is_freed(
    emulator: EmulatorHandle, caplog: pytest.LogCaptureFixture
) -> None:
    with run_redis_server(*NOEVICTION) as (url, _proc):
        setup = Setup(url, emulator.base_url, os.urandom(32))
        creator = await seed(setup, emulator)
        before = await due_now(setup, creator)
        fill(url)
        with caplog.at_level(logging.WARNING, logger="fanvue_embedded.worker"):
            async with running_worker(setup) as task:
                await async_wait_for(
                    lambda: _count(caplog, "keepalive refresh failed") >= 3, "failed sweeps"
                )
                assert not task.done()  # before the fix: died on the OOM reply
                assert generation_of(url, creator) == before
                free(url)
                await async_wait_for(lambda: generation_of(url, creator) > before, "the refresh")
                assert not task.done()
    counters = emulator.counters()
    assert counters["chain_breaks"] == 0


@pytest.mark.anyio
async def test_worker_survives_redis_going_away_and_coming_back_on_the_same_port(
    emulator: EmulatorHandle, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    port = free_port()
    data = tmp_path / "redis"
    data.mkdir()
    with run_redis_server(appendonly=True, port=port, directory=str(data)) as (url, proc):
        setup = Setup(url, emulator.base_url, os.urandom(32))
        creator = await seed(setup, emulator)
        before = await due_now(setup, creator)
        with caplog.at_level(logging.WARNING, logger="fanvue_embedded.worker"):
            async with running_worker(setup) as task:
                await async_wait_for(
                    lambda: generation_of(url, creator) > before, "a first refresh"
                )
                proc.terminate()
                proc.wait(10)
                await async_wait_for(
                    lambda: _count(caplog, "keepalive sweep failed") >= 2, "failed sweeps"
                )
                assert not task.done()
                with run_redis_server(appendonly=True, port=port, directory=str(data)):
                    refreshed = generation_of(url, creator)
                    await due_now(setup, creator)
                    await async_wait_for(
                        lambda: generation_of(url, creator) > refreshed, "a refresh after"
                    )
                    assert not task.done()
    assert emulator.counters()["chain_breaks"] == 0


@pytest.mark.anyio
async def test_worker_survives_a_read_only_replica_until_it_is_promoted(
    emulator: EmulatorHandle, caplog: pytest.LogCaptureFixture
) -> None:
    with run_redis_server() as (master_url, _m), run_redis_server() as (url, _r):
        # The creator is seeded on the master; the worker's server replicates it, read-only.
        setup = Setup(master_url, emulator.base_url, os.urandom(32))
        creator = await seed(setup, emulator)
        before = await due_now(setup, creator)
        with redis.Redis(port=port_of(url)) as replica:
            replica.replicaof("127.0.0.1", port_of(master_url))
            wait_for(lambda: generation_of(url, creator) == before, "the replica to sync")
        worker_setup = Setup(url, emulator.base_url, setup.key)
        with caplog.at_level(logging.WARNING, logger="fanvue_embedded.worker"):
            async with running_worker(worker_setup) as task:
                await async_wait_for(
                    lambda: _count(caplog, "keepalive refresh failed") >= 2, "READONLY refusals"
                )
                assert not task.done()
                with redis.Redis(port=port_of(url)) as replica:
                    replica.replicaof("NO", "ONE")  # the failover: promoted
                await async_wait_for(lambda: generation_of(url, creator) > before, "the refresh")
                assert not task.done()
    assert emulator.counters()["chain_breaks"] == 0


def _count(caplog: pytest.LogCaptureFixture, text: str) -> int:
    return sum(text in record.getMessage() for record in caplog.records)


# --- a stalled Redis (alive, silent) fails fast: the socket timeout ---------------------------


def _socket_timeouts(client: RedisClient) -> tuple[object, object]:
    kwargs = (
        client.get_connection_kwargs()
        if isinstance(client, RedisCluster)
        else client.connection_pool.connection_kwargs
    )
    return kwargs.get("socket_timeout"), kwargs.get("socket_connect_timeout")


@pytest.mark.both_topologies
@pytest.mark.anyio
async def test_redis_clients_take_the_socket_timeout_and_the_url_query_wins(
    redis_url: str,
) -> None:
    # redis-py's own default differs between versions (none before 8.0): ours is explicit.
    clients = [redis_from_url(redis_url), redis_from_url(redis_url, socket_timeout=1.5)]
    clients.append(redis_from_url(f"{redis_url}?socket_timeout=2.5", socket_timeout=1.5))
    try:
        assert [_socket_timeouts(client) for client in clients] == [
            (_redis.DEFAULT_SOCKET_TIMEOUT, _redis.DEFAULT_SOCKET_TIMEOUT),
            (1.5, 1.5),
            (2.5, 1.5),
        ]
        for client in clients:
            assert await client.ping()
    finally:
        for client in clients:
            await _redis.close_redis(client)
    with pytest.raises(ConfigurationError) as caught:
        redis_from_url(redis_url, socket_timeout=0)
    assert caught.value.variable == "REDIS_SOCKET_TIMEOUT"


def test_a_stalled_redis_answers_503_and_the_session_survives(emulator: EmulatorHandle) -> None:
    # SIGSTOP: the server keeps its sockets open and answers nothing (a network dropping
    # packets looks the same). Requests must end in a 503, not wait for the client to give up.
    with run_redis_server() as (url, proc):
        port = free_port()
        env = dev_environment(
            app_url=f"http://127.0.0.1:{port}",
            platform_url=emulator.base_url,
            redis_url=url,
            environ={},
        )
        env["REDIS_SOCKET_TIMEOUT"] = "1"
        emulator.control("PATCH", "/app", json={"redirect_uris": [env["OAUTH_REDIRECT_URI"]]})
        app = create_app(Settings.from_env(env))
        # The client's 60 s timeout only turns a hang (the bug) into a failure.
        with (
            serve_in_thread(app, port=port) as base,
            httpx.Client(base_url=base, timeout=60) as http,
        ):
            answer = http.post("/api/fanvue/session", json={"token": emulator.session_token()})
            assert answer.status_code == 200, answer.text
            auth = {"Authorization": f"Bearer {answer.json()['session']}"}
            assert http.get("/api/me", headers=auth).status_code == 200
            os.kill(proc.pid, signal.SIGSTOP)
            try:
                ready = http.get("/readyz")
                me = http.get("/api/me", headers=auth)
            finally:
                os.kill(proc.pid, signal.SIGCONT)
            assert ready.status_code == 503
            assert me.status_code == 503
            assert error_code(me) == "store_unavailable"
            wait_for(lambda: http.get("/readyz").status_code == 200, "readyz to recover")
            assert http.get("/api/me", headers=auth).status_code == 200  # nothing was lost
