"""Synchronous raw Redis access for tests, the same for a standalone server and a Cluster.

The library's own clients come from ``fanvue_embedded._redis.redis_from_url`` (async); tests
that look at Redis directly from synchronous code (multi-process tests, the end-of-run scan)
use :func:`sync_client`, which reads the same URL forms: ``redis://...`` and
``redis+cluster://host:port`` (any node as the seed).
"""

from __future__ import annotations

from typing import TypeAlias

import pytest
import redis
import redis.asyncio as aioredis

from fanvue_embedded._redis import cluster_seed_url

SyncClient: TypeAlias = "redis.Redis | redis.RedisCluster"


def sync_client(url: str) -> SyncClient:
    """A blocking redis-py client for ``url`` (bytes in, bytes out)."""
    seed = cluster_seed_url(url)
    if seed is not None:
        return _ClusterClient.from_url(seed)
    return redis.Redis.from_url(url)


class _ClusterClient(redis.RedisCluster):
    """``close()`` also drops the per-node pools' connections, which redis-py's sync
    ``RedisCluster.close()`` leaves open (they surface as unclosed-socket warnings)."""

    def close(self) -> None:
        self.disconnect_connection_pools()  # type: ignore[no-untyped-call]  # unannotated upstream
        super().close()


def key_count(client: SyncClient) -> int:
    """Keys in the database (summed over every master of a cluster)."""
    if isinstance(client, redis.RedisCluster):
        sizes = client.dbsize(target_nodes=redis.RedisCluster.PRIMARIES)
        return int(sum(sizes.values()) if isinstance(sizes, dict) else sizes)
    return int(client.dbsize())


def flush(url: str) -> None:
    """Empty the database at ``url`` (every master of a cluster)."""
    client = sync_client(url)
    try:
        if isinstance(client, redis.RedisCluster):
            client.flushall(target_nodes=redis.RedisCluster.PRIMARIES)
        else:
            client.flushdb()
    finally:
        client.close()


def redis_url_for(request: pytest.FixtureRequest, topology: str) -> str:
    """The session's Redis of ``topology`` (``"redis"`` or ``"cluster"``), emptied for this
    test: for fixtures that choose the topology themselves, e.g. beside an in-memory variant."""
    fixture = "redis_cluster_url" if topology == "cluster" else "redis_standalone_url"
    url: str = request.getfixturevalue(fixture)
    return url


def decoding_async_client(url: str) -> aioredis.Redis | aioredis.RedisCluster:
    """An asyncio client built with ``decode_responses=True``: the wrong kind for the stores,
    which must refuse it (``redis_from_url`` never builds one)."""
    seed = cluster_seed_url(url)
    if seed is not None:
        return aioredis.RedisCluster.from_url(seed, decode_responses=True)
    return aioredis.Redis.from_url(url, decode_responses=True)
