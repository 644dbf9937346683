"""RedisTokenStore beyond the shared contract: what is at rest, size, failures, many processes,
and every kind of Redis URL."""

from __future__ import annotations

import asyncio
import base64
import gc
import json
import multiprocessing
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator

import pytest
import redis as sync_redis

from fanvue_embedded._redis import RedisClient, redis_from_url, translate_redis_errors
from fanvue_embedded.config import EncryptionKey
from fanvue_embedded.crypto import Keyring
from fanvue_embedded.ephemeral import RedisEphemeralStore
from fanvue_embedded.errors import ConfigurationError, StoreUnavailable
from fanvue_embedded.models import TokenSet
from fanvue_embedded.store import RedisTokenStore
from tests.support import store_workers
from tests.support.redis_cluster import run_redis_cluster
from tests.support.redis_scan import find_plaintext_tokens
from tests.support.redis_server import run_redis_server
from tests.support.redis_topology import decoding_async_client, flush, sync_client
from tests.support.servers import free_port, wait_for_port

pytestmark = pytest.mark.both_topologies

CREATOR = "0b6f6a8e-3c1d-4c55-8f0e-5f2d9a7b1c3e"


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def realistic_tokens(creator: str, n: int = 0) -> TokenSet:
    """Sized like the emulator's (and Hydra's) tokens: an HS256 JWT and an ory_rt_ token."""
    scopes = ["openid", "offline_access", "offline", "read:self", "read:chat", "read:fan"]
    claims = {
        "typ": "access",
        "iss": "https://auth.fanvue.com",
        "sub": creator,
        "client_id": "4f9a2c1e-8b7d-4e6f-a5c3-2d1b0e9f8a7c",
        "scp": scopes,
        "iat": 1_700_000_000 + n,
        "exp": 1_700_003_600.25 + n,
        "jti": os.urandom(16).hex(),
    }
    header = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    payload = b64(json.dumps(claims, separators=(",", ":")).encode())
    return TokenSet(
        access_token=f"{header}.{payload}.{b64(os.urandom(32))}",
        expires_at=1_700_003_600.25 + n,
        refresh_token="ory_rt_" + b64(os.urandom(32)) + "." + b64(os.urandom(32)),
        scopes=frozenset(scopes),
        id_token="eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJpZCJ9." + b64(os.urandom(32)),
    )


def keyring() -> Keyring:
    return Keyring([EncryptionKey("k1", os.urandom(32))])


# --- nothing readable at rest -----------------------------------------------------------------


@pytest.mark.anyio
async def test_no_token_plaintext_anywhere_in_redis(redis_url: str) -> None:
    store = RedisTokenStore.from_url(redis_url, keyring())
    try:
        for n in range(20):
            creator = f"creator-{n}"
            await store.save(creator, realistic_tokens(creator, n), expected_generation=0)
            await store.record_refresh_attempt(creator, f"fingerprint-{n}", 1.0)
        await store.mark_reauthorization_required(
            "creator-0", reason="invalid_grant", now=2.0, expected_generation=None
        )
        lock = store.lock("creator-1", ttl=30)
        await lock.acquire(blocking=False)
        assert find_plaintext_tokens(redis_url) == []
        await lock.release()
    finally:
        await store.aclose()


@pytest.mark.anyio
async def test_scanner_finds_plaintext_in_every_kind_of_key(redis_url: str) -> None:
    client = sync_client(redis_url)
    try:
        client.set("s", b"prefix eyJhbGciOi")
        client.hset("h", "field", "ory_rt_abc")
        client.hset("h2", "ory_ac_in_field_name", "x")
        client.rpush("l", "x", "ory_rt_abc")
        client.sadd("set", "eyJabc")
        client.zadd("z", {"ory_ac_abc": 1})
        client.xadd("x", {"k": "eyJabc"})
        client.set("name-ory_rt_in-key", "clean")
        client.set("clean", "nothing to see")
        client.hset("clean-hash", "g", 1)
        expected = ["h", "h2", "l", "name-ory_rt_in-key", "s", "set", "x", "z"]
        assert find_plaintext_tokens(redis_url) == expected
        assert find_plaintext_tokens(redis_url, markers=("nothing",)) == ["clean"]
    finally:
        client.close()
        flush(redis_url)  # planted on purpose: keep it out of the run's plaintext scan


# --- size -------------------------------------------------------------------------------------


async def memory_usage(raw: RedisClient, key: str) -> int:
    """MEMORY USAGE of a key that must exist (redis-py answers None for a missing key)."""
    used = await raw.memory_usage(key)
    assert used is not None, f"{key} is missing"
    return used


@pytest.mark.anyio
async def test_memory_per_creator_is_at_most_one_kib(redis_url: str) -> None:
    count = 200
    store = RedisTokenStore.from_url(redis_url, keyring())
    raw = redis_from_url(redis_url)
    try:
        creators = [f"{n:08d}-3c1d-4c55-8f0e-5f2d9a7b1c3e" for n in range(count)]
        for n, creator in enumerate(creators):
            await store.save(
                creator, realistic_tokens(creator, n), expected_generation=0, keepalive_at=1e9 + n
            )
        keys = [f"fve:{{{creator}}}:t" for creator in creators]
        # Steady state (between refreshes): the hash plus this creator's share of the index.
        steady = max([await memory_usage(raw, key) for key in keys])
        index_share = await memory_usage(raw, "fve:keepalive") / count
        assert steady + index_share <= 1024, (steady, index_share)
        # Mid-refresh, with the attempt record, the hash alone still fits.
        for creator in creators:
            await store.record_refresh_attempt(creator, os.urandom(32).hex(), 1.7e9)
        refreshing = max([await memory_usage(raw, key) for key in keys])
        assert refreshing <= 1024, refreshing
        assert refreshing > steady  # the measurement sees the record
    finally:
        await raw.aclose()
        await store.aclose()


# --- Redis down -------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_redis_down_raises_store_unavailable() -> None:
    with run_redis_server() as (url, proc):
        store = RedisTokenStore.from_url(url, keyring())
        ephemeral = RedisEphemeralStore.from_url(url)
        await store.save(CREATOR, realistic_tokens(CREATOR), expected_generation=0)
        await ephemeral.put("k", b"v", 60)
        assert await store.ping()
        proc.terminate()
        proc.wait(timeout=10)

        with pytest.raises(StoreUnavailable) as caught:
            await store.load(CREATOR)
        assert caught.value.code == "store_unavailable"
        assert url not in str(caught.value)
        with pytest.raises(StoreUnavailable):
            await store.save(CREATOR, realistic_tokens(CREATOR), expected_generation=1)
        with pytest.raises(StoreUnavailable):
            await store.due_for_keepalive(now=2e9, limit=10)
        with pytest.raises(StoreUnavailable):
            await store.lock(CREATOR, ttl=5).acquire(blocking=False)
        with pytest.raises(StoreUnavailable):
            await ephemeral.get("k")
        assert not await store.ping()
        await store.aclose()
        await ephemeral.aclose()


# redis-py's cluster client rebuilds its node map after the failure and leaves the sockets of
# the nodes it replaced to the garbage collector: collected here, once its event loop is gone.
@pytest.mark.filterwarnings("ignore::ResourceWarning")
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_a_cluster_master_down_is_store_unavailable_for_its_creators() -> None:
    with run_redis_cluster(3) as url:
        asyncio.run(lose_the_creators_master(url))
        gc.collect()


async def lose_the_creators_master(url: str) -> None:
    store = RedisTokenStore.from_url(url, keyring())
    try:
        await store.save(CREATOR, realistic_tokens(CREATOR), expected_generation=0)
        cluster = sync_client(url)
        assert isinstance(cluster, sync_redis.RedisCluster), url
        try:
            # redis-py leaves get_node_from_key unannotated.
            owner = cluster.get_node_from_key(f"fve:{{{CREATOR}}}:t")  # type: ignore[no-untyped-call]
        finally:
            cluster.close()
        with sync_redis.Redis(port=owner.port) as node:
            node.shutdown(nosave=True)

        with pytest.raises(StoreUnavailable) as caught:
            await store.load(CREATOR)
        assert str(owner.port) not in str(caught.value)
        with pytest.raises(StoreUnavailable):
            await store.save(CREATOR, realistic_tokens(CREATOR), expected_generation=1)
        with pytest.raises(StoreUnavailable):
            await store.lock(CREATOR, ttl=5).acquire(blocking=False)
    finally:
        await store.aclose()


@pytest.mark.anyio
async def test_unreachable_from_the_start_is_store_unavailable() -> None:
    store = RedisTokenStore.from_url(f"redis://127.0.0.1:{free_port()}/0", keyring())
    with pytest.raises(StoreUnavailable):
        await store.generation(CREATOR)
    await store.aclose()


@pytest.mark.anyio
async def test_wrong_password_is_a_configuration_error() -> None:
    with run_redis_server("--requirepass", "correct-horse-battery") as (url, _proc):
        bad = url.replace("redis://", "redis://:wrong-password@")
        store = RedisTokenStore.from_url(bad, keyring())
        with pytest.raises(ConfigurationError) as caught:
            await store.generation(CREATOR)
        assert "wrong-password" not in str(caught.value)
        await store.aclose()


@pytest.mark.anyio
async def test_other_redis_errors_pass_through_untranslated() -> None:
    with pytest.raises(sync_redis.exceptions.ResponseError):
        async with translate_redis_errors():
            raise sync_redis.exceptions.ResponseError("WRONGTYPE")


# --- many processes ---------------------------------------------------------------------------


@pytest.mark.anyio
async def test_processes_racing_the_same_generation_exactly_one_wins(redis_url: str) -> None:
    key = os.urandom(32)
    store = RedisTokenStore(redis_from_url(redis_url), Keyring([EncryptionKey("k1", key)]))
    await store.save(CREATOR, realistic_tokens(CREATOR), expected_generation=0)

    context = multiprocessing.get_context("spawn")
    racers = 6
    barrier = context.Barrier(racers)
    results = context.Queue()
    processes = [
        context.Process(
            target=store_workers.race_to_save,
            args=(redis_url, key, CREATOR, index, barrier, results),
        )
        for index in range(racers)
    ]
    for process in processes:
        process.start()
    outcomes = [await asyncio.to_thread(results.get, True, 120) for _ in range(racers)]
    for process in processes:
        await asyncio.to_thread(process.join, 60)
        assert process.exitcode == 0

    winners = [outcome for outcome in outcomes if outcome.startswith("won:")]
    assert len(winners) == 1, outcomes
    winner = winners[0].removeprefix("won:")
    stored = await store.load(CREATOR)
    assert stored is not None
    assert stored.generation == 2
    assert stored.tokens.refresh_token == f"ory_rt_from-{winner}"
    await store._redis.aclose()


@pytest.mark.anyio
async def test_lock_across_processes_loses_no_updates(redis_url: str) -> None:
    context = multiprocessing.get_context("spawn")
    workers, rounds = 4, 25
    processes = [
        context.Process(
            target=store_workers.increment_under_lock,
            args=(redis_url, CREATOR, "test:counter", rounds),
        )
        for _ in range(workers)
    ]
    for process in processes:
        process.start()
    for process in processes:
        await asyncio.to_thread(process.join, 180)
        assert process.exitcode == 0
    raw = redis_from_url(redis_url)
    try:
        assert int(await raw.get("test:counter") or 0) == workers * rounds
        assert await raw.exists(f"fve:{{{CREATOR}}}:l") == 0
    finally:
        await raw.aclose()


# --- clients and URLs -------------------------------------------------------------------------


@pytest.mark.anyio
async def test_store_refuses_a_decoding_client(redis_url: str) -> None:
    client = decoding_async_client(redis_url)
    try:
        with pytest.raises(ConfigurationError, match="decode_responses"):
            RedisTokenStore(client, keyring())
    finally:
        await client.aclose()


@pytest.mark.parametrize(
    "url",
    [
        "memcached://localhost:11211",
        "redis+sentinel://localhost:26379",
        "redis+sentinel://localhost:26379/mymaster/zero",
        "redis+sentinel://localhost:notaport/mymaster",
    ],
)
def test_bad_urls_are_configuration_errors(url: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        redis_from_url(url)
    assert caught.value.variable == "REDIS_URL"


async def exercise(store: RedisTokenStore) -> None:
    await store.save(CREATOR, realistic_tokens(CREATOR), expected_generation=0, keepalive_at=5.0)
    stored = await store.load(CREATOR)
    assert stored is not None
    assert stored.generation == 1
    assert await store.due_for_keepalive(now=10.0, limit=5) == [CREATOR]
    assert await store.mark_reauthorization_required(
        CREATOR, reason="invalid_grant", now=1.0, expected_generation=1
    )
    lock = store.lock(CREATOR, ttl=5)
    assert await lock.acquire(blocking=False)
    assert await lock.release()
    assert await store.ping()


@pytest.mark.anyio
async def test_unix_socket_url() -> None:
    directory = tempfile.mkdtemp(prefix="fve-sock-")
    socket_path = os.path.join(directory, "redis.sock")
    try:
        with run_redis_server("--unixsocket", socket_path, "--unixsocketperm", "700"):
            store = RedisTokenStore.from_url(f"unix://{socket_path}?db=2", keyring())
            try:
                await exercise(store)
            finally:
                await store.aclose()
    finally:
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture
def sentinel_url() -> Iterator[str]:
    """A master plus one sentinel watching it, as ``redis+sentinel://`` with master auth."""
    with run_redis_server("--requirepass", "master-secret-123") as (master_url, _master):
        master_port = master_url.rsplit(":", 1)[1].split("/")[0]
        directory = tempfile.mkdtemp(prefix="fve-sentinel-")
        port = free_port()
        config = os.path.join(directory, "sentinel.conf")
        with open(config, "w") as handle:
            handle.write(
                f"port {port}\nbind 127.0.0.1\ndir {directory}\n"
                f"sentinel monitor fve 127.0.0.1 {master_port} 1\n"
                "sentinel auth-pass fve master-secret-123\n"
            )
        proc = subprocess.Popen(
            [shutil.which("redis-server") or "redis-server", config, "--sentinel"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            wait_for_port("127.0.0.1", port, proc=proc)
            yield f"redis+sentinel://:master-secret-123@127.0.0.1:{port}/fve/3"
        finally:
            proc.terminate()
            proc.wait(timeout=10)
            shutil.rmtree(directory, ignore_errors=True)


@pytest.mark.anyio
async def test_sentinel_url(sentinel_url: str) -> None:
    store = RedisTokenStore.from_url(sentinel_url, keyring())
    try:
        await exercise(store)
    finally:
        await store.aclose()
    direct = sync_redis.Redis(
        port=int(_master_port(sentinel_url)), password="master-secret-123", db=3
    )
    try:
        assert direct.hget(f"fve:{{{CREATOR}}}:t", "r") is not None  # the write went to db 3
    finally:
        direct.close()


def _master_port(sentinel_url: str) -> str:
    sentinel_port = sentinel_url.rsplit("@", 1)[1].split("/")[0].rsplit(":", 1)[1]
    client = sync_redis.Redis(port=int(sentinel_port))
    try:
        address = client.sentinel_get_master_addr_by_name("fve")
        assert isinstance(address, tuple), address  # False when Sentinel knows no such master
        return str(address[1])
    finally:
        client.close()
