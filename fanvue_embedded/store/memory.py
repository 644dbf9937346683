"""``MemoryTokenStore``: the token store in one process, with the same semantics as Redis."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass

from ..crypto import Keyring
from ..errors import GenerationConflict
from ..lock import CreatorLock, MemoryCreatorLock
from ..models import Clock, TokenSet, system_clock
from .cache import TokenCache
from .codec import deserialize, serialize
from .protocol import (
    ReauthorizationMark,
    RefreshAttempt,
    RefreshBegin,
    StoredTokens,
    check_creator,
    check_fingerprint,
    token_context,
)

__all__ = ["MemoryTokenStore"]


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
        # Decoded sets, as the Redis store keeps them; always live (this store is the truth).
        self._cache = TokenCache(live=True)
        # Every method below finishes without awaiting, but the lock keeps compare-and-set
        # correct should that ever change.
        self._mutex = asyncio.Lock()

    def __repr__(self) -> str:
        return f"MemoryTokenStore(creators={len(self._keepalive)}, keyring={self.keyring!r})"

    async def load(self, creator: str) -> StoredTokens | None:
        check_creator(creator)
        async with self._mutex:
            record = self._records.get(creator)
            if record is None or record.blob is None:
                return None
            return self._open(creator, record)

    def _open(self, creator: str, record: _Record) -> StoredTokens:
        assert record.blob is not None
        opened = self.keyring.decrypt(record.blob, context=token_context(creator))
        if not opened.is_current:
            record.blob = self.keyring.encrypt(opened.plaintext, context=token_context(creator))
        stored = StoredTokens(
            creator, deserialize(opened.plaintext), record.generation, record.updated_at
        )
        self._cache.fill(self._cache.open(creator), stored)
        return stored

    def _changed(self, creator: str, generation: int | None) -> None:
        """What a Redis write publishes: drop older copies, wake the waiters."""
        self._cache.invalidate(creator, generation)

    async def save(
        self,
        creator: str,
        tokens: TokenSet,
        *,
        expected_generation: int | None,
        keepalive_at: float | None = None,
    ) -> int:
        check_creator(creator)
        blob = self.keyring.encrypt(serialize(tokens), context=token_context(creator))
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
            self._changed(creator, record.generation)
            return record.generation

    async def generation(self, creator: str) -> int:
        check_creator(creator)
        record = self._records.get(creator)
        return 0 if record is None else record.generation

    async def mark_reauthorization_required(
        self, creator: str, *, reason: str, now: float, expected_generation: int | None
    ) -> bool:
        check_creator(creator)
        async with self._mutex:
            record = self._records.setdefault(creator, _Record())
            if expected_generation is not None and record.generation != expected_generation:
                return False
            record.generation += 1
            record.blob = None
            record.attempt = None
            record.mark = ReauthorizationMark(reason, now)
            self._keepalive.pop(creator, None)
            self._changed(creator, None)
            return True

    async def reauthorization_mark(self, creator: str) -> ReauthorizationMark | None:
        check_creator(creator)
        record = self._records.get(creator)
        return None if record is None else record.mark

    async def record_refresh_attempt(
        self, creator: str, fingerprint: str, now: float
    ) -> RefreshAttempt:
        check_creator(creator)
        check_fingerprint(fingerprint)
        async with self._mutex:
            record = self._records.setdefault(creator, _Record())
            if record.attempt is None or record.attempt.fingerprint != fingerprint:
                record.attempt = RefreshAttempt(fingerprint, now)
            return record.attempt

    async def refresh_attempt(self, creator: str) -> RefreshAttempt | None:
        check_creator(creator)
        record = self._records.get(creator)
        return None if record is None else record.attempt

    async def clear_refresh_attempt(self, creator: str, fingerprint: str) -> bool:
        check_creator(creator)
        async with self._mutex:
            record = self._records.get(creator)
            if record is None or record.attempt is None:
                return False
            if record.attempt.fingerprint != fingerprint:
                return False
            record.attempt = None
            return True

    async def delete(self, creator: str) -> bool:
        check_creator(creator)
        async with self._mutex:
            self._keepalive.pop(creator, None)
            self._changed(creator, None)
            return self._records.pop(creator, None) is not None

    async def due_for_keepalive(self, now: float, limit: int) -> list[str]:
        due = sorted((at, creator) for creator, at in self._keepalive.items() if at <= now)
        return [creator for _, creator in due[: max(0, limit)]]

    async def reschedule_keepalive(self, creator: str, at: float) -> None:
        check_creator(creator)
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
        check_creator(creator)
        async with self._mutex:
            record = self._records.get(creator)
            if record is None or record.blob is None:
                return False
            opened = self.keyring.decrypt(record.blob, context=token_context(creator))
            if opened.is_current:
                return False
            record.blob = self.keyring.encrypt(opened.plaintext, context=token_context(creator))
            return True

    def lock(
        self, creator: str, ttl: float, *, acquire_timeout: float | None = None
    ) -> CreatorLock:
        check_creator(creator)
        return MemoryCreatorLock(
            creator, ttl, registry=self._locks, clock=self._clock, acquire_timeout=acquire_timeout
        )

    # -- the in-process cache ----------------------------------------------------------

    def cached(self, creator: str) -> StoredTokens | None:
        return self._cache.get(creator)

    def forget(self, creator: str) -> None:
        self._cache.forget(creator)

    async def changed(self, creator: str, timeout: float) -> bool:  # noqa: ASYNC109
        return await self._cache.changed(creator, timeout)

    # -- the refresh coordinator's two steps (same semantics as the Lua scripts) ---------

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
        check_creator(creator)
        async with self._mutex:
            record = self._records.get(creator)
            if record is None or record.blob is None:
                generation = 0 if record is None else record.generation
                return RefreshBegin("absent", generation, mark=record.mark if record else None)
            generation = record.generation
            stored = self._open(creator, record)
            if seen_generation is not None and seen_generation != generation:
                return RefreshBegin("moved", generation, stored)
            if min_age > 0 and now - record.updated_at < min_age:
                return RefreshBegin("recent", generation, stored)
            holder = self._lock_holder(creator)
            if holder is not None and holder != owner:
                return RefreshBegin("busy", generation)
            self._locks[creator] = (owner, self._clock() + ttl)
            token_id = f"g{generation}"
            if record.attempt is None or record.attempt.fingerprint != token_id:
                record.attempt = RefreshAttempt(token_id, now)
            return RefreshBegin("locked", generation, stored, attempt=record.attempt)

    async def commit_refresh(
        self,
        creator: str,
        tokens: TokenSet,
        *,
        owner: str,
        expected_generation: int,
        keepalive_at: float,
    ) -> int:
        check_creator(creator)
        blob = self.keyring.encrypt(serialize(tokens), context=token_context(creator))
        async with self._mutex:
            record = self._records.setdefault(creator, _Record())
            won = record.generation == expected_generation
            if won:
                record.generation += 1
                record.blob = blob
                record.updated_at = self._clock()
                record.attempt = None
                record.mark = None
                if creator in self._keepalive:
                    self._keepalive[creator] = keepalive_at
            self._release(creator, owner)
            if not won:
                raise GenerationConflict(
                    f"generation is {record.generation}, expected {expected_generation}"
                )
            self._changed(creator, record.generation)
            return record.generation

    async def abort_refresh(self, creator: str, *, owner: str, forget_attempt: int | None) -> bool:
        check_creator(creator)
        async with self._mutex:
            record = self._records.get(creator)
            if (
                forget_attempt is not None
                and record is not None
                and record.attempt is not None
                and record.attempt.fingerprint == f"g{forget_attempt}"
            ):
                record.attempt = None
            released = self._release(creator, owner)
            self._changed(creator, record.generation if record else 0)
            return released

    def _lock_holder(self, creator: str) -> str | None:
        """The owner of ``creator``'s lock, as :class:`MemoryCreatorLock` keeps it."""
        entry = self._locks.get(creator)
        if entry is None or entry[1] <= self._clock():
            return None
        return entry[0]

    def _release(self, creator: str, owner: str) -> bool:
        if self._lock_holder(creator) != owner:
            return False
        del self._locks[creator]
        return True

    async def ping(self) -> bool:
        return True

    async def aclose(self) -> None:
        return None
