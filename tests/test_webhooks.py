"""Webhooks: the pure verifier and recogniser, every documented payload through the real route
on real Redis (accepted, typed, deduplicated), bounds and failures."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from fanvue_embedded._devdefaults import (
    DEV_CLIENT_ID,
    DEV_CLIENT_SECRET,
    DEV_ENCRYPTION_KEY,
    DEV_SESSION_SECRET,
)
from fanvue_embedded.app import create_app
from fanvue_embedded.app.services import Services
from fanvue_embedded.config import Secret, Settings, parse_encryption_keys
from fanvue_embedded.errors import ConfigurationError, ProtocolError, WebhookVerificationError
from fanvue_embedded.webhooks import (
    EVENT_TYPES,
    MessageReceived,
    PurchaseNew,
    RetryPolicy,
    TipNew,
    UnknownEvent,
    WebhookEvent,
    WebhookHandlerError,
    WebhookRegistry,
    delivery_key,
    parse_event,
    sign,
    verify_signature,
)
from tests.support.errors import error_code
from tests.support.redis_scan import find_plaintext_tokens
from tests.support.servers import free_port
from tests.support.webhook_payloads import (
    CREATOR,
    DOCUMENTED,
    FAN_DATA,
    MESSAGE_TEXT,
    PLATFORM,
    Documented,
    attribute,
)

SECRET = "whsec_test_0123456789abcdef"
OLD_SECRET = "whsec_old_0123456789abcdef"
NOW = 1_750_000_000
BODY = (
    b'{"id":"evt_1","type":"payout.paid","timestamp":"2025-06-15T15:06:40Z","data":{"amount":500}}'
)


def header_for(body: bytes, secret: str = SECRET, timestamp: int = NOW) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v0={digest.hexdigest()}"


def rejection(body: bytes, header: str | None, **kwargs: Any) -> str:
    with pytest.raises(WebhookVerificationError) as caught:
        verify_signature(body, header, kwargs.pop("secrets", [SECRET]), now=NOW, **kwargs)
    assert caught.value.code != ""
    return caught.value.code


# --- the pure verifier -------------------------------------------------------------------------


def test_valid_signature_returns_its_timestamp() -> None:
    assert verify_signature(BODY, header_for(BODY), [SECRET], now=NOW) == NOW
    # sign() is what senders use; it agrees with an independent HMAC.
    assert sign(BODY, SECRET, NOW) == header_for(BODY)


def test_forged_body_and_wrong_secret_are_rejected() -> None:
    header = header_for(BODY)
    assert rejection(BODY.replace(b"500", b"900"), header) == "signature_mismatch"
    assert rejection(BODY, header_for(BODY, secret="whsec_someone_else_0000")) == (
        "signature_mismatch"
    )
    # The timestamp is signed too: moving it breaks the signature.
    moved = header.replace(f"t={NOW}", f"t={NOW + 1}")
    assert rejection(BODY, moved) == "signature_mismatch"


def test_rotation_accepts_either_secret_and_either_v0() -> None:
    # The receiver knows the old and the new secret while rotating.
    assert verify_signature(BODY, header_for(BODY, OLD_SECRET), [SECRET, OLD_SECRET], now=NOW)
    assert verify_signature(BODY, header_for(BODY, SECRET), [SECRET, OLD_SECRET], now=NOW)
    # A sender mid-rotation sends one v0 per secret; one match is enough.
    bad = "0" * 64
    good = header_for(BODY).split("v0=")[1]
    assert verify_signature(BODY, f"t={NOW},v0={bad},v0={good}", [SECRET], now=NOW) == NOW
    assert rejection(BODY, f"t={NOW},v0={bad},v0={bad}") == "signature_mismatch"
    # After the rotation the old secret alone no longer works.
    assert rejection(BODY, header_for(BODY, OLD_SECRET)) == "signature_mismatch"


def test_stale_and_future_timestamps_are_rejected() -> None:
    stale = NOW - 301
    future = NOW + 301
    assert rejection(BODY, header_for(BODY, timestamp=stale)) == "timestamp_out_of_tolerance"
    assert rejection(BODY, header_for(BODY, timestamp=future)) == "timestamp_out_of_tolerance"
    # Inside the window on both sides, and a custom tolerance.
    for stamp in (NOW - 300, NOW + 300):
        assert verify_signature(BODY, header_for(BODY, timestamp=stamp), [SECRET], now=NOW)
    assert (
        rejection(BODY, header_for(BODY, timestamp=NOW - 31), tolerance=30)
        == "timestamp_out_of_tolerance"
    )


@pytest.mark.parametrize(
    "header",
    [
        "garbage",
        "t=,v0=" + "a" * 64,
        "t=12x,v0=" + "a" * 64,
        "t=-5,v0=" + "a" * 64,
        f"t={NOW}",  # no v0
        "v0=" + "a" * 64,  # no t
        f"t={NOW},t={NOW},v0=" + "a" * 64,  # two t
        f"t={NOW},v0=" + "a" * 63,  # short digest
        f"t={NOW},v0=" + "g" * 64,  # not hex
        f"t={NOW},v0=" + "a" * 64 + ",",  # empty item
        f"t={NOW};v0=" + "a" * 64,  # wrong separator
        f"t={NOW},V0=" + "a" * 64,  # keys are lowercase
        f"t={NOW}," + ",".join(["v0=" + "a" * 64] * 9),  # too many signatures
        f"t={NOW},v0=" + "a" * 64 + ",x=" + "y" * 3000,  # too long
    ],
)
def test_malformed_headers_are_rejected(header: str) -> None:
    assert rejection(BODY, header) == "malformed_signature"


def test_missing_header_and_missing_secrets() -> None:
    assert rejection(BODY, None) == "missing_signature"
    assert rejection(BODY, "") == "missing_signature"
    with pytest.raises(ValueError, match="FANVUE_WEBHOOK_SECRET"):
        verify_signature(BODY, header_for(BODY), [], now=NOW)


def test_future_scheme_items_are_ignored_and_uppercase_hex_accepted() -> None:
    digest = header_for(BODY).split("v0=")[1]
    header = f"t={NOW}, v1=whatever, v0={digest.upper()}"
    assert verify_signature(BODY, header, [SECRET], now=NOW) == NOW


# --- recognising and typing --------------------------------------------------------------------


@pytest.mark.parametrize("documented", DOCUMENTED, ids=lambda d: d.name)
def test_every_documented_payload_parses_into_its_class(documented: Documented) -> None:
    event = parse_event(documented.raw(), header_type=documented.header_type)
    assert type(event) is documented.cls
    assert event.type == documented.type
    assert event.payload == documented.body  # the raw payload is kept whole
    for path, value in documented.expected.items():
        assert attribute(event, path) == value, path
    # Fan data stays out of repr (and so out of any log line that prints an event).
    assert not any(secret in repr(event) for secret in FAN_DATA)


def test_the_table_covers_every_documented_type_and_no_invented_one() -> None:
    documented = {d.type for d in DOCUMENTED}
    assert set(EVENT_TYPES) == documented
    for retired in ("follower.new", "subscriber.new", "purchase", "tip"):
        assert retired not in EVENT_TYPES
        with pytest.raises(ValueError, match="not a modelled webhook type"):
            WebhookRegistry().on(retired)


def test_flat_shapes_are_recognised_without_any_type_hint() -> None:
    for documented in PLATFORM:
        if documented.type == "follow.new":
            continue  # no documented shape: needs its type field or header
        assert "type" not in documented.body
        assert parse_event(documented.raw()).type == documented.type


def test_a_type_field_or_header_wins_over_the_shape() -> None:
    tip = next(d for d in PLATFORM if d.type == "tip.new")
    # A header naming another modelled type is taken as said (the body is read as that type).
    as_purchase = parse_event(tip.raw(), header_type="purchase.new")
    assert isinstance(as_purchase, PurchaseNew)
    # The body's own type field comes first, before the header.
    body = json.dumps({**tip.body, "type": "tip.new"}).encode()
    assert isinstance(parse_event(body, header_type="purchase.new"), TipNew)


@pytest.mark.parametrize(
    ("body", "declared", "reason"),
    [
        (b"{}", "", "unrecognised shape"),
        (b'{"hello": "world", "recipientUuid": "c"}', "", "unrecognised shape"),
        (b'{"type": "follow.removed", "x": 1}', "follow.removed", "unmodelled type"),
        (b'{"id": "e1", "type": "payout.failed", "data": {}}', "payout.failed", "unmodelled type"),
        (b'{"type": "payout.paid", "amount": 5}', "payout.paid", "expected an envelope"),
        (b'{"type": 5, "data": []}', "", "unrecognised shape"),
        # A documented field with another JSON type: still accepted, just not typed.
        (
            b'{"counterpartUuid": "f", "readMessagesCount": "7"}',
            "message.read",
            "field 'readMessagesCount' is not an integer",
        ),
        (
            b'{"id": "e2", "type": "payout.paid", "data": {"amount": true}}',
            "payout.paid",
            "field 'amount' is not an integer",
        ),
    ],
)
def test_unknown_shapes_become_unknown_events(body: bytes, declared: str, reason: str) -> None:
    event = parse_event(body)
    assert type(event) is UnknownEvent
    assert (event.type, event.reason) == (declared, reason)
    assert event.payload == json.loads(body)


@pytest.mark.parametrize("body", [b"not json", b"[1, 2]", b'"text"', b"12", b"\xff\xfe", b""])
def test_only_non_objects_are_protocol_errors(body: bytes) -> None:
    with pytest.raises(ProtocolError):
        parse_event(body)


def test_delivery_keys_are_stable_across_redeliveries() -> None:
    payout = next(d for d in DOCUMENTED if d.type == "payout.paid")
    assert delivery_key(parse_event(payout.raw())) == "evt-payout"
    message = next(d for d in DOCUMENTED if d.type == "message.received")
    assert delivery_key(parse_event(message.raw())) == (
        "message.received:" + message.body["messageUuid"]
    )
    tip = next(d for d in DOCUMENTED if d.type == "tip.new")
    key = delivery_key(parse_event(tip.raw()))
    # The same event object re-serialised (other key order, spacing) keeps its key...
    reordered = json.dumps(dict(reversed(list(tip.body.items()))), indent=2).encode()
    assert delivery_key(parse_event(reordered)) == key
    # ...another event does not share it.
    other = json.dumps({**tip.body, "price": 501}).encode()
    assert delivery_key(parse_event(other)) != key
    odd = b'{"id": "has spaces/and{braces}", "type": "payout.paid", "data": {}}'
    assert delivery_key(parse_event(odd)).startswith("sha256:")


# --- the registry ------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_registry_runs_typed_unknown_and_any_handlers_and_reports_failures() -> None:
    registry = WebhookRegistry()
    calls: list[str] = []

    @registry.on("tip.new")
    async def on_tip(event: TipNew) -> None:
        calls.append(f"tip:{event.price}")

    @registry.on("tip.new")
    def broken(event: TipNew) -> None:  # a plain function is fine too
        raise RuntimeError("boom")

    @registry.on_unknown
    async def unknown(event: UnknownEvent) -> None:
        calls.append(f"unknown:{event.reason}")

    @registry.on_any
    async def audit(event: WebhookEvent) -> None:
        calls.append(f"any:{event.type}")

    assert await registry.dispatch(parse_event(b'{"hello": 1}')) == 2
    assert calls == ["unknown:unrecognised shape", "any:"]
    calls.clear()
    tip = next(d for d in PLATFORM if d.type == "tip.new")
    with pytest.raises(WebhookHandlerError) as caught:
        await registry.dispatch(parse_event(tip.raw()))
    # The failure did not stop the others.
    assert calls == ["tip:500", "any:tip.new"]
    assert [name for name, _ in caught.value.failures] == [broken.__qualname__]
    # A typed handler never sees an UnknownEvent of its type.
    calls.clear()
    await registry.dispatch(parse_event(b'{"type": "tip.new", "price": "lots"}'))
    assert calls == ["unknown:field 'price' is not an integer", "any:tip.new"]


def test_retry_policy_backs_off_exponentially_within_bounds() -> None:
    policy = RetryPolicy(max_attempts=5, base_delay=10, max_delay=60)
    for attempt, plain in ((1, 10), (2, 20), (3, 40), (4, 60), (9, 60)):
        assert plain * 0.75 <= policy.delay(attempt) <= plain * 1.25
    with pytest.raises(ValueError, match="max_attempts"):
        RetryPolicy(max_attempts=0)


# --- the route, on real Redis ------------------------------------------------------------------


def webhook_settings(redis_url: str | None = None, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "client_id": DEV_CLIENT_ID,
        "client_secret": Secret(DEV_CLIENT_SECRET),
        "redirect_uri": "http://127.0.0.1:9/oauth/callback",
        "session_secret": Secret(DEV_SESSION_SECRET),
        "mode": "development",
        "platform_url": "http://127.0.0.1:9",
        "issuer_base_url": "http://127.0.0.1:9",
        "api_base_url": "http://127.0.0.1:9",
        "webhook_secrets": (Secret(SECRET),),
    }
    if redis_url is not None:
        values["redis_url"] = Secret(redis_url)
        values["token_encryption_keys"] = parse_encryption_keys(DEV_ENCRYPTION_KEY)
    values.update(overrides)
    return Settings(**values)


@dataclass
class Receiver:
    app: Starlette
    registry: WebhookRegistry
    events: list[WebhookEvent] = field(default_factory=list)
    fail: bool = False

    @property
    def services(self) -> Services:
        services: Services = self.app.state.fanvue
        return services

    def client(self) -> httpx.AsyncClient:
        transport = httpx.ASGITransport(app=self.app)
        return httpx.AsyncClient(transport=transport, base_url="https://app.test")


def build_receiver(redis_url: str, **app_kwargs: Any) -> Receiver:
    registry = WebhookRegistry(retry=RetryPolicy(max_attempts=3, base_delay=0, max_delay=0))
    app = create_app(webhook_settings(redis_url), webhooks=registry, **app_kwargs)
    receiver = Receiver(app=app, registry=registry)

    @registry.on_any
    async def record(event: WebhookEvent) -> None:
        if receiver.fail:
            raise RuntimeError(f"handler saw {event.payload}")
        receiver.events.append(event)

    return receiver


@pytest.fixture
async def receiver(redis_url: str) -> AsyncIterator[Receiver]:
    built = build_receiver(redis_url)
    yield built
    await built.services.aclose()


async def post_signed(
    client: httpx.AsyncClient,
    body: bytes,
    secret: str = SECRET,
    timestamp: int | None = None,
    header_type: str | None = None,
) -> httpx.Response:
    stamp = int(time.time()) if timestamp is None else timestamp
    headers = {"X-Fanvue-Signature": header_for(body, secret, stamp)}
    if header_type:
        headers["X-Fanvue-Event-Type"] = header_type
    return await client.post("/webhooks/fanvue", content=body, headers=headers)


def duplicates(receiver: Receiver) -> float:
    """Duplicates counted by this app's own metrics (each app owns its registry)."""
    metrics = receiver.services.metrics
    return metrics.value("fanvue_webhook_deliveries_total", outcome="duplicate")


@pytest.mark.anyio
async def test_every_documented_delivery_is_accepted_typed_and_dispatched_once(
    receiver: Receiver,
) -> None:
    before = duplicates(receiver)
    async with receiver.client() as client:
        for documented in DOCUMENTED:
            first = await post_signed(client, documented.raw(), header_type=documented.header_type)
            assert first.status_code == 200, documented.name
            assert first.json() == {"status": "accepted"}, documented.name
            # Fanvue's retry is signed afresh: a new t, the same event.
            again = await post_signed(
                client,
                documented.raw(),
                timestamp=int(time.time()) - 5,
                header_type=documented.header_type,
            )
            assert again.json() == {"status": "duplicate"}, documented.name
    assert duplicates(receiver) == before + len(DOCUMENTED)
    assert [type(e) for e in receiver.events] == [d.cls for d in DOCUMENTED]
    for event, documented in zip(receiver.events, DOCUMENTED, strict=True):
        assert event.type == documented.type
        assert event.payload == documented.body
        for path, value in documented.expected.items():
            assert attribute(event, path) == value, (documented.name, path)
    # Done: the payloads are dropped, the records stay (as dedup markers) with no failure.
    for event in receiver.events:
        info = await receiver.services.webhooks.records.info(delivery_key(event))
        assert info is not None
        assert (info.state, info.attempts, info.errors) == ("done", 1, ())


@pytest.mark.anyio
async def test_unknown_shapes_are_accepted_and_only_non_objects_are_400(
    receiver: Receiver,
) -> None:
    async with receiver.client() as client:
        utf16 = '{"type": "follow.removed", "n": 1}'.encode("utf-16")  # JSON, not UTF-8
        for body in (b'{"what": "is this"}', utf16, b"{}"):
            response = await post_signed(client, body)
            assert response.json() == {"status": "accepted"}
        for body in (b"plain text", b"[1,2,3]", b'"x"', b"\xff"):
            response = await post_signed(client, body)
            assert response.status_code == 400
            assert response.json()["error"] == "invalid_request"
    assert [type(e) for e in receiver.events] == [UnknownEvent] * 3
    assert [e.type for e in receiver.events] == ["", "follow.removed", ""]


@pytest.mark.anyio
async def test_bad_signatures_get_a_bare_401(receiver: Receiver) -> None:
    body = DOCUMENTED[0].raw()
    async with receiver.client() as client:
        forged = await post_signed(client, body, secret="whsec_attacker_000000000")
        missing = await client.post("/webhooks/fanvue", content=body)
        stale = await post_signed(client, body, timestamp=int(time.time()) - 3600)
        malformed = await client.post(
            "/webhooks/fanvue", content=body, headers={"X-Fanvue-Signature": "t=1,v0=zz"}
        )
    for response in (forged, missing, stale, malformed):
        assert response.status_code == 401
        assert error_code(response) == "invalid_signature"
    assert receiver.events == []
    # A rejected delivery leaves no dedup marker: the genuine one still gets through.
    async with receiver.client() as client:
        assert (await post_signed(client, body)).json() == {"status": "accepted"}


@pytest.mark.anyio
async def test_route_uses_the_app_clock(redis_url: str) -> None:
    built = build_receiver(redis_url, clock=lambda: float(NOW))
    try:
        async with built.client() as client:
            body = ENVELOPE_BODY("evt_clock")
            assert (await post_signed(client, body, timestamp=NOW - 10)).status_code == 200
            late = ENVELOPE_BODY("evt_late")
            assert (await post_signed(client, late, timestamp=NOW - 400)).status_code == 401
    finally:
        await built.services.aclose()


def ENVELOPE_BODY(event_id: str, **data: Any) -> bytes:
    return json.dumps(
        {"id": event_id, "type": "payout.paid", "timestamp": "2025-06-15T00:00:00Z", "data": data}
    ).encode()


@pytest.mark.anyio
async def test_oversized_body_is_413_with_or_without_content_length(receiver: Receiver) -> None:
    body = ENVELOPE_BODY("evt_big", filler="x" * (256 * 1024))
    assert len(body) > 256 * 1024

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(body), 16 * 1024):
            yield body[start : start + 16 * 1024]

    stamp = int(time.time())
    headers = {"X-Fanvue-Signature": header_for(body, SECRET, stamp)}
    async with receiver.client() as client:
        declared = await client.post("/webhooks/fanvue", content=body, headers=headers)
        streamed = await client.post("/webhooks/fanvue", content=chunks(), headers=headers)
        # Exactly at the limit is fine (it is signed, so it is judged on its content).
        at_limit = b'{"type":"tip.new","pad":"' + b"y" * (256 * 1024 - 27) + b'"}'
        assert len(at_limit) == 256 * 1024
        fits = await post_signed(client, at_limit)
    assert declared.status_code == 413
    assert error_code(declared) == "payload_too_large"
    assert streamed.status_code == 413
    assert fits.status_code == 200
    assert [e.type for e in receiver.events] == ["tip.new"]


@pytest.mark.anyio
async def test_payloads_are_sealed_at_rest_and_failures_logged_without_them(
    receiver: Receiver, redis_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    receiver.fail = True  # every payload stays stored, waiting for a retry
    with caplog.at_level("INFO"):
        async with receiver.client() as client:
            for documented in DOCUMENTED:
                response = await post_signed(
                    client, documented.raw(), header_type=documented.header_type
                )
                # Acknowledged: the failure is ours to retry, not Fanvue's.
                assert response.json() == {"status": "accepted"}
    assert receiver.events == []
    pending = await receiver.services.webhooks.inbox().list("pending", 1000)
    assert len(pending) == len(DOCUMENTED)
    assert all(info.errors == ("RuntimeError",) and info.attempts == 1 for info in pending)
    # The scan is not vacuous: the webhook keys exist and hold the (sealed) payloads.
    assert find_plaintext_tokens(redis_url, markers=["webhooks"]) != []
    assert find_plaintext_tokens(redis_url, markers=[*FAN_DATA, CREATOR]) == []
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "RuntimeError" in logged
    assert not any(value in logged for value in FAN_DATA)


@pytest.mark.anyio
async def test_store_down_means_503_so_the_sender_retries() -> None:
    dead = f"redis://127.0.0.1:{free_port()}"
    app = create_app(webhook_settings(dead), webhooks=WebhookRegistry())
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="https://app.test"
        ) as client:
            response = await post_signed(client, ENVELOPE_BODY("evt_down"))
    finally:
        await app.state.fanvue.aclose()
    assert response.status_code == 503
    assert error_code(response) == "store_unavailable"


@pytest.mark.anyio
async def test_route_mounting_follows_configuration() -> None:
    with pytest.raises(ConfigurationError) as caught:
        create_app(webhook_settings(webhook_secrets=()), webhooks=WebhookRegistry())
    assert caught.value.variable == "FANVUE_WEBHOOK_SECRET"
    plain = create_app(webhook_settings(webhook_secrets=()))
    # A configured secret alone mounts the route (events are recorded, no handler runs).
    secret_only = create_app(webhook_settings())
    try:
        assert "/webhooks/fanvue" not in {getattr(r, "path", None) for r in plain.routes}
        assert "/webhooks/fanvue" in {getattr(r, "path", None) for r in secret_only.routes}
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=secret_only), base_url="https://app.test"
        ) as client:
            assert (await post_signed(client, DOCUMENTED[0].raw())).status_code == 200
    finally:
        await plain.state.fanvue.aclose()
        await secret_only.state.fanvue.aclose()


def test_message_text_is_not_in_the_repr_of_a_received_message() -> None:
    event = parse_event(next(d for d in PLATFORM if d.type == "message.received").raw())
    assert isinstance(event, MessageReceived)
    assert event.message is not None
    assert event.message.text == MESSAGE_TEXT
    assert MESSAGE_TEXT not in repr(event)
