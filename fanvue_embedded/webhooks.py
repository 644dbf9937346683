"""Fanvue webhooks without a web framework: verify, parse, deduplicate, record, dispatch, send.

Signature (DESIGN §1)::

    X-Fanvue-Signature: t=<unix seconds>,v0=<hex HMAC-SHA256 of "{t}.{raw body}">

Several ``v0`` entries may appear (a sender mid-rotation signs with each of its secrets), and
several secrets may be configured here (we accept the old and the new one while rotating).

Envelope and event types (the emulator's sender uses the same shapes,
``fanvue_embedded/emulator/webhooks.py``)::

    {"id": "<uuid>", "type": "<type>", "createdAt": <unix s>, "data": {...}}

    type               class            data (every field optional; amounts in minor units)
    message.received   MessageReceived  creatorUuid, messageUuid, fanUuid, text
    message.read       MessageRead      creatorUuid, messageUuid, fanUuid
    follower.new       FollowerNew      creatorUuid, fanUuid, fanHandle
    subscriber.new     SubscriberNew    creatorUuid, fanUuid, fanHandle, amount, currency
    purchase           Purchase         creatorUuid, fanUuid, purchaseUuid, itemType, itemUuid,
                                        amount, currency
    tip                Tip              creatorUuid, fanUuid, tipUuid, amount, currency, message
    anything else      UnknownEvent     (the raw ``data`` only)

Every event keeps its raw ``data`` mapping too, so a field Fanvue adds later is never lost.
"""

from __future__ import annotations

import hashlib
import hmac
import inspect
import json
import logging
import re
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeVar

import httpx

from ._http import build_async_client, translate_transport_errors
from .ephemeral import EphemeralStore
from .errors import FanvueError, ProtocolError, UpstreamUnavailable, WebhookVerificationError
from .metrics import Metrics
from .models import Clock, system_clock

__all__ = [
    "DEFAULT_TOLERANCE",
    "EVENT_TYPES",
    "SIGNATURE_HEADER",
    "FollowerNew",
    "MessageRead",
    "MessageReceived",
    "Purchase",
    "SubscriberNew",
    "Tip",
    "UnknownEvent",
    "WebhookEvent",
    "WebhookHandlerError",
    "WebhookInbox",
    "WebhookRegistry",
    "cli_send",
    "delivery_id",
    "encode_event",
    "parse_event",
    "send_webhook",
    "sign",
    "verify_signature",
]

logger = logging.getLogger("fanvue_embedded.webhooks")

SIGNATURE_HEADER = "X-Fanvue-Signature"
DEFAULT_TOLERANCE = 300

# Bounds on what we parse before any HMAC work, so a hostile header costs nothing.
_MAX_HEADER_LENGTH = 2048
_MAX_SIGNATURES = 8
_TIMESTAMP = re.compile(r"[0-9]{1,12}")
_HEX_SHA256 = re.compile(r"[0-9a-fA-F]{64}")
_ITEM_KEY = re.compile(r"[a-z][a-z0-9_]{0,15}")
# An event id used as is in store keys; anything else is hashed.
_SAFE_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")


# --- signatures -----------------------------------------------------------------------------


def _mac(secret: str, timestamp: int, body: bytes) -> str:
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def sign(body: bytes, secret: str, timestamp: int) -> str:
    """The ``X-Fanvue-Signature`` value for ``body`` sent at ``timestamp`` (for senders)."""
    return f"t={timestamp},v0={_mac(secret, timestamp, body)}"


def _parse_header(header: str) -> tuple[int, list[str]]:
    """``t`` and the ``v0`` digests of a header; ``malformed_signature`` otherwise.

    Strict: ``key=value`` items split by commas, exactly one ``t`` (decimal seconds), at least
    one ``v0`` (64 hex digits). Other lowercase keys are ignored so that a future scheme
    (``v1=...``) sent alongside ``v0`` does not break us.
    """
    if len(header) > _MAX_HEADER_LENGTH:
        raise WebhookVerificationError("signature header too long", code="malformed_signature")
    timestamp: int | None = None
    digests: list[str] = []
    for item in header.split(","):
        key, sep, value = item.strip().partition("=")
        if not sep or not _ITEM_KEY.fullmatch(key):
            raise WebhookVerificationError("malformed signature item", code="malformed_signature")
        if key == "t":
            if timestamp is not None or not _TIMESTAMP.fullmatch(value):
                raise WebhookVerificationError("malformed timestamp", code="malformed_signature")
            timestamp = int(value)
        elif key == "v0":
            if not _HEX_SHA256.fullmatch(value):
                raise WebhookVerificationError("malformed v0 digest", code="malformed_signature")
            digests.append(value.lower())
    if timestamp is None or not digests or len(digests) > _MAX_SIGNATURES:
        raise WebhookVerificationError(
            "signature needs one t and 1-8 v0 items", code="malformed_signature"
        )
    return timestamp, digests


def verify_signature(
    body: bytes,
    header: str | None,
    secrets: Sequence[str],
    *,
    tolerance: float = DEFAULT_TOLERANCE,
    now: float | None = None,
) -> int:
    """Check ``header`` against the raw ``body``; return the signed timestamp.

    Accepts when any ``v0`` matches the HMAC under any of ``secrets`` (constant-time compare)
    and ``t`` is within ``tolerance`` seconds of ``now`` in either direction (a clock far in the
    future is as suspicious as a replay from the past). Raises ``WebhookVerificationError``
    with ``code`` ``missing_signature``, ``malformed_signature``, ``signature_mismatch`` or
    ``timestamp_out_of_tolerance``; the messages never include the expected digest.
    """
    if not secrets:
        raise ValueError("no webhook secret configured (FANVUE_WEBHOOK_SECRET)")
    if not header:
        raise WebhookVerificationError("no signature header", code="missing_signature")
    timestamp, digests = _parse_header(header)
    matched = False
    for secret in secrets:
        expected = _mac(secret, timestamp, body)
        for digest in digests:
            # No early exit: the time taken doesn't depend on which entry matched.
            matched |= hmac.compare_digest(expected, digest)
    if not matched:
        raise WebhookVerificationError("signature does not match", code="signature_mismatch")
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance:
        raise WebhookVerificationError(
            "timestamp outside the tolerance window", code="timestamp_out_of_tolerance"
        )
    return timestamp


# --- typed events ---------------------------------------------------------------------------


def _optional(data: Mapping[str, Any], key: str, kind: type, what: str) -> Any:
    value = data.get(key)
    # bool is an int subclass; an amount of `true` is a protocol break, not 1.
    if value is None or (isinstance(value, kind) and not isinstance(value, bool)):
        return value
    raise ProtocolError(f"webhook field {key!r} must be {what}", code="invalid_event")


def _text(data: Mapping[str, Any], key: str) -> str | None:
    value: str | None = _optional(data, key, str, "a string")
    return value


def _integer(data: Mapping[str, Any], key: str) -> int | None:
    value: int | None = _optional(data, key, int, "an integer")
    return value


@dataclass(frozen=True, slots=True, kw_only=True)
class WebhookEvent:
    """A parsed delivery: the envelope fields plus the raw ``data`` object."""

    TYPE: ClassVar[str] = ""

    type: str
    id: str | None = None
    created_at: int | None = None
    creator_uuid: str | None = None
    data: Mapping[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def _fields_from(cls, data: Mapping[str, Any]) -> dict[str, Any]:
        return {"creator_uuid": _text(data, "creatorUuid")}


@dataclass(frozen=True, slots=True, kw_only=True)
class MessageReceived(WebhookEvent):
    """A fan sent the creator a message."""

    TYPE: ClassVar[str] = "message.received"
    message_uuid: str | None = None
    fan_uuid: str | None = None
    text: str | None = field(default=None, repr=False)  # personal content: not in repr/logs

    @classmethod
    def _fields_from(cls, data: Mapping[str, Any]) -> dict[str, Any]:
        return {
            "creator_uuid": _text(data, "creatorUuid"),
            "message_uuid": _text(data, "messageUuid"),
            "fan_uuid": _text(data, "fanUuid"),
            "text": _text(data, "text"),
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class MessageRead(WebhookEvent):
    """A fan read a message from the creator."""

    TYPE: ClassVar[str] = "message.read"
    message_uuid: str | None = None
    fan_uuid: str | None = None

    @classmethod
    def _fields_from(cls, data: Mapping[str, Any]) -> dict[str, Any]:
        return {
            "creator_uuid": _text(data, "creatorUuid"),
            "message_uuid": _text(data, "messageUuid"),
            "fan_uuid": _text(data, "fanUuid"),
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class FollowerNew(WebhookEvent):
    """A fan started following the creator."""

    TYPE: ClassVar[str] = "follower.new"
    fan_uuid: str | None = None
    fan_handle: str | None = None

    @classmethod
    def _fields_from(cls, data: Mapping[str, Any]) -> dict[str, Any]:
        return {
            "creator_uuid": _text(data, "creatorUuid"),
            "fan_uuid": _text(data, "fanUuid"),
            "fan_handle": _text(data, "fanHandle"),
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class SubscriberNew(WebhookEvent):
    """A fan subscribed; ``amount`` in minor units of ``currency``."""

    TYPE: ClassVar[str] = "subscriber.new"
    fan_uuid: str | None = None
    fan_handle: str | None = None
    amount: int | None = None
    currency: str | None = None

    @classmethod
    def _fields_from(cls, data: Mapping[str, Any]) -> dict[str, Any]:
        return {
            "creator_uuid": _text(data, "creatorUuid"),
            "fan_uuid": _text(data, "fanUuid"),
            "fan_handle": _text(data, "fanHandle"),
            "amount": _integer(data, "amount"),
            "currency": _text(data, "currency"),
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class Purchase(WebhookEvent):
    """A fan bought something (``itemType``: e.g. ``message``, ``post``, ``media``)."""

    TYPE: ClassVar[str] = "purchase"
    fan_uuid: str | None = None
    purchase_uuid: str | None = None
    item_type: str | None = None
    item_uuid: str | None = None
    amount: int | None = None
    currency: str | None = None

    @classmethod
    def _fields_from(cls, data: Mapping[str, Any]) -> dict[str, Any]:
        return {
            "creator_uuid": _text(data, "creatorUuid"),
            "fan_uuid": _text(data, "fanUuid"),
            "purchase_uuid": _text(data, "purchaseUuid"),
            "item_type": _text(data, "itemType"),
            "item_uuid": _text(data, "itemUuid"),
            "amount": _integer(data, "amount"),
            "currency": _text(data, "currency"),
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class Tip(WebhookEvent):
    """A fan tipped the creator; ``amount`` in minor units of ``currency``."""

    TYPE: ClassVar[str] = "tip"
    fan_uuid: str | None = None
    tip_uuid: str | None = None
    amount: int | None = None
    currency: str | None = None
    message: str | None = field(default=None, repr=False)

    @classmethod
    def _fields_from(cls, data: Mapping[str, Any]) -> dict[str, Any]:
        return {
            "creator_uuid": _text(data, "creatorUuid"),
            "fan_uuid": _text(data, "fanUuid"),
            "tip_uuid": _text(data, "tipUuid"),
            "amount": _integer(data, "amount"),
            "currency": _text(data, "currency"),
            "message": _text(data, "message"),
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class UnknownEvent(WebhookEvent):
    """A type this version does not model; read ``data`` yourself."""

    @classmethod
    def _fields_from(cls, data: Mapping[str, Any]) -> dict[str, Any]:
        # Nothing is promised about an unknown type's data: never reject it for its shape.
        creator = data.get("creatorUuid")
        return {"creator_uuid": creator if isinstance(creator, str) else None}


_EVENT_CLASSES: dict[str, type[WebhookEvent]] = {
    cls.TYPE: cls
    for cls in (MessageReceived, MessageRead, FollowerNew, SubscriberNew, Purchase, Tip)
}
EVENT_TYPES: tuple[str, ...] = tuple(_EVENT_CLASSES)


def parse_event(body: bytes) -> WebhookEvent:
    """The typed event in a (verified) raw body; ``ProtocolError`` (``invalid_event``) if the
    body is not a JSON object with a string ``type`` or a field has the wrong JSON type."""
    try:
        envelope = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ProtocolError("webhook body is not JSON", code="invalid_event") from exc
    if not isinstance(envelope, dict):
        raise ProtocolError("webhook body must be a JSON object", code="invalid_event")
    event_type = envelope.get("type")
    if not isinstance(event_type, str) or not event_type:
        raise ProtocolError("webhook 'type' must be a non-empty string", code="invalid_event")
    data = envelope.get("data", {})
    if not isinstance(data, dict):
        raise ProtocolError("webhook 'data' must be a JSON object", code="invalid_event")
    cls = _EVENT_CLASSES.get(event_type, UnknownEvent)
    return cls(
        type=event_type,
        id=_text(envelope, "id"),
        created_at=_integer(envelope, "createdAt"),
        data=data,
        **cls._fields_from(data),
    )


def delivery_id(event: WebhookEvent, body: bytes, timestamp: int) -> str:
    """The dedup key of a delivery: the event ``id`` when it is a plain short token, else the
    SHA-256 of ``"{t}.{body}"`` (a resend without an id then only dedups if byte-identical)."""
    if event.id is not None and _SAFE_ID.fullmatch(event.id):
        return event.id
    return hashlib.sha256(f"{timestamp}.".encode() + body).hexdigest()


# --- handlers -------------------------------------------------------------------------------

Handler = Callable[[Any], Awaitable[None] | None]
H = TypeVar("H", bound=Handler)


class WebhookHandlerError(FanvueError):
    """One or more handlers raised; ``failures`` pairs each handler's name with its error."""

    code = "webhook_handler_failed"

    def __init__(self, failures: Sequence[tuple[str, BaseException]]) -> None:
        names = ", ".join(f"{name} ({type(exc).__name__})" for name, exc in failures)
        super().__init__(f"webhook handlers failed: {names}")
        self.failures = list(failures)


def _handler_name(handler: Handler) -> str:
    return getattr(handler, "__qualname__", None) or type(handler).__name__


class WebhookRegistry:
    """Handlers by event type. Handlers may be ``async`` or plain functions.

    ::

        webhooks = WebhookRegistry()

        @webhooks.on("tip")
        async def thank(event: Tip) -> None: ...

        @webhooks.on_any
        async def audit(event: WebhookEvent) -> None: ...
    """

    def __init__(self) -> None:
        self._by_type: dict[str, list[Handler]] = {}
        self._any: list[Handler] = []

    def on(self, event_type: str) -> Callable[[H], H]:
        """Decorator: call the handler for events of ``event_type`` (see ``EVENT_TYPES``)."""
        if not event_type:
            raise ValueError("event_type must be non-empty")

        def register(handler: H) -> H:
            self._by_type.setdefault(event_type, []).append(handler)
            return handler

        return register

    def on_any(self, handler: H) -> H:
        """Decorator: call the handler for every event, after the type-specific ones."""
        self._any.append(handler)
        return handler

    def handlers_for(self, event_type: str) -> list[Handler]:
        return [*self._by_type.get(event_type, ()), *self._any]

    async def dispatch(self, event: WebhookEvent) -> int:
        """Run every matching handler in order, even after one fails; return how many ran.

        Raises ``WebhookHandlerError`` listing the failures once all have run.
        """
        handlers = self.handlers_for(event.type)
        failures: list[tuple[str, BaseException]] = []
        for handler in handlers:
            try:
                result = handler(event)
                if inspect.isawaitable(result):
                    await result
            except Exception as exc:
                failures.append((_handler_name(handler), exc))
        if failures:
            raise WebhookHandlerError(failures)
        return len(handlers)


# --- record and dispatch --------------------------------------------------------------------


def _where(exc: BaseException) -> str:
    """``file:line`` of the innermost frame: enough to find the bug, no payload in it."""
    tb = exc.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    return f"{tb.tb_frame.f_code.co_filename}:{tb.tb_lineno}" if tb is not None else "?"


class WebhookInbox:
    """Dedup, durable record and dispatch of verified deliveries on an ``EphemeralStore``.

    Keys (under the store's prefix): ``webhook:seen:<id>`` (dedup marker, ``2 * tolerance +
    60`` s: after that the timestamp check rejects a replay anyway), ``webhook:pending:<id>``
    (the raw delivery, written before we acknowledge, deleted once every handler succeeded)
    and ``webhook:failed:<id>`` (where a delivery goes when a handler raised, kept
    ``failed_ttl``; :meth:`retry_failed` dispatches it again). On Redis these survive a crash
    of the process; a ``pending`` key that outlives its dispatch marks an interrupted one.
    """

    def __init__(
        self,
        store: EphemeralStore,
        registry: WebhookRegistry,
        *,
        tolerance: float = DEFAULT_TOLERANCE,
        pending_ttl: float = 24 * 3600.0,
        failed_ttl: float = 7 * 24 * 3600.0,
        clock: Clock = system_clock,
        metrics: Metrics | None = None,
    ) -> None:
        self.store = store
        self.registry = registry
        self.dedup_ttl = tolerance * 2 + 60
        self.pending_ttl = pending_ttl
        self.failed_ttl = failed_ttl
        self._clock = clock
        self._metrics = metrics or Metrics()

    @staticmethod
    def pending_key(delivery: str) -> str:
        return f"webhook:pending:{delivery}"

    @staticmethod
    def failed_key(delivery: str) -> str:
        return f"webhook:failed:{delivery}"

    async def claim(self, delivery: str) -> bool:
        """True the first time ``delivery`` is seen within the dedup window."""
        return await self.store.put(
            f"webhook:seen:{delivery}", b"1", self.dedup_ttl, only_if_absent=True
        )

    async def release(self, delivery: str) -> None:
        """Forget a claim whose record could not be written, so the sender's retry is taken."""
        await self.store.delete(f"webhook:seen:{delivery}")

    async def record(self, delivery: str, timestamp: int, body: bytes) -> None:
        """Store the raw delivery before it is acknowledged."""
        value = {
            "deliveryId": delivery,
            "timestamp": timestamp,
            "receivedAt": self._clock(),
            "body": body.decode("utf-8"),
        }
        await self.store.put(
            self.pending_key(delivery), json.dumps(value).encode(), self.pending_ttl
        )

    async def dispatch(self, delivery: str, event: WebhookEvent) -> bool:
        """Run the handlers; True on success (record dropped), False if moved to ``failed``.

        Never raises: it runs after the response, where nobody could catch it.
        """
        try:
            await self.registry.dispatch(event)
        except WebhookHandlerError as exc:
            self._metrics.webhook_deliveries.labels("handler_failed").inc()
            for name, error in exc.failures:
                # Type and location only: handler errors often quote the payload.
                logger.error(
                    "webhook handler %s failed on %s delivery %s: %s at %s",
                    name,
                    event.type,
                    delivery,
                    type(error).__name__,
                    _where(error),
                )
            await self._move_to_failed(delivery, [type(e).__name__ for _, e in exc.failures])
            return False
        self._metrics.webhook_deliveries.labels("dispatched").inc()
        try:
            await self.store.delete(self.pending_key(delivery))
        except FanvueError as exc:
            logger.warning("webhook %s: could not clear pending record (%s)", delivery, exc.code)
        return True

    async def _move_to_failed(self, delivery: str, errors: list[str]) -> None:
        try:
            raw = await self.store.get(self.pending_key(delivery))
            if raw is None:
                logger.error("webhook %s: pending record missing, cannot keep it", delivery)
                return
            record = json.loads(raw)
            record.update(errors=errors, failedAt=self._clock())
            await self.store.put(
                self.failed_key(delivery), json.dumps(record).encode(), self.failed_ttl
            )
            await self.store.delete(self.pending_key(delivery))
        except FanvueError as exc:
            # The pending record (if any) stays where it was: still recorded, not lost.
            logger.error("webhook %s: could not move to failed (%s)", delivery, exc.code)

    async def retry_failed(self, delivery: str) -> bool:
        """Dispatch a failed delivery again; True if the handlers now succeed.

        ``LookupError`` if there is no such failed delivery.
        """
        raw = await self.store.take(self.failed_key(delivery))
        if raw is None:
            raise LookupError(f"no failed webhook delivery {delivery!r}")
        record = json.loads(raw)
        await self.store.put(self.pending_key(delivery), raw, self.pending_ttl)
        return await self.dispatch(delivery, parse_event(record["body"].encode("utf-8")))


# --- sending (CLI, tests) -------------------------------------------------------------------


def encode_event(
    event_type: str,
    data: Mapping[str, Any],
    *,
    event_id: str | None = None,
    created_at: int | None = None,
) -> bytes:
    """The JSON body of an event in the envelope Fanvue (and the emulator) send."""
    envelope = {
        "id": event_id or str(uuid.uuid4()),
        "type": event_type,
        "createdAt": int(time.time()) if created_at is None else created_at,
        "data": dict(data),
    }
    return json.dumps(envelope, separators=(",", ":")).encode()


async def send_webhook(
    url: str,
    event_type: str,
    data: Mapping[str, Any],
    secret: str,
    http: httpx.AsyncClient | None = None,
    *,
    timestamp: int | None = None,
    event_id: str | None = None,
) -> httpx.Response:
    """Sign and POST one event to ``url``, as Fanvue would. Transport failures raise
    ``UpstreamUnavailable``; any HTTP answer is returned for the caller to judge."""
    stamp = int(time.time()) if timestamp is None else timestamp
    body = encode_event(event_type, data, event_id=event_id, created_at=stamp)
    headers = {"Content-Type": "application/json", SIGNATURE_HEADER: sign(body, secret, stamp)}
    client = http or build_async_client()
    try:
        async with translate_transport_errors("webhook receiver"):
            return await client.post(url, content=body, headers=headers)
    finally:
        if http is None:
            await client.aclose()


async def cli_send(url: str, event_type: str, data_json: str, secret: str) -> int:
    """``fanvue-embedded webhooks send``: exit 0 on a 2xx answer, 1 otherwise, 2 on bad input.

    Prints the answer's status and body; never the secret.
    """
    try:
        data = json.loads(data_json)
    except ValueError:
        print("--data is not valid JSON", file=sys.stderr)
        return 2
    if not isinstance(data, dict):
        print("--data must be a JSON object", file=sys.stderr)
        return 2
    if not event_type:
        print("--type must not be empty", file=sys.stderr)
        return 2
    try:
        response = await send_webhook(url, event_type, data, secret)
    except UpstreamUnavailable as exc:
        print(f"could not deliver: {exc}", file=sys.stderr)
        return 1
    print(f"{response.status_code} {response.text}")
    return 0 if response.is_success else 1
