"""The Redis :class:`~.records.InboxStore`.

Layout (``b`` = one of 16 buckets chosen by the delivery id's SHA-256, so the keys of one
delivery and its bucket's indexes share a hash tag: each step is one Lua script, atomic on a
Cluster too, and the load spreads over 16 slots)::

    {prefix}:{webhooks:b}:d:<delivery>  hash  v=sealed payload s=state n=attempts t=type
                                              r=received at a=next attempt at e=errors
    {prefix}:{webhooks:b}:due           zset  delivery -> next attempt (pending records)
    {prefix}:{webhooks:b}:failed        zset  delivery -> failed at (attempts exhausted)
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any, Literal

from .._redis import RedisClient, close_redis, ensure_bytes_client, translate_redis_errors
from .records import Claimed, DeliveryInfo, State

__all__ = ["BUCKETS", "RedisInboxStore"]

BUCKETS = 16
_FIELDS = ("v", "s", "n", "t", "r", "a", "e")

# KEYS: record, due. ARGV: delivery, blob, type, now, lease_until, ttl_ms
_RECORD = """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'v', ARGV[2], 's', 'pending', 'n', 1, 't', ARGV[3],
           'r', ARGV[4], 'a', ARGV[5], 'e', '')
redis.call('PEXPIRE', KEYS[1], ARGV[6])
redis.call('ZADD', KEYS[2], ARGV[5], ARGV[1])
return 1
"""
# KEYS: record, due. ARGV: delivery, now, lease_until
_CLAIM = """
local score = redis.call('ZSCORE', KEYS[2], ARGV[1])
if not score or tonumber(score) > tonumber(ARGV[2]) then return false end
if redis.call('HGET', KEYS[1], 's') ~= 'pending' then
  redis.call('ZREM', KEYS[2], ARGV[1])
  return false
end
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[1])
redis.call('HINCRBY', KEYS[1], 'n', 1)
redis.call('HSET', KEYS[1], 'a', ARGV[3])
return redis.call('HMGET', KEYS[1], 'v', 's', 'n', 't', 'r', 'a', 'e')
"""
# KEYS: record, due. ARGV: delivery, ttl_ms
_COMPLETE = """
redis.call('ZREM', KEYS[2], ARGV[1])
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HDEL', KEYS[1], 'v')
redis.call('HSET', KEYS[1], 's', 'done', 'a', '', 'e', '')
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
"""
# KEYS: record, due, failed. ARGV: delivery, errors, retry_at ('' = exhausted), now, ttl_ms
_FAIL = """
if redis.call('EXISTS', KEYS[1]) == 0 then
  redis.call('ZREM', KEYS[2], ARGV[1])
  return 0
end
redis.call('HSET', KEYS[1], 'e', ARGV[2])
if ARGV[3] ~= '' then
  redis.call('ZADD', KEYS[2], ARGV[3], ARGV[1])
  redis.call('HSET', KEYS[1], 'a', ARGV[3])
else
  redis.call('ZREM', KEYS[2], ARGV[1])
  redis.call('ZADD', KEYS[3], ARGV[4], ARGV[1])
  redis.call('HSET', KEYS[1], 's', 'failed', 'a', '')
  redis.call('PEXPIRE', KEYS[1], ARGV[5])
end
return 1
"""
# KEYS: record, due, failed. ARGV: delivery, now, ttl_ms
_REQUEUE = """
if redis.call('HGET', KEYS[1], 's') ~= 'failed' then
  redis.call('ZREM', KEYS[3], ARGV[1])
  return 0
end
redis.call('ZREM', KEYS[3], ARGV[1])
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[1])
redis.call('HSET', KEYS[1], 's', 'pending', 'n', 0, 'a', ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1
"""


def _ms(seconds: float) -> int:
    return max(1, round(seconds * 1000))


def _text(value: Any) -> str:
    if value is None:
        return ""
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


def _info(delivery: str, values: Sequence[Any]) -> DeliveryInfo | None:
    """A ``DeliveryInfo`` from ``HMGET`` of ``_FIELDS`` (None if the record is gone)."""
    state, attempts, event_type, received, next_at, errors = (
        _text(value)
        for value in values[1:]  # values[0] is the sealed payload: binary
    )
    if state not in ("pending", "failed", "done"):
        return None
    resolved: State = state  # type: ignore[assignment]  # checked just above
    return DeliveryInfo(
        delivery=delivery,
        type=event_type,
        state=resolved,
        attempts=int(attempts or 0),
        received_at=float(received or 0),
        next_attempt_at=float(next_at) if next_at else None,
        errors=tuple(e for e in errors.split(",") if e),
    )


class RedisInboxStore:
    """:class:`~.records.InboxStore` on Redis (standalone, Sentinel or Cluster).

    Connection failures raise ``StoreUnavailable``. A client passed in stays the caller's to
    close unless ``close_client``.
    """

    def __init__(
        self, redis: RedisClient, prefix: str = "fve", *, close_client: bool = False
    ) -> None:
        ensure_bytes_client(redis)
        self._redis = redis
        self._prefix = prefix
        self._close_client = close_client
        self._record = redis.register_script(_RECORD)
        self._claim = redis.register_script(_CLAIM)
        self._complete = redis.register_script(_COMPLETE)
        self._fail = redis.register_script(_FAIL)
        self._requeue = redis.register_script(_REQUEUE)

    def _tag(self, bucket: int) -> str:
        return f"{self._prefix}:{{webhooks:{bucket}}}"

    def _keys(self, delivery: str) -> tuple[str, str, str]:
        bucket = hashlib.sha256(delivery.encode()).digest()[0] % BUCKETS
        tag = self._tag(bucket)
        return f"{tag}:d:{delivery}", f"{tag}:due", f"{tag}:failed"

    async def record(
        self,
        delivery: str,
        event_type: str,
        blob: bytes,
        *,
        now: float,
        lease_until: float,
        ttl: float,
    ) -> bool:
        record, due, _ = self._keys(delivery)
        args: list[bytes | str | int] = [
            delivery,
            blob,
            event_type,
            repr(now),
            repr(lease_until),
            _ms(ttl),
        ]
        async with translate_redis_errors():
            return bool(await self._record(keys=[record, due], args=args))

    async def claim_due(self, now: float, lease_until: float, limit: int) -> list[Claimed]:
        claimed: list[Claimed] = []
        async with translate_redis_errors():
            for bucket in range(BUCKETS):
                if len(claimed) >= limit:
                    break
                candidates = await self._redis.zrangebyscore(
                    f"{self._tag(bucket)}:due",
                    "-inf",
                    repr(now),
                    start=0,
                    num=limit - len(claimed),
                )
                for raw in candidates:
                    delivery = _text(raw)
                    record, due, _ = self._keys(delivery)
                    values = await self._claim(
                        keys=[record, due], args=[delivery, repr(now), repr(lease_until)]
                    )
                    if not values or values[0] is None:
                        continue
                    info = _info(delivery, values)
                    if info is not None:
                        claimed.append(Claimed(info, bytes(values[0])))
        return claimed

    async def complete(self, delivery: str, *, ttl: float) -> None:
        record, due, _ = self._keys(delivery)
        async with translate_redis_errors():
            await self._complete(keys=[record, due], args=[delivery, _ms(ttl)])

    async def fail(
        self,
        delivery: str,
        errors: tuple[str, ...],
        *,
        retry_at: float | None,
        now: float,
        failed_ttl: float,
    ) -> None:
        keys = list(self._keys(delivery))
        retry = "" if retry_at is None else repr(retry_at)
        args: list[str | int] = [delivery, ",".join(errors), retry, repr(now), _ms(failed_ttl)]
        async with translate_redis_errors():
            await self._fail(keys=keys, args=args)

    async def requeue(self, delivery: str, *, now: float, ttl: float) -> bool:
        keys = list(self._keys(delivery))
        async with translate_redis_errors():
            return bool(await self._requeue(keys=keys, args=[delivery, repr(now), _ms(ttl)]))

    async def info(self, delivery: str) -> DeliveryInfo | None:
        record, _, _ = self._keys(delivery)
        async with translate_redis_errors():
            values = await self._redis.hmget(record, list(_FIELDS))
        return _info(delivery, values)

    async def in_state(self, state: Literal["pending", "failed"], limit: int) -> list[DeliveryInfo]:
        index = "due" if state == "pending" else "failed"
        scored: list[tuple[float, str]] = []
        async with translate_redis_errors():
            for bucket in range(BUCKETS):
                entries = await self._redis.zrange(
                    f"{self._tag(bucket)}:{index}", 0, limit - 1, withscores=True
                )
                scored += [(float(pair[1]), _text(pair[0])) for pair in entries]
            scored.sort()
            found: list[DeliveryInfo] = []
            for _score, delivery in scored[:limit]:
                info = await self.info(delivery)
                if info is not None and info.state == state:
                    found.append(info)
        return found

    async def forget(self, delivery: str) -> None:
        record, due, failed = self._keys(delivery)
        async with translate_redis_errors():
            await self._redis.delete(record)
            await self._redis.zrem(due, delivery)
            await self._redis.zrem(failed, delivery)

    async def aclose(self) -> None:
        if self._close_client:
            await close_redis(self._redis)
