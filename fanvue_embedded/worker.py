"""The keepalive worker: refreshes stored chains before a long-absent creator's chain goes stale.

Creators who never come back still need their refresh token rotated now and then (DESIGN §3.8).
The store keeps a sorted set of keepalive due times, so one sweep costs O(log n + due):

    due = store.due_for_keepalive(now, batch)
    for each creator:  manager.refresh(creator, force=True, min_age=...)
        refreshed        -> the commit rescheduled it (now + keepalive interval)
        already fresh    -> another worker (or a live request) just did it; move on
        re-authorization -> the store cleared the chain and its schedule; nothing to do
        anything else    -> tokens kept; rescheduled at now + backoff (with jitter)

Several copies may run at once (one per host, say): the coordinator's lock, the generation
compare-and-set and ``min_age`` make a double refresh of one creator impossible.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import signal
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from .config import Settings
from .errors import ClientAuthenticationError, FanvueError, ReauthorizationRequired
from .models import Clock, system_clock
from .services import build_services
from .store import TokenStore
from .tokens import RefreshOutcome, TokenManager
from .webhooks import WebhookRegistry, WebhookRetrier

__all__ = ["KeepaliveWorker", "SweepResult", "run_worker"]

logger = logging.getLogger("fanvue_embedded.worker")

Sleep = Callable[[float], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class SweepResult:
    """What one sweep did. ``transient`` counts every creator rescheduled after a failure."""

    due: int
    refreshed: int
    already_fresh: int
    reauthorization: int
    transient: int


class KeepaliveWorker:
    """Sweeps due creators every ``interval`` seconds (jittered) until told to stop.

    ``min_age``: a creator whose tokens were written less than this many seconds ago is not
    refreshed again (see :meth:`TokenManager.refresh`). ``retry_delay`` is the first backoff
    after a failure; it doubles per consecutive failure of that creator in this process, up
    to ``max_retry_delay``. After a failed sweep the next one waits ``interval`` doubled per
    consecutive failed sweep, up to ``max_sweep_delay``.
    """

    def __init__(
        self,
        manager: TokenManager,
        store: TokenStore,
        *,
        interval: float = 30.0,
        batch: int = 100,
        concurrency: int = 8,
        min_age: float = 60.0,
        retry_delay: float = 60.0,
        max_retry_delay: float = 3600.0,
        max_sweep_delay: float = 300.0,
        clock: Clock = system_clock,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        if interval <= 0 or batch <= 0 or concurrency <= 0:
            raise ValueError("interval, batch and concurrency must be positive")
        self._manager = manager
        self._store = store
        self.interval = interval
        self.batch = batch
        self._concurrency = concurrency
        self._min_age = min_age
        self._retry_delay = retry_delay
        self._max_retry_delay = max_retry_delay
        self.max_sweep_delay = max_sweep_delay
        self._clock = clock
        self._sleep = sleep
        # Consecutive failures per creator, for the backoff; best effort, this process only.
        self._failures: dict[str, int] = {}

    def __repr__(self) -> str:
        return f"KeepaliveWorker(interval={self.interval!r}, batch={self.batch!r})"

    async def sweep(self, now: float | None = None) -> SweepResult:
        """Refresh every creator due at ``now`` (default: the clock), up to ``batch`` of them."""
        at = self._clock() if now is None else now
        due = await self._store.due_for_keepalive(at, self.batch)
        gate = asyncio.Semaphore(self._concurrency)

        async def one(creator: str) -> str:
            async with gate:
                return await self._keepalive(creator, at)

        outcomes = await asyncio.gather(*(one(creator) for creator in due))
        result = SweepResult(
            due=len(due),
            refreshed=outcomes.count("refreshed"),
            already_fresh=outcomes.count("already_fresh"),
            reauthorization=outcomes.count("reauthorization"),
            transient=outcomes.count("transient"),
        )
        if due:
            logger.info(
                "keepalive sweep: %d due, %d refreshed, %d already fresh, "
                "%d need re-authorization, %d rescheduled",
                result.due,
                result.refreshed,
                result.already_fresh,
                result.reauthorization,
                result.transient,
            )
        return result

    async def _keepalive(self, creator: str, now: float) -> str:
        try:
            outcome = await self._manager.refresh(creator, force=True, min_age=self._min_age)
        except ReauthorizationRequired:
            # The store dropped the chain and its schedule (or there was nothing to keep).
            self._failures.pop(creator, None)
            return "reauthorization"
        except ClientAuthenticationError:
            # A configuration fault: tokens kept, the manager already logged it loudly.
            await self._reschedule(creator, now)
            return "transient"
        except FanvueError as exc:
            # Transient (5xx, timeout, lock busy, Redis down) or a protocol fault: the tokens
            # are kept, so try again later rather than every sweep.
            logger.warning("keepalive refresh failed; rescheduled", extra={"code": exc.code})
            await self._reschedule(creator, now)
            return "transient"
        self._failures.pop(creator, None)
        if outcome is RefreshOutcome.REFRESHED:
            return "refreshed"
        return "already_fresh"

    async def _reschedule(self, creator: str, now: float) -> None:
        failures = self._failures.get(creator, 0) + 1
        if len(self._failures) < 100_000:  # bounded: it is only a backoff hint
            self._failures[creator] = failures
        delay = min(self._retry_delay * 2 ** (failures - 1), self._max_retry_delay)
        delay *= 0.75 + random.random() / 2  # noqa: S311 - jitter only
        try:
            await self._store.reschedule_keepalive(creator, now + delay)
        except FanvueError as exc:
            # Left due: the next sweep picks it up again.
            logger.warning("could not reschedule a keepalive", extra={"code": exc.code})

    async def run_forever(self, stop: asyncio.Event) -> None:
        """Sweep, sleep ``interval`` (±20 % jitter), repeat until ``stop`` is set.

        A full batch means more may be due: the next sweep starts at once. A failed sweep is
        logged and retried with backoff (``interval`` doubled per consecutive failure, up to
        ``max_sweep_delay``). No error ends the loop: Redis full (``store_full``), unreachable,
        failing over or read-only all pass, and an unexpected error is logged with its
        traceback and treated the same, so the worker recovers when Redis does.
        """
        failures = 0
        while not stop.is_set():
            full = False
            try:
                result = await self.sweep()
                full = result.due >= self.batch
                failures = 0
            except FanvueError as exc:
                failures += 1
                logger.warning(
                    "keepalive sweep failed", extra={"code": exc.code, "failures": failures}
                )
            except Exception as exc:
                failures += 1
                logger.error(
                    "keepalive sweep failed unexpectedly",
                    exc_info=True,
                    extra={"error": type(exc).__name__, "failures": failures},
                )
            if full:
                await asyncio.sleep(0)
                continue
            pause = self.interval
            if failures:
                backoff = self.interval * 2 ** min(failures - 1, 16)
                pause = max(min(backoff, self.max_sweep_delay), self.interval)
            pause *= 0.8 + random.random() * 0.4  # noqa: S311 - jitter only
            await self._wait(stop, pause)

    async def _wait(self, stop: asyncio.Event, seconds: float) -> None:
        # Sleep through the injected sleep, but wake as soon as ``stop`` is set.
        sleeper = asyncio.ensure_future(self._sleep(seconds))
        stopper = asyncio.ensure_future(stop.wait())
        try:
            await asyncio.wait({sleeper, stopper}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (sleeper, stopper):
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task


async def run_worker(
    settings: Settings, *, webhooks: WebhookRegistry | None = None, webhook_interval: float = 5.0
) -> None:
    """Run the keepalive worker until SIGTERM or SIGINT (the ``fanvue-embedded worker`` command).

    Services are built exactly as the app builds them, so the worker shares its Redis store
    and refresh coordinator with every app process. With ``webhooks`` (your handlers) it also
    retries failed webhook deliveries (:class:`~fanvue_embedded.webhooks.WebhookRetrier`).
    """
    services = build_services(settings)
    worker = KeepaliveWorker(services.tokens, services.store, clock=services.clock)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    handled: list[signal.Signals] = []
    for signum in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signum, stop.set)
            handled.append(signum)
    jobs = [worker.run_forever(stop)]
    if webhooks is not None:
        retrier = WebhookRetrier(services.webhooks.inbox(webhooks), interval=webhook_interval)
        jobs.append(retrier.run_forever(stop))
    logger.info("keepalive worker started", extra={"interval": worker.interval})
    try:
        await asyncio.gather(*jobs)
    finally:
        for signum in handled:
            loop.remove_signal_handler(signum)
        await services.aclose()
        logger.info("keepalive worker stopped")
