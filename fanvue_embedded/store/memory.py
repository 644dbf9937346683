"""``MemoryTokenStore``: the token store in one process, with the same semantics as Redis."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass

from ..crypto import Keyring
from ..errors import GenerationConflict
from ..lock import CreatorLock, MemoryCreatorLock
from ..models import Clock, TokenSet, system_clock
from .codec import deserialize, serialize
from .protocol import (
    ReauthorizationMark,
    RefreshAttempt,
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
            opened = self.keyring.decrypt(record.blob, context=token_context(creator))
            if not opened.is_current:
                record.blob = self.keyring.encrypt(opened.plaintext, context=token_context(creator))
            return StoredTokens(
                creator, deserialize(opened.plaintext), record.generation, record.updated_at
            )

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

    async def ping(self) -> bool:
        return True

    async def aclose(self) -> None:
        return None
