"""Webhooks: the pure verifier and parser, the route (dedup, bounds, failures), end to end."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import threading
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

import anyio
import httpx
import pytest
from starlette.applications import Starlette

from fanvue_embedded._devdefaults import (
    DEV_CLIENT_ID,
    DEV_CLIENT_SECRET,
    DEV_SESSION_SECRET,
    DEV_WEBHOOK_SECRET,
)
from fanvue_embedded.app import create_app
from fanvue_embedded.config import Secret, Settings
from fanvue_embedded.ephemeral import RedisEphemeralStore
from fanvue_embedded.errors import ConfigurationError, ProtocolError, WebhookVerificationError
from fanvue_embedded.webhooks import (
    EVENT_TYPES,
    FollowerNew,
    MessageReceived,
    Purchase,
    Tip,
    UnknownEvent,
    WebhookEvent,
    WebhookHandlerError,
    WebhookInbox,
    WebhookRegistry,
    cli_send,
    delivery_id,
    encode_event,
    parse_event,
    send_webhook,
    sign,
    verify_signature,
)
from tests.support.emulator import EmulatorHandle
from tests.support.errors import error_code
from tests.support.redis_topology import sync_client
from tests.support.servers import free_port, serve_in_thread

SECRET = "whsec_test_0123456789abcdef"
OLD_SECRET = "whsec_old_0123456789abcdef"
NOW = 1_750_000_000
BODY = b'{"id":"evt_1","type":"tip","createdAt":1750000000,"data":{"amount":500}}'


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


# --- typed events ------------------------------------------------------------------------------


def test_known_types_parse_into_typed_events() -> None:
    tip = parse_event(
        encode_event(
            "tip",
            {"creatorUuid": "c1", "fanUuid": "f1", "amount": 500, "currency": "USD", "x": 1},
            event_id="evt_9",
            created_at=NOW,
        )
    )
    assert isinstance(tip, Tip)
    assert (tip.id, tip.created_at, tip.creator_uuid, tip.fan_uuid) == ("evt_9", NOW, "c1", "f1")
    assert (tip.amount, tip.currency, tip.message) == (500, "USD", None)
    assert tip.data["x"] == 1  # unmodelled fields stay reachable
    message = parse_event(encode_event("message.received", {"text": "private words"}))
    assert isinstance(message, MessageReceived)
    assert message.text == "private words"
    assert "private words" not in repr(message)
    assert isinstance(parse_event(encode_event("purchase", {"itemType": "post"})), Purchase)
    assert set(EVENT_TYPES) == {
        "message.received",
        "message.read",
        "follower.new",
        "subscriber.new",
        "purchase",
        "tip",
    }


def test_unknown_type_keeps_raw_data_and_is_lenient() -> None:
    event = parse_event(encode_event("payout.sent", {"amount": "lots", "creatorUuid": 7}))
    assert type(event) is UnknownEvent
    assert event.type == "payout.sent"
    assert event.data == {"amount": "lots", "creatorUuid": 7}
    assert event.creator_uuid is None


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[1, 2]",
        b'{"data": {}}',
        b'{"type": ""}',
        b'{"type": 5}',
        b'{"type": "tip", "data": []}',
        b'{"type": "tip", "data": {"amount": "500"}}',
        b'{"type": "tip", "data": {"amount": true}}',
        b'{"type": "tip", "id": 12}',
        b"\xff\xfe",
    ],
)
def test_malformed_events_are_protocol_errors(body: bytes) -> None:
    with pytest.raises(ProtocolError):
        parse_event(body)


def test_delivery_id_prefers_the_event_id() -> None:
    event = parse_event(BODY)
    assert delivery_id(event, BODY, NOW) == "evt_1"
    anonymous = b'{"type":"tip"}'
    fallback = delivery_id(parse_event(anonymous), anonymous, NOW)
    assert fallback == hashlib.sha256(f"{NOW}.".encode() + anonymous).hexdigest()
    assert fallback != delivery_id(parse_event(anonymous), anonymous, NOW + 1)
    odd = encode_event("tip", {}, event_id="has spaces/and:slashes")
    assert delivery_id(parse_event(odd), odd, NOW) != "has spaces/and:slashes"


# --- the registry ------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_registry_runs_typed_then_any_handlers_and_reports_failures() -> None:
    registry = WebhookRegistry()
    calls: list[str] = []

    @registry.on("tip")
    async def on_tip(event: Tip) -> None:
        calls.append(f"tip:{event.amount}")

    @registry.on("tip")
    def broken(event: Tip) -> None:  # a plain function is fine too
        raise RuntimeError("boom")

    @registry.on_any
    async def audit(event: WebhookEvent) -> None:
        calls.append(f"any:{event.type}")

    assert await registry.dispatch(parse_event(encode_event("follower.new", {}))) == 1
    assert calls == ["any:follower.new"]
    calls.clear()
    with pytest.raises(WebhookHandlerError) as caught:
        await registry.dispatch(parse_event(encode_event("tip", {"amount": 5})))
    # The failure did not stop the others.
    assert calls == ["tip:5", "any:tip"]
    assert [name for name, _ in caught.value.failures] == [broken.__qualname__]
    with pytest.raises(ValueError, match="non-empty"):
        registry.on("")


# --- the route ---------------------------------------------------------------------------------


def webhook_settings(**overrides: Any) -> Settings:
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
    values.update(overrides)
    return Settings(**values)


@dataclass
class Receiver:
    app: Starlette
    registry: WebhookRegistry
    store: RedisEphemeralStore
    events: list[WebhookEvent] = field(default_factory=list)
    fail: bool = False

    def client(self) -> httpx.AsyncClient:
        transport = httpx.ASGITransport(app=self.app)
        return httpx.AsyncClient(transport=transport, base_url="https://app.test")


def build_receiver(redis_url: str, **app_kwargs: Any) -> Receiver:
    registry = WebhookRegistry()
    store = RedisEphemeralStore.from_url(redis_url)
    app = create_app(webhook_settings(), ephemeral=store, webhooks=registry, **app_kwargs)
    receiver = Receiver(app=app, registry=registry, store=store)

    @registry.on_any
    async def record(event: WebhookEvent) -> None:
        if receiver.fail:
            raise RuntimeError(f"handler saw {event.data}")
        receiver.events.append(event)

    return receiver


@pytest.fixture
async def receiver(redis_url: str) -> AsyncIterator[Receiver]:
    built = build_receiver(redis_url)
    yield built
    await built.app.state.fanvue.aclose()


def duplicates(receiver: Receiver) -> float:
    metrics = receiver.app.state.fanvue.metrics
    return float(metrics.value("fanvue_webhook_deliveries_total", outcome="duplicate"))


async def post_signed(
    client: httpx.AsyncClient, body: bytes, secret: str = SECRET, timestamp: int | None = None
) -> httpx.Response:
    stamp = int(time.time()) if timestamp is None else timestamp
    headers = {"X-Fanvue-Signature": header_for(body, secret, stamp)}
    return await client.post("/webhooks/fanvue", content=body, headers=headers)


@pytest.mark.anyio
async def test_accepted_event_is_dispatched_and_record_cleared(receiver: Receiver) -> None:
    body = encode_event("tip", {"amount": 700}, event_id="evt_ok")
    async with receiver.client() as client:
        response = await post_signed(client, body)
    assert response.status_code == 200
    assert response.json() == {"status": "accepted"}
    assert [(type(e), e.id) for e in receiver.events] == [(Tip, "evt_ok")]
    assert await receiver.store.get(WebhookInbox.pending_key("evt_ok")) is None
    assert await receiver.store.get(WebhookInbox.failed_key("evt_ok")) is None


@pytest.mark.anyio
async def test_duplicate_delivery_is_answered_but_not_dispatched(
    receiver: Receiver, redis_url: str
) -> None:
    body = encode_event("follower.new", {"fanUuid": "f1"}, event_id="evt_dup")
    before = duplicates(receiver)
    async with receiver.client() as client:
        first = await post_signed(client, body)
        again = await post_signed(client, body)
        # Fanvue's retry is signed afresh: a new t, the same event id.
        resigned = await post_signed(client, body, timestamp=int(time.time()) - 5)
    assert first.json() == {"status": "accepted"}
    assert again.status_code == 200
    assert again.json() == {"status": "duplicate"}
    assert resigned.json() == {"status": "duplicate"}
    assert len(receiver.events) == 1
    assert duplicates(receiver) == before + 2
    # The dedup marker lives 2 x tolerance + 60 s: past that, the timestamp check takes over.
    raw = sync_client(redis_url)
    try:
        ttl_ms = raw.pttl("fve:e:webhook:seen:evt_dup")
    finally:
        raw.close()
    assert 600_000 < int(ttl_ms) <= 660_000


@pytest.mark.anyio
async def test_bad_signatures_get_a_bare_401(receiver: Receiver) -> None:
    body = encode_event("tip", {}, event_id="evt_forged")
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
            body = encode_event("tip", {}, event_id="evt_clock")
            assert (await post_signed(client, body, timestamp=NOW - 10)).status_code == 200
            late = encode_event("tip", {}, event_id="evt_late")
            assert (await post_signed(client, late, timestamp=NOW - 400)).status_code == 401
    finally:
        await built.app.state.fanvue.aclose()


@pytest.mark.anyio
async def test_oversized_body_is_413_with_or_without_content_length(receiver: Receiver) -> None:
    filler = "x" * (256 * 1024)
    body = encode_event("tip", {"message": filler}, event_id="evt_big")
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
        at_limit = b'{"type":"tip","pad":"' + b"y" * (256 * 1024 - 23) + b'"}'
        assert len(at_limit) == 256 * 1024
        fits = await post_signed(client, at_limit)
    assert declared.status_code == 413
    assert error_code(declared) == "payload_too_large"
    assert streamed.status_code == 413
    assert fits.status_code == 200
    assert [e.type for e in receiver.events] == ["tip"]


@pytest.mark.anyio
async def test_signed_but_not_a_json_object_is_400(receiver: Receiver) -> None:
    async with receiver.client() as client:
        for body in (b"plain text", b"[1,2,3]", b'{"type":"tip","data":{"amount":"1"}}'):
            response = await post_signed(client, body)
            assert response.status_code == 400
            assert response.json()["error"] == "invalid_request"
    assert receiver.events == []


@pytest.mark.anyio
async def test_failing_handler_is_logged_and_the_event_kept(
    receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    receiver.fail = True
    body = encode_event("tip", {"message": "very private note"}, event_id="evt_fail")
    with caplog.at_level(logging.INFO):
        async with receiver.client() as client:
            response = await post_signed(client, body)
    # Acknowledged: the failure is ours to handle, not Fanvue's to retry.
    assert response.json() == {"status": "accepted"}
    assert receiver.events == []
    failed = await receiver.store.get(WebhookInbox.failed_key("evt_fail"))
    assert failed is not None
    record = json.loads(failed)
    assert record["body"].encode() == body
    assert record["errors"] == ["RuntimeError"]
    assert await receiver.store.get(WebhookInbox.pending_key("evt_fail")) is None
    logged = [r.getMessage() for r in caplog.records if "evt_fail" in r.getMessage()]
    assert any("RuntimeError" in line for line in logged)
    assert not any("very private note" in r.getMessage() for r in caplog.records)

    # Once the handler is fixed, the kept event can be dispatched again.
    receiver.fail = False
    inbox = WebhookInbox(receiver.store, receiver.registry)
    assert await inbox.retry_failed("evt_fail") is True
    assert [e.id for e in receiver.events] == ["evt_fail"]
    assert await receiver.store.get(WebhookInbox.failed_key("evt_fail")) is None
    with pytest.raises(LookupError):
        await inbox.retry_failed("evt_fail")


@pytest.mark.anyio
async def test_store_down_means_503_so_the_sender_retries() -> None:
    dead = RedisEphemeralStore.from_url(f"redis://127.0.0.1:{free_port()}")
    app = create_app(webhook_settings(), ephemeral=dead, webhooks=WebhookRegistry())
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="https://app.test"
        ) as client:
            response = await post_signed(client, encode_event("tip", {}))
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
            assert (await post_signed(client, encode_event("tip", {}))).status_code == 200
    finally:
        await plain.state.fanvue.aclose()
        await secret_only.state.fanvue.aclose()


# --- over real sockets -------------------------------------------------------------------------


@dataclass
class ServedReceiver:
    base_url: str
    events: list[WebhookEvent]
    arrived: threading.Event


@pytest.fixture
def served(redis_url: str) -> Iterator[ServedReceiver]:
    """The app on a real socket, verifying with the emulator's dev webhook secret."""
    registry = WebhookRegistry()
    events: list[WebhookEvent] = []
    arrived = threading.Event()

    @registry.on("tip")
    async def on_tip(event: Tip) -> None:
        events.append(event)
        arrived.set()

    @registry.on("follower.new")
    async def on_follower(event: FollowerNew) -> None:
        events.append(event)
        arrived.set()

    store = RedisEphemeralStore.from_url(redis_url)
    settings = webhook_settings(webhook_secrets=(Secret(DEV_WEBHOOK_SECRET),))
    app = create_app(settings, ephemeral=store, webhooks=registry)
    with serve_in_thread(app) as base_url:
        yield ServedReceiver(base_url, events, arrived)


@pytest.mark.anyio
async def test_emulator_sends_a_signed_event_to_the_app(
    emulator: EmulatorHandle, served: ServedReceiver
) -> None:
    emulator.control("PATCH", "/app", json={"webhook_url": f"{served.base_url}/webhooks/fanvue"})
    delivery = emulator.control("POST", "/webhooks", json={"type": "tip"})
    assert delivery["status"] == 200
    assert await anyio.to_thread.run_sync(served.arrived.wait, 10)
    [tip] = served.events
    assert isinstance(tip, Tip)
    assert tip.id == delivery["id"]
    # The emulator's sample payload has the shape our Tip models.
    assert (tip.amount, tip.currency) == (500, "USD")
    assert tip.creator_uuid
    assert tip.fan_uuid
    assert tip.tip_uuid

    # Explicit data is passed through as given.
    served.arrived.clear()
    emulator.control(
        "POST", "/webhooks", json={"type": "follower.new", "data": {"fanHandle": "new.fan"}}
    )
    assert await anyio.to_thread.run_sync(served.arrived.wait, 10)
    follower = served.events[1]
    assert isinstance(follower, FollowerNew)
    assert follower.fan_handle == "new.fan"

    # A sender with the wrong secret is refused.
    emulator.control("PATCH", "/app", json={"webhook_secret": "whsec_not_the_app_secret_000"})
    assert emulator.control("POST", "/webhooks", json={"type": "tip"})["status"] == 401
    assert len(served.events) == 2


@pytest.mark.anyio
async def test_handlers_run_after_the_response(redis_url: str) -> None:
    registry = WebhookRegistry()
    gate = threading.Event()
    done = threading.Event()

    @registry.on("tip")
    async def slow(event: Tip) -> None:
        await anyio.to_thread.run_sync(gate.wait, 10)
        done.set()

    # The app's store lives on uvicorn's event loop; the test reads through its own client.
    app = create_app(
        webhook_settings(), ephemeral=RedisEphemeralStore.from_url(redis_url), webhooks=registry
    )
    store = RedisEphemeralStore.from_url(redis_url)
    try:
        with serve_in_thread(app) as base_url:
            async with httpx.AsyncClient(base_url=base_url, timeout=10) as client:
                body = encode_event("tip", {}, event_id="evt_slow")
                response = await post_signed(client, body)
            # Answered while the handler is still blocked, and recorded before the answer.
            assert response.json() == {"status": "accepted"}
            assert not done.is_set()
            assert await store.get(WebhookInbox.pending_key("evt_slow")) is not None
            gate.set()
            assert await anyio.to_thread.run_sync(done.wait, 10)
            for _ in range(200):  # the record is cleared right after the handler returns
                if await store.get(WebhookInbox.pending_key("evt_slow")) is None:
                    break
                await asyncio.sleep(0.02)
            assert await store.get(WebhookInbox.pending_key("evt_slow")) is None
    finally:
        gate.set()
        await store.aclose()


@pytest.mark.anyio
async def test_send_webhook_and_cli_send(
    served: ServedReceiver, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"{served.base_url}/webhooks/fanvue"
    response = await send_webhook(url, "tip", {"amount": 42}, DEV_WEBHOOK_SECRET, event_id="e42")
    assert response.json() == {"status": "accepted"}
    assert await anyio.to_thread.run_sync(served.arrived.wait, 10)
    assert [(e.id, getattr(e, "amount", None)) for e in served.events] == [("e42", 42)]

    served.arrived.clear()
    assert await cli_send(url, "follower.new", '{"fanHandle": "cli.fan"}', DEV_WEBHOOK_SECRET) == 0
    assert await anyio.to_thread.run_sync(served.arrived.wait, 10)
    assert isinstance(served.events[1], FollowerNew)
    assert await cli_send(url, "tip", "{}", "whsec_wrong_secret_00000000") == 1
    assert await cli_send(url, "tip", "{not json", DEV_WEBHOOK_SECRET) == 2
    assert await cli_send(url, "tip", "[1]", DEV_WEBHOOK_SECRET) == 2
    dead = f"http://127.0.0.1:{free_port()}/webhooks/fanvue"
    assert await cli_send(dead, "tip", "{}", DEV_WEBHOOK_SECRET) == 1
    output = capsys.readouterr()
    assert "200 " in output.out
    assert "401 " in output.out
    assert DEV_WEBHOOK_SECRET not in output.out + output.err
    assert len(served.events) == 2
