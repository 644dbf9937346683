"""Record, dedupe, dispatch and retry verified deliveries.

The receiving route calls :meth:`WebhookInbox.receive` before it answers (the delivery is then
durable and deduplicated) and :meth:`WebhookInbox.dispatch` after (attempt 1). A failed
attempt is scheduled again with exponential backoff; the worker's :class:`WebhookRetrier`
claims due deliveries and runs their handlers, and after ``max_attempts`` the delivery is kept
as ``failed`` for an operator (``fanvue-embedded webhooks list|retry``).

Payloads hold fan data (handles, names, emails, message text), so they are sealed with the
token keyring (associated data ``webhook|<delivery>``) and never logged: handler failures are
logged with the exception's type and location only.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import re
from typing import Any, Literal

from ..crypto import Keyring
from ..errors import DecryptionError, FanvueError, ProtocolError
from ..metrics import Metrics
from ..models import Clock, system_clock
from .checkout import EnvelopeEvent
from .events import MessageReceived, WebhookEvent
from .parse import parse_event
from .policy import RetryPolicy
from .records import Claimed, DeliveryInfo, InboxStore
from .registry import WebhookHandlerError, WebhookRegistry

__all__ = ["WebhookInbox", "delivery_key"]

logger = logging.getLogger("fanvue_embedded.webhooks")

# An id used as is in store keys; anything else is hashed.
_SAFE_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")


def delivery_key(event: WebhookEvent) -> str:
    """The dedup key of a delivery, stable across Fanvue's retries.

    An envelope's ``id``; ``message.received:<messageUuid>`` for a received message; else the
    SHA-256 of the body's canonical JSON (a redelivery carries the same event object).
    """
    if isinstance(event, EnvelopeEvent) and _SAFE_ID.fullmatch(event.id):
        return event.id
    if isinstance(event, MessageReceived) and event.message_uuid:
        candidate = f"message.received:{event.message_uuid}"
        if _SAFE_ID.fullmatch(candidate):
            return candidate
    canonical = json.dumps(event.payload, sort_keys=True, separators=(",", ":"))
    return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()


def _where(exc: BaseException) -> str:
    """``file:line`` of the innermost frame: enough to find the bug, no payload in it."""
    tb = exc.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    return f"{tb.tb_frame.f_code.co_filename}:{tb.tb_lineno}" if tb is not None else "?"


class WebhookInbox:
    """Deliveries on an :class:`~.records.InboxStore`, sealed with ``keyring``.

    ``registry`` (your handlers) is needed to dispatch; listing and requeueing work without.
    ``policy`` defaults to the registry's ``retry`` (so the app and the worker agree).
    ``dedup_ttl``: how long a delivered event is remembered, so Fanvue's redelivery (signed
    afresh, so the timestamp check does not stop it) is not dispatched twice. ``lease``: how
    long one attempt may run before another process may take the delivery over.
    """

    def __init__(
        self,
        store: InboxStore,
        keyring: Keyring,
        registry: WebhookRegistry | None = None,
        *,
        policy: RetryPolicy | None = None,
        dedup_ttl: float = 3 * 24 * 3600.0,
        failed_ttl: float = 7 * 24 * 3600.0,
        lease: float = 300.0,
        clock: Clock = system_clock,
        metrics: Metrics | None = None,
    ) -> None:
        self.store = store
        self.registry = registry
        self.policy = policy or (registry.retry if registry is not None else RetryPolicy())
        self.dedup_ttl = dedup_ttl
        self.failed_ttl = failed_ttl
        self.lease = lease
        self._keyring = keyring
        self._clock = clock
        # Without the app's metrics (CLI, tests) a private registry nobody scrapes.
        self._metrics = metrics or Metrics()

    # --- receiving ------------------------------------------------------------------------

    def _retention(self) -> float:
        """How long a pending record may live: every retry fits, and the dedup window."""
        policy = self.policy
        retries = sum(
            min(policy.base_delay * 2.0 ** min(n - 1, 32), policy.max_delay) * 1.25
            for n in range(1, policy.max_attempts)
        )
        return max(self.dedup_ttl, retries + self.lease * self.policy.max_attempts + 3600)

    async def receive(
        self, event: WebhookEvent, body: bytes, *, signed_at: int, header_type: str | None = None
    ) -> tuple[str, bool]:
        """Record a verified delivery before it is acknowledged: ``(key, is_new)``.

        ``is_new`` is False for a redelivery (not to be dispatched again). Raises
        ``StoreUnavailable`` when nothing could be recorded (answer 503: Fanvue retries).
        """
        delivery = delivery_key(event)
        record = {
            "body": base64.b64encode(body).decode("ascii"),  # exact bytes: JSON may be UTF-16
            "signedAt": signed_at,
            "headerType": header_type,
        }
        blob = self._keyring.encrypt(json.dumps(record).encode(), context=f"webhook|{delivery}")
        now = self._clock()
        is_new = await self.store.record(
            delivery,
            event.type,
            blob,
            now=now,
            lease_until=now + self.lease,
            ttl=self._retention(),
        )
        return delivery, is_new

    # --- dispatching ----------------------------------------------------------------------

    async def dispatch(self, delivery: str, event: WebhookEvent, attempt: int = 1) -> bool:
        """Run the handlers once; True on success. A failure is scheduled for a retry, or
        kept as ``failed`` after the last attempt. Never raises: it runs after the response
        (or in the worker), where nobody could catch it."""
        if self.registry is None:
            raise RuntimeError("this inbox has no registry to dispatch with")
        try:
            await self.registry.dispatch(event)
        except WebhookHandlerError as exc:
            self._metrics.webhook_deliveries.labels("handler_failed").inc()
            for name, error in exc.failures:
                # Type and location only: handler errors often quote the payload.
                logger.error(
                    "webhook handler %s failed on %s delivery %s (attempt %d): %s at %s",
                    name,
                    event.type,
                    delivery,
                    attempt,
                    type(error).__name__,
                    _where(error),
                )
            await self._failed(delivery, attempt, tuple(type(e).__name__ for _, e in exc.failures))
            return False
        self._metrics.webhook_deliveries.labels("dispatched").inc()
        try:
            await self.store.complete(delivery, ttl=self.dedup_ttl)
        except FanvueError as exc:
            # The lease runs out and the worker dispatches it again: at least once.
            logger.warning("webhook %s: could not mark done (%s)", delivery, exc.code)
        return True

    async def _failed(self, delivery: str, attempt: int, errors: tuple[str, ...]) -> None:
        now = self._clock()
        exhausted = attempt >= self.policy.max_attempts
        retry_at = None if exhausted else now + self.policy.delay(attempt)
        if exhausted:
            self._metrics.webhook_deliveries.labels("exhausted").inc()
            logger.error(
                "webhook %s: attempt %d of %d failed; kept as failed (webhooks list / retry)",
                delivery,
                attempt,
                self.policy.max_attempts,
            )
        try:
            await self.store.fail(
                delivery, errors, retry_at=retry_at, now=now, failed_ttl=self.failed_ttl
            )
        except FanvueError as exc:
            # The record keeps its lease: the worker takes it again once the lease runs out.
            logger.error("webhook %s: could not record the failure (%s)", delivery, exc.code)

    def _open(self, claimed: Claimed) -> WebhookEvent:
        delivery = claimed.info.delivery
        plaintext = self._keyring.decrypt(claimed.blob, context=f"webhook|{delivery}").plaintext
        record: dict[str, Any] = json.loads(plaintext)
        body = base64.b64decode(record["body"], validate=True)
        return parse_event(body, header_type=record.get("headerType"))

    async def run_due(self, limit: int = 100) -> int:
        """Claim and dispatch up to ``limit`` due deliveries; how many were attempted."""
        now = self._clock()
        claimed = await self.store.claim_due(now, now + self.lease, limit)
        for item in claimed:
            delivery = item.info.delivery
            try:
                event = self._open(item)
            except (DecryptionError, ProtocolError, ValueError, KeyError) as exc:
                # Unreadable (its key was removed from the keyring?): keep it, never drop it.
                logger.error(
                    "webhook %s: stored delivery unreadable (%s)", delivery, type(exc).__name__
                )
                await self.store.fail(
                    delivery,
                    (type(exc).__name__,),
                    retry_at=None,
                    now=now,
                    failed_ttl=self.failed_ttl,
                )
                continue
            self._metrics.webhook_deliveries.labels("retried").inc()
            await self.dispatch(delivery, event, attempt=item.info.attempts)
        return len(claimed)

    # --- operators ------------------------------------------------------------------------

    async def list(
        self, state: Literal["pending", "failed"] = "failed", limit: int = 100
    ) -> list[DeliveryInfo]:
        """Deliveries in ``state`` (metadata only, never the payload)."""
        return await self.store.in_state(state, limit)

    async def retry(self, delivery: str) -> bool:
        """Make a failed delivery due now, with a fresh attempt budget; False if there is no
        failed delivery ``delivery``."""
        return await self.store.requeue(delivery, now=self._clock(), ttl=self._retention())
