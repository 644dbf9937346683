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
    kind = _raw(client.type(key)).decode()
    if kind == "string":
        value = client.get(key)
        return [] if value is None else [_raw(value)]
    if kind == "hash":
        return [_raw(item) for pair in client.hgetall(key).items() for item in pair]
    if kind == "list":
        return [_raw(item) for item in client.lrange(key, 0, -1)]
    if kind == "set":
        return [_raw(item) for item in client.smembers(key)]
    if kind == "zset":
        return [_raw(member) for member in client.zrange(key, 0, -1)]
    if kind == "stream":
        entries = client.xrange(key) or []
        return [
            _raw(item)
            for _id, fields in entries
            for pair in (fields or {}).items()
            for item in pair
        ]
    return []  # "none": expired between SCAN and TYPE


def _raw(value: object) -> bytes:
    """One reply as bytes. The scan's clients never decode, but redis-py types replies as
    ``bytes | str`` (and members loosely): a str is scanned as its UTF-8 bytes."""
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode()
    raise TypeError(f"unexpected Redis reply of type {type(value).__name__}")


def _contains(needles: Iterable[bytes], blobs: Iterable[bytes]) -> bool:
    haystacks = [bytes(blob) for blob in blobs]
    return any(needle in haystack for needle in needles for haystack in haystacks)
