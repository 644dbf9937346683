"""The worker's webhook job: dispatch deliveries whose retry is due, until told to stop."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random

from ..errors import FanvueError
from .inbox import WebhookInbox

__all__ = ["WebhookRetrier"]

logger = logging.getLogger("fanvue_embedded.webhooks")


class WebhookRetrier:
    """Runs :meth:`WebhookInbox.run_due` every ``interval`` seconds (±20 % jitter).

    Several may run at once (one per host): a claim leases each delivery, so no two run the
    same one. A full batch means more may be due: the next sweep starts at once.
    """

    def __init__(self, inbox: WebhookInbox, *, interval: float = 5.0, batch: int = 100) -> None:
        if inbox.registry is None:
            raise ValueError("the retrier needs an inbox with a registry (your handlers)")
        if interval <= 0 or batch <= 0:
            raise ValueError("interval and batch must be positive")
        self.inbox = inbox
        self.interval = interval
        self.batch = batch

    async def sweep(self) -> int:
        """One pass: how many due deliveries were attempted."""
        return await self.inbox.run_due(self.batch)

    async def run_forever(self, stop: asyncio.Event) -> None:
        """Sweep until ``stop`` is set; a failed sweep (Redis down) is logged and retried."""
        while not stop.is_set():
            attempted = 0
            try:
                attempted = await self.sweep()
            except FanvueError as exc:
                logger.warning("webhook retry sweep failed", extra={"code": exc.code})
            if attempted >= self.batch:
                await asyncio.sleep(0)
                continue
            pause = self.interval * (0.8 + random.random() * 0.4)  # noqa: S311 - jitter only
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), pause)
