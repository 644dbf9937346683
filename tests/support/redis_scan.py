"""Look through everything in a Redis database for token plaintext (a test-suite safety net)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from .redis_topology import SyncClient, sync_client

DEFAULT_MARKERS = ("eyJ", "ory_rt_", "ory_ac_")


def find_plaintext_tokens(redis_url: str, markers: Sequence[str] = DEFAULT_MARKERS) -> list[str]:
    """Names of the keys whose name or content (any type) contains one of ``markers``.
    ``redis_url`` may name a standalone server or a cluster (every master is scanned)."""
    client = sync_client(redis_url)
    try:
        return plaintext_keys(client, markers)
    finally:
        client.close()


def plaintext_keys(client: SyncClient, markers: Sequence[str] = DEFAULT_MARKERS) -> list[str]:
    """:func:`find_plaintext_tokens` on a client the caller holds."""
    needles = [marker.encode() for marker in markers]
    offending = [
        key.decode("utf-8", "replace")
        for key in client.scan_iter(count=500)
        if _contains(needles, [key, *_contents(client, key)])
    ]
    return sorted(offending)


def _contents(client: SyncClient, key: bytes) -> list[bytes]:
    kind = client.type(key).decode()
    if kind == "string":
        value = client.get(key)
        return [] if value is None else [value]
    if kind == "hash":
        return [item for pair in client.hgetall(key).items() for item in pair]
    if kind == "list":
        return list(client.lrange(key, 0, -1))
    if kind == "set":
        return list(client.smembers(key))
    if kind == "zset":
        return [member for member, _score in client.zrange(key, 0, -1, withscores=True)]
    if kind == "stream":
        return [
            item for _id, fields in client.xrange(key) for pair in fields.items() for item in pair
        ]
    return []  # "none": expired between SCAN and TYPE


def _contains(needles: Iterable[bytes], blobs: Iterable[bytes]) -> bool:
    haystacks = [bytes(blob) for blob in blobs]
    return any(needle in haystack for needle in needles for haystack in haystacks)
