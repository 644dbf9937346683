"""``RedisTokenStore``: the token store on Redis (standalone, Sentinel or Cluster)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace

from redis.asyncio.cluster import RedisCluster

from .._redis import (
    DEFAULT_MAX_CONNECTIONS,
    DEFAULT_POOL_TIMEOUT,
    DEFAULT_SOCKET_TIMEOUT,
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
from .cache import DEFAULT_CACHE_SIZE, TokenCache
from .codec import deserialize, serialize
from .decode_cache import DecodedCache
from .invalidation import DEFAULT_CHECK_INTERVAL, InvalidationListener
from .protocol import (
    ReauthorizationMark,
    RefreshAttempt,
    RefreshBegin,
    StoredTokens,
    check_creator,
    check_fingerprint,
    token_context,
)
from .scripts import ABORT, ATTEMPT, BEGIN, CLEAR_ATTEMPT, COMMIT, DELETE, MARK, REENCRYPT, SAVE

__all__ = ["RedisTokenStore"]


class RedisTokenStore:
    """:class:`TokenStore` on Redis (standalone, Sentinel or Cluster).

    Layout (``{...}`` is a hash tag so a creator's keys share a Cluster slot)::

        {prefix}:{<creator>}:t   hash  g=generation v=ciphertext u=updated_at
                                       a="fingerprint|time" r="reason|time"
        {prefix}:{<creator>}:l   string  the creator's lock (owner token, PX ttl)
        {prefix}:keepalive       zset  creator -> keepalive due time (also the creator index)
        {prefix}:inv             pub/sub channel  "creator|generation" after every write

    Every compare-and-set is a Lua script on the creator's keys that also publishes the
    invalidation. On a standalone (or Sentinel) server the script updates the keepalive entry
    too; on a Cluster that set lives in another slot, so the entry is updated by a command
    sent alongside. It is advisory: a crash between the two at worst leaves a schedule the
    keepalive worker will correct.

    Decrypted sets are kept in process memory (:class:`TokenCache`) and served by
    :meth:`cached` while the invalidation channel is live (``cache=False`` turns it off).

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
        cache: bool = True,
        cache_size: int = DEFAULT_CACHE_SIZE,
        check_interval: float = DEFAULT_CHECK_INTERVAL,
    ) -> None:
        ensure_bytes_client(redis)
        self._cache = TokenCache(cache_size)
        self._keyring = keyring
        self._redis = redis
        self._prefix = prefix
        self._clock = clock
        self._close_client = close_client
        self._keepalive_key = f"{prefix}:keepalive"
        self.channel = f"{prefix}:inv"
        # On one server a script may touch the keepalive set too; on a Cluster it may not.
        self._standalone = not isinstance(redis, RedisCluster)
        self._listener = (
            InvalidationListener(redis, self.channel, self._cache, check_interval=check_interval)
            if cache
            else None
        )
        self._save_script = redis.register_script(SAVE)
        self._begin_script = redis.register_script(BEGIN)
        self._commit_script = redis.register_script(COMMIT)
        self._abort_script = redis.register_script(ABORT)
        self._delete_script = redis.register_script(DELETE)
        self._mark_script = redis.register_script(MARK)
        self._attempt_script = redis.register_script(ATTEMPT)
        self._reencrypt_script = redis.register_script(REENCRYPT)
        self._clear_attempt_script = redis.register_script(CLEAR_ATTEMPT)
        self._decoded = DecodedCache()

    @classmethod
    def from_url(
        cls,
        url: str,
        keyring: Keyring,
        prefix: str = "fve",
        *,
        clock: Clock = system_clock,
        cache: bool = True,
        max_connections: int = DEFAULT_MAX_CONNECTIONS,
        pool_timeout: float = DEFAULT_POOL_TIMEOUT,
        socket_timeout: float = DEFAULT_SOCKET_TIMEOUT,
    ) -> RedisTokenStore:
        """A store on its own client for ``url`` (see :func:`redis_from_url` for schemes and
        the pool and timeout settings)."""
        client = redis_from_url(
            url,
            max_connections=max_connections,
            pool_timeout=pool_timeout,
            socket_timeout=socket_timeout,
        )
        return cls(client, keyring, prefix, clock=clock, close_client=True, cache=cache)

    def __repr__(self) -> str:
        return f"RedisTokenStore(prefix={self._prefix!r}, keyring={self.keyring!r})"

    @property
    def keyring(self) -> Keyring:
        return self._keyring

    @keyring.setter
    def keyring(self, keyring: Keyring) -> None:
        # A new keyring (rotation, a key withdrawn): what was decrypted before is read again.
        self._keyring = keyring
        self._cache.clear()
        self._decoded.clear()

    def _key(self, creator: str) -> str:
        check_creator(creator)
        return f"{self._prefix}:{{{creator}}}:t"

    def _lock_key(self, creator: str) -> str:
        return f"{self._prefix}:{{{creator}}}:l"

    def _with_schedule(self, key: str) -> list[str]:
        return [key, self._keepalive_key] if self._standalone else [key]

    # -- the in-process cache ----------------------------------------------------------

    def cached(self, creator: str) -> StoredTokens | None:
        if self._listener is None:
            return None
        self._listener.start()
        return self._cache.get(creator)

    def forget(self, creator: str) -> None:
        self._cache.forget(creator)

    async def changed(self, creator: str, timeout: float) -> bool:  # noqa: ASYNC109
        if self._listener is None or not self._cache.live:
            # Nobody announces: the wait is the caller's poll interval, never a spin.
            await asyncio.sleep(timeout)
            return False
        return await self._cache.changed(creator, timeout)

    @property
    def cache_live(self) -> bool:
        """True while the invalidation channel is subscribed (the cache may serve)."""
        return self._cache.live

    def _decode(self, creator: str, blob: bytes) -> TokenSet:
        cached = self._decoded.get(creator, blob)
        if cached is not None:
            return cached
        opened = self.keyring.decrypt(blob, context=token_context(creator))
        tokens = deserialize(opened.plaintext)
        if opened.is_current:
            self._decoded.put(creator, blob, tokens)
        return tokens

    async def load(self, creator: str) -> StoredTokens | None:
        key = self._key(creator)
        ticket = self._cache.open(creator)
        try:
            async with translate_redis_errors():
                raw_generation, blob, raw_updated = await self._redis.hmget(key, ["g", "v", "u"])
            if blob is None:
                self._cache.fill(ticket, None)
                return None
            generation = int(_text(raw_generation))
            updated_at = float(_text(raw_updated)) if raw_updated is not None else 0.0
            cached = self._decoded.get(creator, _blob(blob))
            if cached is not None:
                stored = StoredTokens(creator, cached, generation, updated_at)
                self._cache.fill(ticket, stored)
                return stored
            opened = self.keyring.decrypt(_blob(blob), context=token_context(creator))
            tokens = deserialize(opened.plaintext)
            if opened.is_current:
                self._decoded.put(creator, _blob(blob), tokens)
            else:
                # Lazy rotation: rewrite under the newest key unless a write raced us.
                fresh = self.keyring.encrypt(opened.plaintext, context=token_context(creator))
                async with translate_redis_errors():
                    await self._reencrypt_script(
                        keys=[key], args=[generation, fresh, self.channel, creator]
                    )
            stored = StoredTokens(creator, tokens, generation, updated_at)
            self._cache.fill(ticket, stored)
            return stored
        finally:
            self._cache.close(ticket)

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
        updated_at = self._clock()
        score = tokens.expires_at if keepalive_at is None else keepalive_at
        only_new = "NX" if keepalive_at is None else ""
        ticket = self._cache.open(creator)
        try:
            async with translate_redis_errors():
                won, generation = await self._save_script(
                    keys=self._with_schedule(key),
                    args=[
                        expected,
                        blob,
                        repr(updated_at),
                        self.channel,
                        creator,
                        repr(score),
                        only_new,
                    ],
                )
                if not won:
                    raise GenerationConflict(f"generation is {generation}, expected {expected}")
                if not self._standalone:
                    await self._redis.zadd(
                        self._keepalive_key, {creator: score}, nx=keepalive_at is None
                    )
            kept = _as_stored(tokens)
            self._decoded.put(creator, blob, kept)
            self._cache.fill(ticket, StoredTokens(creator, kept, int(generation), updated_at))
        finally:
            self._cache.close(ticket)
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
            marked = await self._mark_script(
                keys=self._with_schedule(key),
                args=[expected, f"{reason}|{now!r}", self.channel, creator],
            )
            if marked and not self._standalone:
                await self._redis.zrem(self._keepalive_key, creator)
        if marked:
            self._cache.invalidate(creator, None)
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
            removed = await self._delete_script(
                keys=self._with_schedule(key), args=[self.channel, creator]
            )
            if not self._standalone:
                await self._redis.zrem(self._keepalive_key, creator)
        self._cache.invalidate(creator, None)
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
            done = await self._reencrypt_script(
                keys=[key], args=[_text(raw_generation), fresh, self.channel, creator]
            )
        return bool(done)

    def lock(
        self, creator: str, ttl: float, *, acquire_timeout: float | None = None
    ) -> CreatorLock:
        check_creator(creator)
        return RedisCreatorLock(
            self._redis, self._lock_key(creator), ttl, acquire_timeout=acquire_timeout
        )

    # -- the refresh coordinator's two steps ---------------------------------------------

    async def begin_refresh(
        self,
        creator: str,
        *,
        owner: str,
        ttl: float,
        now: float,
        seen_generation: int | None,
        min_age: float,
    ) -> RefreshBegin:
        key = self._key(creator)
        args: list[str | int] = [
            owner,
            _milliseconds(ttl),
            repr(float(now)),
            "" if seen_generation is None else str(int(seen_generation)),
            repr(float(min_age)) if min_age > 0 else "",
        ]
        async with translate_redis_errors():
            reply = await self._begin_script(keys=[key, self._lock_key(creator)], args=args)
        state, generation = _text(reply[0]), int(reply[1])
        if state == "absent":
            mark = None
            if len(reply) > 2 and reply[2] is not None:
                reason, at = _split_stamp(reply[2])
                mark = ReauthorizationMark(reason, at)
            return RefreshBegin("absent", generation, mark=mark)
        if state == "busy":
            return RefreshBegin("busy", generation)
        blob = _blob(reply[2])
        updated_at = float(_text(reply[3])) if len(reply) > 3 and reply[3] is not None else 0.0
        stored = StoredTokens(creator, self._decode(creator, blob), generation, updated_at)
        if state == "locked":
            fingerprint, at = _split_stamp(reply[4])
            return RefreshBegin(
                "locked", generation, stored, attempt=RefreshAttempt(fingerprint, at)
            )
        if state in ("moved", "recent"):
            return RefreshBegin(state, generation, stored)  # type: ignore[arg-type]
        raise StoreError(f"unexpected refresh state from Redis: {state!r}")

    async def commit_refresh(
        self,
        creator: str,
        tokens: TokenSet,
        *,
        owner: str,
        expected_generation: int,
        keepalive_at: float,
    ) -> int:
        key = self._key(creator)
        blob = self.keyring.encrypt(serialize(tokens), context=token_context(creator))
        updated_at = self._clock()
        keys = [key, self._lock_key(creator)]
        if self._standalone:
            keys.append(self._keepalive_key)
        args: list[str | bytes] = [
            owner,
            str(int(expected_generation)),
            blob,
            repr(updated_at),
            self.channel,
            creator,
            repr(float(keepalive_at)),
        ]
        ticket = self._cache.open(creator)
        try:
            async with translate_redis_errors():
                if self._standalone:
                    won, generation = await self._commit_script(keys=keys, args=args)
                else:
                    # Another slot: sent alongside, so still one round trip. XX: a creator
                    # revoked or marked meanwhile is not scheduled again.
                    (won, generation), _ = await asyncio.gather(
                        self._commit_script(keys=keys, args=args),
                        self._redis.zadd(self._keepalive_key, {creator: keepalive_at}, xx=True),
                    )
            if not won:
                raise GenerationConflict(
                    f"generation is {generation}, expected {expected_generation}"
                )
            kept = _as_stored(tokens)
            self._decoded.put(creator, blob, kept)
            self._cache.fill(ticket, StoredTokens(creator, kept, int(generation), updated_at))
        finally:
            self._cache.close(ticket)
        return int(generation)

    async def abort_refresh(self, creator: str, *, owner: str, forget_attempt: int | None) -> bool:
        key = self._key(creator)
        forget = "" if forget_attempt is None else str(int(forget_attempt))
        async with translate_redis_errors():
            released = await self._abort_script(
                keys=[key, self._lock_key(creator)], args=[owner, forget, self.channel, creator]
            )
        return bool(released)

    async def ping(self) -> bool:
        """True when Redis answers (readiness)."""
        try:
            async with translate_redis_errors():
                return bool(await self._redis.ping())
        except StoreUnavailable:
            return False

    async def aclose(self) -> None:
        if self._listener is not None:
            await self._listener.aclose()
        if self._close_client:
            await close_redis(self._redis)


def _as_stored(tokens: TokenSet) -> TokenSet:
    """``tokens`` as a load returns them: the id_token is not kept (see ``codec``)."""
    return tokens if tokens.id_token is None else replace(tokens, id_token=None)


def _milliseconds(seconds: float) -> int:
    return max(1, round(seconds * 1000))


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
