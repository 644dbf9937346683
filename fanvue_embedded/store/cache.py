"""Decrypted token sets in process memory: the zero-round-trip lookup, kept honest by
invalidations.

A process may keep using an access token it holds until the token expires: Fanvue's access
tokens are JWTs that are not revoked when the chain rotates. What must reach every process at
once is the app's own decision to stop using a creator's tokens (revoke, re-authorization
mark, key rotation) and, so processes converge on the newest set, every commit. Each of those
publishes ``creator|generation`` (``creator|`` for "drop whatever you hold"), and
:meth:`TokenCache.invalidate` applies it.

The cache serves only while it is *live*: while the process is subscribed to those messages.
Losing the subscription, or getting it back, clears everything (messages may have been
missed meanwhile). A read that raced with an invalidation is not cached: every read holds a
:class:`Ticket`, and an invalidation for the same creator arriving during the read marks the
ticket with the generation the read must reach to be kept.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import OrderedDict
from dataclasses import dataclass

from .protocol import StoredTokens

__all__ = ["DEFAULT_CACHE_SIZE", "Ticket", "TokenCache"]

DEFAULT_CACHE_SIZE = 10_000
"""Creators whose decrypted sets one process keeps (least recently used go first)."""


@dataclass(slots=True)
class Ticket:
    """One read in flight for ``creator``. ``floor``: the lowest generation that may be kept
    (raised by invalidations arriving meanwhile); ``dead``: nothing it read may be kept."""

    creator: str
    epoch: int
    floor: int = 0
    dead: bool = False


class TokenCache:
    """Creator -> the ``StoredTokens`` last read or written by this process."""

    def __init__(self, size: int = DEFAULT_CACHE_SIZE, *, live: bool = False) -> None:
        if size < 1:
            raise ValueError("the cache needs room for at least one entry")
        self._size = size
        self._entries: OrderedDict[str, StoredTokens] = OrderedDict()
        self._reads: dict[str, list[Ticket]] = {}
        self._waiters: dict[str, list[asyncio.Future[None]]] = {}
        self._epoch = 0
        self._live = live

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        return f"TokenCache(entries={len(self._entries)}, live={self._live})"

    @property
    def live(self) -> bool:
        """True while invalidations are being received: only then are entries served."""
        return self._live

    def set_live(self, live: bool) -> None:
        """The subscription came up or went down: either way, what is held may be stale."""
        self._live = live
        self.clear()

    def get(self, creator: str) -> StoredTokens | None:
        """The held set for ``creator`` (no I/O), or None."""
        if not self._live:
            return None
        stored = self._entries.get(creator)
        if stored is not None:
            self._entries.move_to_end(creator)
        return stored

    def open(self, creator: str) -> Ticket:
        """Start a read (or a write) whose result :meth:`fill` may keep."""
        ticket = Ticket(creator, self._epoch)
        self._reads.setdefault(creator, []).append(ticket)
        return ticket

    def fill(self, ticket: Ticket, stored: StoredTokens | None) -> None:
        """End ``ticket``'s read: keep ``stored`` unless an invalidation made it stale."""
        self.close(ticket)
        if stored is None:
            self._entries.pop(ticket.creator, None)
            return
        if not self._live or ticket.dead or ticket.epoch != self._epoch:
            return
        if stored.generation < ticket.floor:
            return
        current = self._entries.get(ticket.creator)
        if current is not None and current.generation > stored.generation:
            return  # a newer set is already held
        self._entries[ticket.creator] = stored
        self._entries.move_to_end(ticket.creator)
        if len(self._entries) > self._size:
            self._entries.popitem(last=False)

    def close(self, ticket: Ticket) -> None:
        """End ``ticket``'s read without keeping anything (it failed)."""
        tickets = self._reads.get(ticket.creator)
        if tickets is None:
            return
        with contextlib.suppress(ValueError):
            tickets.remove(ticket)
        if not tickets:
            del self._reads[ticket.creator]

    def invalidate(self, creator: str, generation: int | None) -> None:
        """Apply one message: drop what is older than ``generation`` (everything for None),
        mark the reads in flight, and wake whoever waits for this creator."""
        held = self._entries.get(creator)
        if held is not None and (generation is None or held.generation < generation):
            del self._entries[creator]
        for ticket in self._reads.get(creator, ()):
            if generation is None:
                ticket.dead = True
            else:
                ticket.floor = max(ticket.floor, generation)
        self._wake(creator)

    def forget(self, creator: str) -> None:
        """Drop ``creator``'s entry (the API refused its access token)."""
        self._entries.pop(creator, None)

    def clear(self) -> None:
        """Drop everything, and make every read in flight unkeepable."""
        self._entries.clear()
        self._epoch += 1
        for creator in list(self._waiters):
            self._wake(creator)

    async def changed(self, creator: str, timeout: float) -> bool:  # noqa: ASYNC109
        """Wait up to ``timeout`` seconds for an invalidation of ``creator``; True if one came."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.setdefault(creator, []).append(future)
        try:
            await asyncio.wait_for(asyncio.shield(future), timeout)
        except TimeoutError:
            return False
        finally:
            waiters = self._waiters.get(creator)
            if waiters is not None:
                with contextlib.suppress(ValueError):
                    waiters.remove(future)
                if not waiters:
                    del self._waiters[creator]
        return True

    def _wake(self, creator: str) -> None:
        for future in self._waiters.pop(creator, ()):
            if not future.done():
                future.set_result(None)
