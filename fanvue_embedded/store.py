"""The per-creator token store: encrypted token sets behind a generation counter.

Every write of a creator's tokens bumps a *generation*. Writers that base their work on what they
read pass ``expected_generation``; if somebody else wrote in between, the write fails with
:class:`GenerationConflict` instead of replacing a newer refresh token with an older one (the
fencing half of DESIGN §3). Besides the tokens, a creator's record holds:

- the *refresh attempt* (refresh-token fingerprint + when it was first presented), so that a retry
  after a lost response happens only inside the rotation grace window;
- the *re-authorization mark* (why and when the chain died), left when the tokens are dropped;
- a keepalive due time, in one sorted set, so the background worker finds due creators in
  O(log n + due) and that set is also the index of creators with tokens.

Two implementations share one contract (``tests/test_store.py``): :class:`RedisTokenStore` for
production and :class:`MemoryTokenStore` for development and Redis-less library use. Both encrypt
the token set (AES-256-GCM, associated data ``tokens|<creator>``). The stored token set omits the
``id_token``: it is only needed at sign-in and is not kept.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import re
import zlib
from collections import OrderedDict
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Protocol

from ._redis import (
    RedisClient,
    close_redis,
    ensure_bytes_client,
    redis_from_url,
    translate_redis_errors,
)
from .crypto import Keyring
from .errors import GenerationConflict, StoreError, StoreUnavailable
from .lock import CreatorLock, MemoryCreatorLock, RedisCreatorLock
from .models import Clock, TokenSet, system_clock

__all__ = [
    "MemoryTokenStore",
    "ReauthorizationMark",
    "RedisTokenStore",
    "RefreshAttempt",
    "StoredTokens",
    "TokenStore",
]

# Creator ids end up inside Redis key hash tags and encryption contexts: keep them plain.
_CREATOR_ID = re.compile(r"^[A-Za-z0-9._:@-]{1,128}$")


@dataclass(frozen=True, slots=True)
class StoredTokens:
    """A creator's token set as stored, with the generation it was read at."""

    creator: str
    tokens: TokenSet
    generation: int
    updated_at: float


@dataclass(frozen=True, slots=True)
class RefreshAttempt:
    """The refresh token (by fingerprint, never the token) first presented at ``first_attempt_at``."""

    fingerprint: str
    first_attempt_at: float


@dataclass(frozen=True, slots=True)
class ReauthorizationMark:
    """Left behind when a creator's chain died: why (e.g. ``invalid_grant``) and when."""

    reason: str
    at: float


class TokenStore(Protocol):
    """What the refresh coordinator, the session exchange and the CLI need from a store.

    Generations: 0 means "nothing was ever written, or the creator was deleted". Every save and
    every re-authorization mark bumps it, so waiters watching it see both outcomes.
    """

    async def load(self, creator: str) -> StoredTokens | None:
        """The creator's tokens, or None. Raises ``DecryptionError`` on an unreadable value."""
        ...

    async def save(
        self,
        creator: str,
        tokens: TokenSet,
        *,
        expected_generation: int | None,
        keepalive_at: float | None = None,
    ) -> int:
        """Write ``tokens``; returns the new generation.

        ``expected_generation``: None writes unconditionally; 0 requires that no generation exists;
        otherwise it must equal the current one or :class:`GenerationConflict` is raised.
        A save clears the re-authorization mark and the refresh-attempt record.
        ``keepalive_at`` schedules the keepalive; None keeps the current schedule (a creator
        without one is scheduled at the access token's expiry).
        """
        ...

    async def generation(self, creator: str) -> int: ...

    async def mark_reauthorization_required(
        self, creator: str, *, reason: str, now: float, expected_generation: int | None
    ) -> bool:
        """Drop the tokens and record why. False (nothing changed) if the generation moved."""
        ...

    async def reauthorization_mark(self, creator: str) -> ReauthorizationMark | None: ...

    async def record_refresh_attempt(
        self, creator: str, fingerprint: str, now: float
    ) -> RefreshAttempt:
        """Record that the refresh token ``fingerprint`` is being presented. If the record is
        already for that fingerprint it is kept (and returned): the first attempt time counts."""
        ...

    async def refresh_attempt(self, creator: str) -> RefreshAttempt | None: ...

    async def clear_refresh_attempt(self, creator: str, fingerprint: str) -> bool:
        """Forget the attempt record if it is for ``fingerprint`` (the token was certainly not
        consumed, e.g. the request never left). True if a record was removed."""
        ...

    async def delete(self, creator: str) -> bool:
        """Forget the creator entirely (tokens, marks, schedule). True if anything was there."""
        ...

    async def due_for_keepalive(self, now: float, limit: int) -> list[str]:
        """Up to ``limit`` creators whose keepalive is due at ``now``, most overdue first."""
        ...

    async def reschedule_keepalive(self, creator: str, at: float) -> None: ...

    def iter_creators(self, batch: int = 500) -> AsyncIterator[str]:
        """Every creator holding tokens (at least once each; order unspecified)."""
        ...

    async def count(self) -> int:
        """How many creators hold tokens."""
        ...

    async def reencrypt(self, creator: str) -> bool:
        """Re-encrypt under the newest key if an older one sealed the value (no generation
        bump; skipped if a write raced). True if rewritten."""
        ...

    def lock(
        self, creator: str, ttl: float, *, acquire_timeout: float | None = None
    ) -> CreatorLock: ...

    async def ping(self) -> bool: ...

    async def aclose(self) -> None: ...


# --- shared helpers ---------------------------------------------------------------------------


def _check_creator(creator: str) -> None:
    if not isinstance(creator, str) or not _CREATOR_ID.match(creator):
        raise ValueError("creator id must be 1-128 characters of letters, digits, '._:@-'")


def _check_fingerprint(fingerprint: str) -> None:
    if not fingerprint or "|" in fingerprint:
        raise ValueError("fingerprint must be non-empty and must not contain '|'")


def _context(creator: str) -> str:
    return f"tokens|{creator}"


# Plaintext format 1: tag byte + raw DEFLATE of compact JSON (TokenSet.to_dict minus the
# id_token). A JWT access token is stored as its decoded header and payload JSON plus the
# signature segment, rebuilt byte for byte on load: base64 hides the JSON's redundancy from
# DEFLATE, and this is what keeps a creator under 1 KiB of Redis memory. (Compressing before
# encrypting is safe here: nothing an attacker chooses is compressed next to the secrets.)
_PLAINTEXT_FORMAT = b"\x01"
_MAX_PLAINTEXT = 64 * 1024


def _serialize(tokens: TokenSet) -> bytes:
    data = tokens.to_dict()
    data.pop("i", None)  # the id_token is not kept (see the module docstring)
    parts = _jwt_parts(data["a"])
    if parts is not None:
        del data["a"]
        data["h"], data["p"], data["g"] = parts
    packer = zlib.compressobj(9, zlib.DEFLATED, -15)
    raw = json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    return _PLAINTEXT_FORMAT + packer.compress(raw) + packer.flush()


def _deserialize(plaintext: bytes) -> TokenSet:
    if plaintext[:1] != _PLAINTEXT_FORMAT:
        raise StoreError("stored token set has an unknown format")
    try:
        unpacker = zlib.decompressobj(-15)
        raw = unpacker.decompress(plaintext[1:], _MAX_PLAINTEXT)
        if unpacker.unconsumed_tail or not unpacker.eof:
            raise ValueError("truncated or oversized")
        data = json.loads(raw)
        if "h" in data:
            data["a"] = ".".join((_b64(data["h"].encode()), _b64(data["p"].encode()), data["g"]))
        return TokenSet.from_dict(data)
    except (zlib.error, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise StoreError("stored token set is malformed") from exc


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def _jwt_parts(token: str) -> tuple[str, str, str] | None:
    """(header JSON, payload JSON, signature segment) if ``token`` is a JWS compact token whose
    first two segments round-trip exactly; None means "store the token as it is"."""
    segments = token.split(".")
    if len(segments) != 3:
        return None
    decoded: list[str] = []
    for segment in segments[:2]:
        try:
            raw = base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
            text = raw.decode("utf-8")
        except (binascii.Error, ValueError):
            return None
        if _b64(raw) != segment:  # non-canonical or stray characters: keep the original
            return None
        decoded.append(text)
    return decoded[0], decoded[1], segments[2]


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


# --- memory -----------------------------------------------------------------------------------


@dataclass(slots=True)
class _Record:
    generation: int = 0
    blob: bytes | None = None
    updated_at: float = 0.0
    attempt: RefreshAttempt | None = None
    mark: ReauthorizationMark | None = None


class MemoryTokenStore:
    """In-process :class:`TokenStore` with the same semantics as Redis, values still encrypted.

    For development and single-process library use: nothing survives a restart, and
    ``due_for_keepalive`` sorts every scheduled creator (fine for thousands, not millions).
    ``keyring`` may be replaced at runtime to rotate keys.
    """

    def __init__(self, keyring: Keyring | None = None, clock: Clock = system_clock) -> None:
        self.keyring = keyring or Keyring.generate_ephemeral()
        self._clock = clock
        self._records: dict[str, _Record] = {}
        self._keepalive: dict[str, float] = {}
        self._locks: dict[str, tuple[str, float]] = {}
        # Every method below finishes without awaiting, but the lock keeps compare-and-set
        # correct should that ever change.
        self._mutex = asyncio.Lock()

    def __repr__(self) -> str:
        return f"MemoryTokenStore(creators={len(self._keepalive)}, keyring={self.keyring!r})"

    async def load(self, creator: str) -> StoredTokens | None:
        _check_creator(creator)
        async with self._mutex:
            record = self._records.get(creator)
            if record is None or record.blob is None:
                return None
            opened = self.keyring.decrypt(record.blob, context=_context(creator))
            if not opened.is_current:
                record.blob = self.keyring.encrypt(opened.plaintext, context=_context(creator))
            return StoredTokens(
                creator, _deserialize(opened.plaintext), record.generation, record.updated_at
            )

    async def save(
        self,
        creator: str,
        tokens: TokenSet,
        *,
        expected_generation: int | None,
        keepalive_at: float | None = None,
    ) -> int:
        _check_creator(creator)
        blob = self.keyring.encrypt(_serialize(tokens), context=_context(creator))
        async with self._mutex:
            record = self._records.setdefault(creator, _Record())
            if expected_generation is not None and record.generation != expected_generation:
                raise GenerationConflict(
                    f"generation is {record.generation}, expected {expected_generation}"
                )
            record.generation += 1
            record.blob = blob
            record.updated_at = self._clock()
            record.attempt = None
            record.mark = None
            if keepalive_at is not None:
                self._keepalive[creator] = keepalive_at
            else:
                self._keepalive.setdefault(creator, tokens.expires_at)
            return record.generation

    async def generation(self, creator: str) -> int:
        _check_creator(creator)
        record = self._records.get(creator)
        return 0 if record is None else record.generation

    async def mark_reauthorization_required(
        self, creator: str, *, reason: str, now: float, expected_generation: int | None
    ) -> bool:
        _check_creator(creator)
        async with self._mutex:
            record = self._records.setdefault(creator, _Record())
            if expected_generation is not None and record.generation != expected_generation:
                return False
            record.generation += 1
            record.blob = None
            record.attempt = None
            record.mark = ReauthorizationMark(reason, now)
            self._keepalive.pop(creator, None)
            return True

    async def reauthorization_mark(self, creator: str) -> ReauthorizationMark | None:
        _check_creator(creator)
        record = self._records.get(creator)
        return None if record is None else record.mark

    async def record_refresh_attempt(
        self, creator: str, fingerprint: str, now: float
    ) -> RefreshAttempt:
        _check_creator(creator)
        _check_fingerprint(fingerprint)
        async with self._mutex:
            record = self._records.setdefault(creator, _Record())
            if record.attempt is None or record.attempt.fingerprint != fingerprint:
                record.attempt = RefreshAttempt(fingerprint, now)
            return record.attempt

    async def refresh_attempt(self, creator: str) -> RefreshAttempt | None:
        _check_creator(creator)
        record = self._records.get(creator)
        return None if record is None else record.attempt

    async def clear_refresh_attempt(self, creator: str, fingerprint: str) -> bool:
        _check_creator(creator)
        async with self._mutex:
            record = self._records.get(creator)
            if record is None or record.attempt is None:
                return False
            if record.attempt.fingerprint != fingerprint:
                return False
            record.attempt = None
            return True

    async def delete(self, creator: str) -> bool:
        _check_creator(creator)
        async with self._mutex:
            self._keepalive.pop(creator, None)
            return self._records.pop(creator, None) is not None

    async def due_for_keepalive(self, now: float, limit: int) -> list[str]:
        due = sorted((at, creator) for creator, at in self._keepalive.items() if at <= now)
        return [creator for _, creator in due[: max(0, limit)]]

    async def reschedule_keepalive(self, creator: str, at: float) -> None:
        _check_creator(creator)
        self._keepalive[creator] = at

    async def iter_creators(self, batch: int = 500) -> AsyncIterator[str]:
        snapshot = sorted(self._keepalive)
        for start in range(0, len(snapshot), max(1, batch)):
            for creator in snapshot[start : start + batch]:
                yield creator
            await asyncio.sleep(0)  # let other tasks run between batches, as Redis would

    async def count(self) -> int:
        return len(self._keepalive)

    async def reencrypt(self, creator: str) -> bool:
        _check_creator(creator)
        async with self._mutex:
            record = self._records.get(creator)
            if record is None or record.blob is None:
                return False
            opened = self.keyring.decrypt(record.blob, context=_context(creator))
            if opened.is_current:
                return False
            record.blob = self.keyring.encrypt(opened.plaintext, context=_context(creator))
            return True

    def lock(
        self, creator: str, ttl: float, *, acquire_timeout: float | None = None
    ) -> CreatorLock:
        _check_creator(creator)
        return MemoryCreatorLock(
            creator, ttl, registry=self._locks, clock=self._clock, acquire_timeout=acquire_timeout
        )

    async def ping(self) -> bool:
        return True

    async def aclose(self) -> None:
        return None


# --- Redis ------------------------------------------------------------------------------------

_DECODED_CACHE_SIZE = 1024

# KEYS[1] = the creator's hash. ARGV: expected generation ('' = any), blob, updated_at.
# Returns {1, new generation} or {0, current generation}.
_SAVE_SCRIPT = """
local g = tonumber(redis.call('hget', KEYS[1], 'g') or '0')
if ARGV[1] ~= '' and tonumber(ARGV[1]) ~= g then
    return {0, g}
end
g = g + 1
redis.call('hset', KEYS[1], 'g', g, 'v', ARGV[2], 'u', ARGV[3])
redis.call('hdel', KEYS[1], 'a', 'r')
return {1, g}
"""

# ARGV: expected generation ('' = any), "reason|time". Returns 1 if marked, 0 if it moved.
_MARK_SCRIPT = """
local g = tonumber(redis.call('hget', KEYS[1], 'g') or '0')
if ARGV[1] ~= '' and tonumber(ARGV[1]) ~= g then
    return 0
end
redis.call('hdel', KEYS[1], 'v', 'a', 'u')
redis.call('hset', KEYS[1], 'g', g + 1, 'r', ARGV[2])
return 1
"""

# ARGV: fingerprint, time. Keeps an existing record for the same fingerprint; returns the record.
_ATTEMPT_SCRIPT = """
local current = redis.call('hget', KEYS[1], 'a')
local head = ARGV[1] .. '|'
if current and string.sub(current, 1, #head) == head then
    return current
end
local record = head .. ARGV[2]
redis.call('hset', KEYS[1], 'a', record)
return record
"""

# ARGV: fingerprint. Deletes the attempt record only if it is for that fingerprint.
_CLEAR_ATTEMPT_SCRIPT = """
local current = redis.call('hget', KEYS[1], 'a')
local head = ARGV[1] .. '|'
if current and string.sub(current, 1, #head) == head then
    return redis.call('hdel', KEYS[1], 'a')
end
return 0
"""

# ARGV: generation the blob was read at, new blob. Rewrites only if no write happened since.
_REENCRYPT_SCRIPT = """
if redis.call('hget', KEYS[1], 'g') == ARGV[1] then
    redis.call('hset', KEYS[1], 'v', ARGV[2])
    return 1
end
return 0
"""


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
        self._save_script = redis.register_script(_SAVE_SCRIPT)
        self._mark_script = redis.register_script(_MARK_SCRIPT)
        self._attempt_script = redis.register_script(_ATTEMPT_SCRIPT)
        self._reencrypt_script = redis.register_script(_REENCRYPT_SCRIPT)
        self._clear_attempt_script = redis.register_script(_CLEAR_ATTEMPT_SCRIPT)
        # (creator, ciphertext) -> decoded set: the fast path skips AES-GCM and JSON when the
        # stored value has not changed. Keyed by creator too, so a ciphertext copied onto
        # another creator still goes through decryption (and fails its associated data).
        self._decoded: OrderedDict[tuple[str, bytes], TokenSet] = OrderedDict()

    @classmethod
    def from_url(
        cls, url: str, keyring: Keyring, prefix: str = "fve", *, clock: Clock = system_clock
    ) -> RedisTokenStore:
        """A store on its own client for ``url`` (see :func:`redis_from_url` for schemes)."""
        return cls(redis_from_url(url), keyring, prefix, clock=clock, close_client=True)

    def __repr__(self) -> str:
        return f"RedisTokenStore(prefix={self._prefix!r}, keyring={self.keyring!r})"

    def _key(self, creator: str) -> str:
        _check_creator(creator)
        return f"{self._prefix}:{{{creator}}}:t"

    async def load(self, creator: str) -> StoredTokens | None:
        key = self._key(creator)
        async with translate_redis_errors():
            raw_generation, blob, raw_updated = await self._redis.hmget(key, ["g", "v", "u"])
        if blob is None:
            return None
        generation = int(_text(raw_generation))
        updated_at = float(_text(raw_updated)) if raw_updated is not None else 0.0
        cache_key = (creator, _blob(blob))
        cached = self._decoded.get(cache_key)
        if cached is not None:
            self._decoded.move_to_end(cache_key)
            return StoredTokens(creator, cached, generation, updated_at)
        opened = self.keyring.decrypt(_blob(blob), context=_context(creator))
        tokens = _deserialize(opened.plaintext)
        if opened.is_current:
            self._decoded[cache_key] = tokens
            if len(self._decoded) > _DECODED_CACHE_SIZE:
                self._decoded.popitem(last=False)
        else:
            # Lazy rotation: rewrite under the newest key unless a write raced us.
            fresh = self.keyring.encrypt(opened.plaintext, context=_context(creator))
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
        blob = self.keyring.encrypt(_serialize(tokens), context=_context(creator))
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
        _check_fingerprint(fingerprint)
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
        _check_fingerprint(fingerprint)
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
        _check_creator(creator)
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
        opened = self.keyring.decrypt(_blob(blob), context=_context(creator))
        if opened.is_current:
            return False
        fresh = self.keyring.encrypt(opened.plaintext, context=_context(creator))
        async with translate_redis_errors():
            done = await self._reencrypt_script(keys=[key], args=[_text(raw_generation), fresh])
        return bool(done)

    def lock(
        self, creator: str, ttl: float, *, acquire_timeout: float | None = None
    ) -> CreatorLock:
        _check_creator(creator)
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
