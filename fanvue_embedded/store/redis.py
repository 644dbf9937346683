"""``RedisTokenStore``: the token store on Redis (standalone, Sentinel or Cluster)."""

from __future__ import annotations

from collections.abc import AsyncIterator

from .._redis import (
    RedisClient,
    close_redis,
    ensure_bytes_client,
    redis_from_url,
    translate_redis_errors,
)
from ..crypto import Keyring
from ..errors import GenerationConflict, StoreError, StoreUnavailable
from ..lock import CreatorLock, RedisCreatorLock
from ..models import Clock, TokenSet, system_clock
from .codec import deserialize, serialize
from .decode_cache import DecodedCache
from .protocol import (
    ReauthorizationMark,
    RefreshAttempt,
    StoredTokens,
    check_creator,
    check_fingerprint,
    token_context,
)
from .scripts import ATTEMPT, CLEAR_ATTEMPT, MARK, REENCRYPT, SAVE

__all__ = ["RedisTokenStore"]


class RedisTokenStore:
    """:class:`TokenStore` on Redis (standalone, Sentinel or Cluster).

    Layout (``{...}`` is a hash tag so a creator's keys share a Cluster slot)::

        {prefix}:{<creator>}:t   hash  g=generation v=ciphertext u=updated_at
                                       a="fingerprint|time" r="reason|time"
        {prefix}:{<creator>}:l   string  the creator's lock (owner token, PX ttl)
        {prefix}:keepalive       zset  creator -> keepalive due time (also the creator index)

    Every compare-and-set is a Lua script on the one hash key. The keepalive entry is updated
    right after, outside the script (a different slot); it is advisory, so a crash between the
    two at worst leaves a schedule the keepalive worker will correct.

    A client passed in stays the caller's to close; :meth:`from_url` builds one that
    :meth:`aclose` closes. ``keyring`` may be replaced at runtime to rotate keys.
    """

    def __init__(
        self,
        redis: RedisClient,
        keyring: Keyring,
        prefix: str = "fve",
        *,
        clock: Clock = system_clock,
        close_client: bool = False,
    ) -> None:
        ensure_bytes_client(redis)
        self.keyring = keyring
        self._redis = redis
        self._prefix = prefix
        self._clock = clock
        self._close_client = close_client
        self._keepalive_key = f"{prefix}:keepalive"
        self._save_script = redis.register_script(SAVE)
        self._mark_script = redis.register_script(MARK)
        self._attempt_script = redis.register_script(ATTEMPT)
        self._reencrypt_script = redis.register_script(REENCRYPT)
        self._clear_attempt_script = redis.register_script(CLEAR_ATTEMPT)
        self._decoded = DecodedCache()

    @classmethod
    def from_url(
        cls, url: str, keyring: Keyring, prefix: str = "fve", *, clock: Clock = system_clock
    ) -> RedisTokenStore:
        """A store on its own client for ``url`` (see :func:`redis_from_url` for schemes)."""
        return cls(redis_from_url(url), keyring, prefix, clock=clock, close_client=True)

    def __repr__(self) -> str:
        return f"RedisTokenStore(prefix={self._prefix!r}, keyring={self.keyring!r})"

    def _key(self, creator: str) -> str:
        check_creator(creator)
        return f"{self._prefix}:{{{creator}}}:t"

    async def load(self, creator: str) -> StoredTokens | None:
        key = self._key(creator)
        async with translate_redis_errors():
            raw_generation, blob, raw_updated = await self._redis.hmget(key, ["g", "v", "u"])
        if blob is None:
            return None
        generation = int(_text(raw_generation))
        updated_at = float(_text(raw_updated)) if raw_updated is not None else 0.0
        cached = self._decoded.get(creator, _blob(blob))
        if cached is not None:
            return StoredTokens(creator, cached, generation, updated_at)
        opened = self.keyring.decrypt(_blob(blob), context=token_context(creator))
        tokens = deserialize(opened.plaintext)
        if opened.is_current:
            self._decoded.put(creator, _blob(blob), tokens)
        else:
            # Lazy rotation: rewrite under the newest key unless a write raced us.
            fresh = self.keyring.encrypt(opened.plaintext, context=token_context(creator))
            async with translate_redis_errors():
                await self._reencrypt_script(keys=[key], args=[generation, fresh])
        return StoredTokens(creator, tokens, generation, updated_at)

    async def save(
        self,
        creator: str,
        tokens: TokenSet,
        *,
        expected_generation: int | None,
        keepalive_at: float | None = None,
    ) -> int:
        key = self._key(creator)
        blob = self.keyring.encrypt(serialize(tokens), context=token_context(creator))
        expected = "" if expected_generation is None else str(int(expected_generation))
        async with translate_redis_errors():
            won, generation = await self._save_script(
                keys=[key], args=[expected, blob, repr(self._clock())]
            )
            if not won:
                raise GenerationConflict(f"generation is {generation}, expected {expected}")
            if keepalive_at is not None:
                await self._redis.zadd(self._keepalive_key, {creator: keepalive_at})
            else:
                await self._redis.zadd(self._keepalive_key, {creator: tokens.expires_at}, nx=True)
        return int(generation)

    async def generation(self, creator: str) -> int:
        key = self._key(creator)
        async with translate_redis_errors():
            raw = await self._redis.hget(key, "g")
        return 0 if raw is None else int(raw)

    async def mark_reauthorization_required(
        self, creator: str, *, reason: str, now: float, expected_generation: int | None
    ) -> bool:
        key = self._key(creator)
        expected = "" if expected_generation is None else str(int(expected_generation))
        async with translate_redis_errors():
            marked = await self._mark_script(keys=[key], args=[expected, f"{reason}|{now!r}"])
            if marked:
                await self._redis.zrem(self._keepalive_key, creator)
        return bool(marked)

    async def reauthorization_mark(self, creator: str) -> ReauthorizationMark | None:
        key = self._key(creator)
        async with translate_redis_errors():
            raw = await self._redis.hget(key, "r")
        if raw is None:
            return None
        reason, at = _split_stamp(raw)
        return ReauthorizationMark(reason, at)

    async def record_refresh_attempt(
        self, creator: str, fingerprint: str, now: float
    ) -> RefreshAttempt:
        key = self._key(creator)
        check_fingerprint(fingerprint)
        async with translate_redis_errors():
            raw = await self._attempt_script(keys=[key], args=[fingerprint, repr(float(now))])
        recorded, at = _split_stamp(raw)
        return RefreshAttempt(recorded, at)

    async def refresh_attempt(self, creator: str) -> RefreshAttempt | None:
        key = self._key(creator)
        async with translate_redis_errors():
            raw = await self._redis.hget(key, "a")
        if raw is None:
            return None
        fingerprint, at = _split_stamp(raw)
        return RefreshAttempt(fingerprint, at)

    async def clear_refresh_attempt(self, creator: str, fingerprint: str) -> bool:
        key = self._key(creator)
        check_fingerprint(fingerprint)
        async with translate_redis_errors():
            cleared = await self._clear_attempt_script(keys=[key], args=[fingerprint])
        return bool(cleared)

    async def delete(self, creator: str) -> bool:
        key = self._key(creator)
        async with translate_redis_errors():
            removed = await self._redis.delete(key)
            await self._redis.zrem(self._keepalive_key, creator)
        return bool(removed)

    async def due_for_keepalive(self, now: float, limit: int) -> list[str]:
        if limit <= 0:
            return []
        async with translate_redis_errors():
            members = await self._redis.zrangebyscore(
                self._keepalive_key, "-inf", now, start=0, num=limit
            )
        return [_text(member) for member in members]

    async def reschedule_keepalive(self, creator: str, at: float) -> None:
        check_creator(creator)
        async with translate_redis_errors():
            await self._redis.zadd(self._keepalive_key, {creator: at})

    async def iter_creators(self, batch: int = 500) -> AsyncIterator[str]:
        # ZSCAN: a cursor walk that never blocks Redis; a creator present throughout is
        # returned at least once (rarely twice if the set is rehashed meanwhile).
        cursor = 0
        while True:
            async with translate_redis_errors():
                cursor, page = await self._redis.zscan(
                    self._keepalive_key, cursor=cursor, count=batch
                )
            for member, _score in page:
                yield _text(member)
            if cursor == 0:
                return

    async def count(self) -> int:
        async with translate_redis_errors():
            return int(await self._redis.zcard(self._keepalive_key))

    async def reencrypt(self, creator: str) -> bool:
        key = self._key(creator)
        async with translate_redis_errors():
            raw_generation, blob = await self._redis.hmget(key, ["g", "v"])
        if blob is None or raw_generation is None:
            return False
        opened = self.keyring.decrypt(_blob(blob), context=token_context(creator))
        if opened.is_current:
            return False
        fresh = self.keyring.encrypt(opened.plaintext, context=token_context(creator))
        async with translate_redis_errors():
            done = await self._reencrypt_script(keys=[key], args=[_text(raw_generation), fresh])
        return bool(done)

    def lock(
        self, creator: str, ttl: float, *, acquire_timeout: float | None = None
    ) -> CreatorLock:
        check_creator(creator)
        return RedisCreatorLock(
            self._redis,
            f"{self._prefix}:{{{creator}}}:l",
            ttl,
            acquire_timeout=acquire_timeout,
        )

    async def ping(self) -> bool:
        """True when Redis answers (readiness)."""
        try:
            async with translate_redis_errors():
                return bool(await self._redis.ping())
        except StoreUnavailable:
            return False

    async def aclose(self) -> None:
        if self._close_client:
            await close_redis(self._redis)


def _split_stamp(value: object) -> tuple[str, float]:
    """``"text|unix time"`` -> (text, time); the text may itself contain '|'."""
    text, _, stamp = _text(value).rpartition("|")
    return text, float(stamp)


def _text(value: object) -> str:
    # The client is bytes-only (ensure_bytes_client), but redis-py types replies as bytes | str.
    if isinstance(value, bytes):
        return value.decode("utf-8")
    if isinstance(value, str):
        return value
    raise StoreError(f"unexpected reply type from Redis: {type(value).__name__}")


def _blob(value: object) -> bytes:
    if isinstance(value, bytes):
        return value
    raise StoreError(f"unexpected reply type from Redis: {type(value).__name__}")
