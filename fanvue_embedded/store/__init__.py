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
the token set (AES-256-GCM, associated data ``tokens|<creator>``).

The package, one job per module: ``protocol`` (the contract and its records), ``codec`` (the
plaintext layout), ``memory`` and ``redis`` (the two stores), ``decode_cache`` (decoded sets by
ciphertext), ``cache`` (decrypted sets in process memory, the zero-round-trip lookup),
``invalidation`` (the pub/sub listener that keeps that cache honest), ``scripts`` (the Lua
scripts, kept as ``lua/*.lua``: compare-and-set, and the refresh's begin/commit/abort steps).
"""

from __future__ import annotations

from .cache import TokenCache

# Internal names tests and benchmarks reach for (the plaintext layout, the memory record).
from .codec import deserialize as _deserialize  # noqa: F401
from .codec import serialize as _serialize  # noqa: F401
from .memory import MemoryTokenStore
from .memory import _Record as _Record
from .protocol import (
    ReauthorizationMark,
    RefreshAttempt,
    RefreshBegin,
    StoredTokens,
    TokenStore,
)
from .redis import RedisTokenStore

__all__ = [
    "MemoryTokenStore",
    "ReauthorizationMark",
    "RedisTokenStore",
    "RefreshAttempt",
    "RefreshBegin",
    "StoredTokens",
    "TokenCache",
    "TokenStore",
]
