"""Operator commands as separate processes: keys rotate, tokens list/revoke, check."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys

import pytest
import redis

from fanvue_embedded._redis import redis_from_url
from fanvue_embedded.cli import dev_environment
from fanvue_embedded.config import parse_encryption_keys
from fanvue_embedded.crypto import Keyring, generate_key
from fanvue_embedded.models import TokenSet
from fanvue_embedded.store import RedisTokenStore
from tests.support.emulator import EmulatorHandle
from tests.support.redis_cluster import run_redis_cluster
from tests.support.redis_server import run_redis_server
from tests.support.redis_topology import sync_client
from tests.support.servers import bare_env

pytestmark = pytest.mark.both_topologies

OLD_KEY = generate_key("old")
NEW_KEY = generate_key("new")
TOKENS = TokenSet(
    access_token="eyJops.access.token",
    expires_at=2_000_000_000.0,
    refresh_token="ory_rt_ops_refresh",
    scopes=frozenset({"read:self"}),
)


def cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "fanvue_embedded.cli", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=bare_env(env),
        check=False,
    )


def environment(
    redis_url: str, emulator: EmulatorHandle | None = None, keys: str = NEW_KEY
) -> dict[str, str]:
    platform = emulator.base_url if emulator else "http://127.0.0.1:9"
    env = dev_environment(app_url="http://127.0.0.1:8000", platform_url=platform, environ={})
    env.update(REDIS_URL=redis_url, TOKEN_ENCRYPTION_KEYS=keys)
    return env


async def seed(redis_url: str, keys: str, creators: list[str]) -> None:
    store = RedisTokenStore.from_url(redis_url, Keyring(parse_encryption_keys(keys)))
    try:
        for creator in creators:
            await store.save(creator, TOKENS, expected_generation=None, keepalive_at=1.0)
    finally:
        await store.aclose()


async def blobs_current(redis_url: str, keys: str, creators: list[str]) -> list[bool]:
    client = redis_from_url(redis_url)
    keyring = Keyring(parse_encryption_keys(keys))
    try:
        results = []
        for creator in creators:
            blob = await client.hget(f"fve:{{{creator}}}:t", "v")
            assert isinstance(blob, bytes), blob  # the store's clients never decode
            results.append(keyring.decrypt(blob, context=f"tokens|{creator}").is_current)
        return results
    finally:
        await client.aclose()


def test_keys_rotate_reencrypts_everything(redis_url: str) -> None:
    creators = [f"creator-{n}" for n in range(7)]
    asyncio.run(seed(redis_url, OLD_KEY, creators))
    rotated_keys = f"{OLD_KEY},{NEW_KEY}"
    assert asyncio.run(blobs_current(redis_url, rotated_keys, creators)) == [False] * 7
    result = cli("keys", "rotate", env=environment(redis_url, keys=rotated_keys))
    assert result.returncode == 0, result.stderr
    assert "7 of 7" in result.stdout
    assert asyncio.run(blobs_current(redis_url, NEW_KEY, creators)) == [True] * 7
    again = cli("keys", "rotate", env=environment(redis_url, keys=rotated_keys))
    assert "0 of 7" in again.stdout  # resumable: nothing left to do


def test_tokens_list_and_revoke_never_print_tokens(redis_url: str) -> None:
    asyncio.run(seed(redis_url, NEW_KEY, ["c-1", "c-2"]))
    listing = cli("tokens", "list", env=environment(redis_url))
    assert listing.returncode == 0, listing.stderr
    rows = [json.loads(line) for line in listing.stdout.splitlines()]
    assert sorted(row["creator"] for row in rows) == ["c-1", "c-2"]
    assert all(row["has_refresh_token"] for row in rows)
    for leak in (TOKENS.access_token, "ory_rt_ops_refresh"):
        assert leak not in listing.stdout + listing.stderr
    revoked = cli("tokens", "revoke", "c-1", env=environment(redis_url))
    assert revoked.returncode == 0
    assert cli("tokens", "revoke", "c-1", env=environment(redis_url)).returncode == 1
    rows = [
        json.loads(line)
        for line in cli("tokens", "list", env=environment(redis_url)).stdout.splitlines()
    ]
    assert [row["creator"] for row in rows] == ["c-2"]


def test_check_reports_persistence_and_reachability(
    emulator: EmulatorHandle, tmp_path: object
) -> None:
    with run_redis_server(appendonly=True) as (url, _proc):
        result = cli("check", env=environment(url, emulator))
    assert result.returncode == 0, result.stdout
    assert "AOF on" in result.stdout
    assert "verdict: OK" in result.stdout
    with run_redis_server() as (url, _proc):
        no_aof = cli("check", env=environment(url, emulator))
    assert "WARN redis persistence" in no_aof.stdout  # development: a warning


def test_check_reports_persistence_of_every_cluster_master(emulator: EmulatorHandle) -> None:
    # Each master persists only its own slots: one without AOF can lose some creators' chains.
    with run_redis_cluster(3, appendonly=True) as url:
        all_on = cli("check", env=environment(url, emulator))
        cluster = sync_client(url)
        assert isinstance(cluster, redis.RedisCluster), url
        try:
            primaries = cluster.get_primaries()  # type: ignore[no-untyped-call]  # unannotated upstream
            ports = sorted(node.port for node in primaries)
        finally:
            cluster.close()
        with redis.Redis(port=ports[-1]) as node:
            node.config_set("appendonly", "no")
        one_off = cli("check", env=environment(url, emulator))
    assert all_on.returncode == 0, all_on.stdout
    assert "OK   redis: reachable (3 cluster masters); AOF on;" in all_on.stdout
    assert "redis persistence" not in all_on.stdout
    assert "AOF partly on" in one_off.stdout
    # development mode: a warning that names the one master to fix
    assert f"WARN redis persistence: appendonly is off on 127.0.0.1:{ports[-1]}:" in one_off.stdout


def test_check_fails_when_redis_is_unreachable(emulator: EmulatorHandle) -> None:
    result = cli("check", env=environment("redis://127.0.0.1:9/0", emulator))
    assert result.returncode == 1
    assert "FAIL redis" in result.stdout
    assert "verdict: FAIL" in result.stdout
