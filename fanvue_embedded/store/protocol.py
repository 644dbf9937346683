"""The token store's contract: the records it returns and the ``TokenStore`` protocol.

Also the checks every implementation applies to its inputs, so both behave alike.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Literal, Protocol

from ..lock import CreatorLock
from ..models import TokenSet

__all__ = [
    "BeginState",
    "ReauthorizationMark",
    "RefreshAttempt",
    "RefreshBegin",
    "StoredTokens",
    "TokenStore",
    "check_creator",
    "check_fingerprint",
    "token_context",
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


BeginState = Literal["absent", "moved", "recent", "busy", "locked"]


@dataclass(frozen=True, slots=True)
class RefreshBegin:
    """What :meth:`TokenStore.begin_refresh` found, in one step.

    ``state``: ``absent`` (no tokens; ``mark`` says why, if known), ``moved`` (the generation
    is not the one the caller saw: somebody committed), ``recent`` (written less than
    ``min_age`` ago), ``busy`` (another owner holds the lock) or ``locked`` (the lock is the
    caller's and ``attempt`` records when this generation's refresh token was first presented).
    ``stored`` is the set as read (None when ``absent``, and when ``busy``: not decrypted).
    """

    state: BeginState
    generation: int
    stored: StoredTokens | None = None
    mark: ReauthorizationMark | None = None
    attempt: RefreshAttempt | None = None


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

    # -- the in-process cache ----------------------------------------------------------

    def cached(self, creator: str) -> StoredTokens | None:
        """The set this process holds for ``creator``, without I/O; None when not held or
        while invalidations are not being received."""
        ...

    def forget(self, creator: str) -> None:
        """Drop this process's copy (the API refused its access token)."""
        ...

    async def changed(self, creator: str, timeout: float) -> bool:  # noqa: ASYNC109
        """Wait up to ``timeout`` seconds for a write to ``creator`` (any process); True if
        one was announced. False after the whole ``timeout``, also when nobody announces
        (the wait is then the caller's poll interval)."""
        ...

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
        """Read the set; unless it moved past ``seen_generation`` or was written less than
        ``min_age`` (> 0) seconds before ``now``, take or renew the lock for ``owner`` (``ttl``
        seconds) and record the attempt (kept if already recorded for this generation)."""
        ...

    async def commit_refresh(
        self,
        creator: str,
        tokens: TokenSet,
        *,
        owner: str,
        expected_generation: int,
        keepalive_at: float,
    ) -> int:
        """Compare-and-set ``tokens`` on ``expected_generation`` (else ``GenerationConflict``),
        reschedule the keepalive of a scheduled creator, release ``owner``'s lock, announce.
        Returns the new generation."""
        ...

    async def abort_refresh(self, creator: str, *, owner: str, forget_attempt: int | None) -> bool:
        """Release ``owner``'s lock (True if it was still held) and, with ``forget_attempt``
        (a generation), drop that generation's attempt record: its token was not consumed."""
        ...

    async def ping(self) -> bool: ...

    async def aclose(self) -> None: ...


def check_creator(creator: str) -> None:
    """Raise ``ValueError`` unless ``creator`` is a plain id (it ends up in keys and contexts)."""
    if not isinstance(creator, str) or not _CREATOR_ID.match(creator):
        raise ValueError("creator id must be 1-128 characters of letters, digits, '._:@-'")


def check_fingerprint(fingerprint: str) -> None:
    """Raise ``ValueError`` for a fingerprint that cannot be stored as ``fingerprint|time``."""
    if not fingerprint or "|" in fingerprint:
        raise ValueError("fingerprint must be non-empty and must not contain '|'")


def token_context(creator: str) -> str:
    """The AES-GCM associated data of a creator's token set: binds the value to the creator."""
    return f"tokens|{creator}"
