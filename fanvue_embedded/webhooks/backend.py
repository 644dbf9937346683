"""The storage the webhook parts share: delivery records, subscription secrets, the keyring."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .._redis import RedisClient
from ..crypto import Keyring
from ..metrics import Metrics
from ..models import Clock, system_clock
from .inbox import WebhookInbox
from .records import InboxStore, MemoryInboxStore
from .records_redis import RedisInboxStore
from .registry import WebhookRegistry
from .secrets import MemorySubscriptionSecrets, RedisSubscriptionSecrets, SubscriptionSecrets

__all__ = ["WebhookBackend"]


@dataclass(slots=True)
class WebhookBackend:
    """Records and secrets on one Redis (or in memory), sealed with ``keyring``."""

    records: InboxStore
    secrets: SubscriptionSecrets
    keyring: Keyring
    clock: Clock = system_clock
    metrics: Metrics = field(default_factory=Metrics)

    @classmethod
    def on_redis(
        cls,
        redis: RedisClient,
        keyring: Keyring,
        prefix: str = "fve",
        *,
        clock: Clock = system_clock,
        close_client: bool = False,
        metrics: Metrics | None = None,
    ) -> WebhookBackend:
        """On ``redis``; closed by :meth:`aclose` only with ``close_client``."""
        return cls(
            RedisInboxStore(redis, prefix, close_client=close_client),
            RedisSubscriptionSecrets(redis, keyring, prefix),
            keyring,
            clock,
            metrics or Metrics(),
        )

    @classmethod
    def in_memory(
        cls, keyring: Keyring, *, clock: Clock = system_clock, metrics: Metrics | None = None
    ) -> WebhookBackend:
        """In this process only (development, tests)."""
        return cls(
            MemoryInboxStore(clock),
            MemorySubscriptionSecrets(keyring),
            keyring,
            clock,
            metrics or Metrics(),
        )

    def inbox(self, registry: WebhookRegistry | None = None, **options: Any) -> WebhookInbox:
        """A :class:`WebhookInbox` on these records (``options``: its keyword arguments)."""
        options.setdefault("metrics", self.metrics)
        return WebhookInbox(self.records, self.keyring, registry, clock=self.clock, **options)

    async def aclose(self) -> None:
        await self.records.aclose()
        await self.secrets.aclose()
