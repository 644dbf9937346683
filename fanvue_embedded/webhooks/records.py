"""Where deliveries wait: a record per delivery, an index of what is due, one of what failed.

The stores hold opaque (already encrypted) payload blobs; :class:`~.inbox.WebhookInbox` seals
and opens them. A record's lifecycle::

    record (pending, attempt 1 leased to the receiving process)
      -> complete            done: the payload is dropped, the record stays as a dedup marker
      -> fail(retry_at)      pending again at retry_at; the worker claims it (attempt n + 1)
      -> fail(None)          failed: kept for inspection; ``requeue`` makes it pending again

A claim leases the record (its due time moves to ``lease_until``), so two workers never run
the same delivery at once, and a delivery whose process died mid-dispatch is picked up again
once the lease runs out.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal, Protocol

from ..models import Clock, system_clock

__all__ = ["Claimed", "DeliveryInfo", "InboxStore", "MemoryInboxStore", "State"]

State = Literal["pending", "failed", "done"]


@dataclass(frozen=True, slots=True)
class DeliveryInfo:
    """What an operator may see of a delivery: never its payload."""

    delivery: str
    type: str
    state: State
    attempts: int
    received_at: float
    next_attempt_at: float | None
    errors: tuple[str, ...]  # exception class names of the last failed attempt


@dataclass(frozen=True, slots=True)
class Claimed:
    """A record leased for one attempt, with its sealed payload."""

    info: DeliveryInfo
    blob: bytes


class InboxStore(Protocol):
    """Delivery records (see the module docstring). Times are clock seconds; TTLs seconds."""

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
        """Create a pending record leased until ``lease_until``; False if ``delivery`` exists."""
        ...

    async def claim_due(self, now: float, lease_until: float, limit: int) -> list[Claimed]:
        """Lease up to ``limit`` pending records due at ``now`` (attempts + 1 each)."""
        ...

    async def complete(self, delivery: str, *, ttl: float) -> None:
        """Mark done, drop the payload, keep the record ``ttl`` seconds (dedup)."""
        ...

    async def fail(
        self,
        delivery: str,
        errors: tuple[str, ...],
        *,
        retry_at: float | None,
        now: float,
        failed_ttl: float,
    ) -> None:
        """Record a failed attempt: pending again at ``retry_at``, or failed when it is None."""
        ...

    async def requeue(self, delivery: str, *, now: float, ttl: float) -> bool:
        """A failed record becomes pending, due now, with a fresh attempt budget."""
        ...

    async def info(self, delivery: str) -> DeliveryInfo | None: ...

    async def in_state(self, state: Literal["pending", "failed"], limit: int) -> list[DeliveryInfo]:
        """Records in ``state``, oldest first (``pending``: by due time)."""
        ...

    async def forget(self, delivery: str) -> None:
        """Remove a record entirely (one that could not be acknowledged)."""
        ...

    async def aclose(self) -> None: ...


class MemoryInboxStore:
    """In-process :class:`InboxStore` (development and tests): gone when the process exits."""

    def __init__(self, clock: Clock = system_clock) -> None:
        self._clock = clock
        self._records: dict[str, tuple[DeliveryInfo, bytes | None, float]] = {}

    def _live(self, delivery: str) -> tuple[DeliveryInfo, bytes | None, float] | None:
        entry = self._records.get(delivery)
        if entry is not None and entry[2] <= self._clock():
            del self._records[delivery]
            return None
        return entry

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
        if self._live(delivery) is not None:
            return False
        info = DeliveryInfo(delivery, event_type, "pending", 1, now, lease_until, ())
        self._records[delivery] = (info, blob, self._clock() + ttl)
        return True

    async def claim_due(self, now: float, lease_until: float, limit: int) -> list[Claimed]:
        due = sorted(
            (entry for key in list(self._records) if (entry := self._live(key)) is not None),
            key=lambda entry: entry[0].next_attempt_at or 0.0,
        )
        claimed: list[Claimed] = []
        for info, blob, expiry in due:
            if len(claimed) >= limit:
                break
            if info.state != "pending" or (info.next_attempt_at or 0.0) > now or blob is None:
                continue
            leased = replace(info, attempts=info.attempts + 1, next_attempt_at=lease_until)
            self._records[info.delivery] = (leased, blob, expiry)
            claimed.append(Claimed(leased, blob))
        return claimed

    async def complete(self, delivery: str, *, ttl: float) -> None:
        entry = self._live(delivery)
        if entry is not None:
            done = replace(entry[0], state="done", next_attempt_at=None, errors=())
            self._records[delivery] = (done, None, self._clock() + ttl)

    async def fail(
        self,
        delivery: str,
        errors: tuple[str, ...],
        *,
        retry_at: float | None,
        now: float,
        failed_ttl: float,
    ) -> None:
        entry = self._live(delivery)
        if entry is None:
            return
        info, blob, expiry = entry
        if retry_at is not None:
            self._records[delivery] = (
                replace(info, next_attempt_at=retry_at, errors=errors),
                blob,
                expiry,
            )
        else:
            failed = replace(info, state="failed", next_attempt_at=None, errors=errors)
            self._records[delivery] = (failed, blob, self._clock() + failed_ttl)

    async def requeue(self, delivery: str, *, now: float, ttl: float) -> bool:
        entry = self._live(delivery)
        if entry is None or entry[0].state != "failed":
            return False
        pending = replace(entry[0], state="pending", attempts=0, next_attempt_at=now)
        self._records[delivery] = (pending, entry[1], self._clock() + ttl)
        return True

    async def info(self, delivery: str) -> DeliveryInfo | None:
        entry = self._live(delivery)
        return None if entry is None else entry[0]

    async def in_state(self, state: Literal["pending", "failed"], limit: int) -> list[DeliveryInfo]:
        found = [
            entry[0]
            for key in list(self._records)
            if (entry := self._live(key)) is not None and entry[0].state == state
        ]
        found.sort(key=lambda info: info.next_attempt_at or info.received_at)
        return found[:limit]

    async def forget(self, delivery: str) -> None:
        self._records.pop(delivery, None)

    async def aclose(self) -> None:
        self._records.clear()
