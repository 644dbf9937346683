"""End to end over real sockets and real Redis: something happens in the emulator's world, the
emulator sends Fanvue's webhook, and the app's ``WebhookRegistry`` handler (uvicorn) runs with
the typed event, verified with the right secret, once, even when the emulator had to retry."""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from fanvue_embedded._devdefaults import DEV_ENCRYPTION_KEY, DEV_WEBHOOK_SECRET
from fanvue_embedded._redis import redis_from_url
from fanvue_embedded.app import create_app
from fanvue_embedded.client import FanvueClient
from fanvue_embedded.config import Secret, parse_encryption_keys
from fanvue_embedded.crypto import Keyring
from fanvue_embedded.webhooks import (
    CheckoutPaymentEvent,
    MessageRead,
    MessageReceived,
    RedisSubscriptionSecrets,
    TipNew,
    WebhookEvent,
    WebhookRegistry,
    list_webhook_subscriptions,
    subscribe,
)
from tests.support.emulator import EmulatorHandle
from tests.support.servers import serve_in_thread
from tests.test_webhooks import webhook_settings

LUNA = "luna.rivers"
APP_ONLY_SECRET = "whsec_the_apps_own_secret_not_the_emulators"


class FailFirst:
    """ASGI wrapper: the app handles every webhook, but the first ``fail`` answers are
    replaced by a 500 (as if the response were lost), so the emulator retries a delivery the
    app has already recorded. Keeps what the app really answered."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.fail = 0
        self.answers: list[dict[str, Any]] = []
        self.lock = threading.Lock()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != "/webhooks/fanvue":
            await self.app(scope, receive, send)
            return
        with self.lock:
            replace = self.fail > 0
            self.fail -= int(replace)
        start: dict[str, Any] = {}
        body = bytearray()

        async def capture(message: Message) -> None:
            if message["type"] == "http.response.start":
                start.update(message)
            else:
                body.extend(message.get("body", b""))

        await self.app(scope, receive, capture)
        with self.lock:
            self.answers.append({"status": start["status"], **json.loads(bytes(body))})
        if replace:
            start, body = {**start, "status": 500, "headers": []}, bytearray()
        await send(start)
        await send({"type": "http.response.body", "body": bytes(body)})


@dataclass
class RunningApp:
    url: str  # the webhook route
    wrapper: FailFirst
    events: list[WebhookEvent] = field(default_factory=list)

    def wait_for(self, count: int) -> list[WebhookEvent]:
        deadline = time.monotonic() + 30
        while len(self.events) < count:
            assert time.monotonic() < deadline, f"{len(self.events)} of {count} events handled"
            time.sleep(0.02)
        return list(self.events)


@contextlib.contextmanager
def serve_app(redis_url: str, secret: str) -> Iterator[RunningApp]:
    """The app on a real socket with a handler recording every event, verifying ``secret``."""
    registry = WebhookRegistry()
    settings = webhook_settings(redis_url, webhook_secrets=(Secret(secret),))
    wrapper = FailFirst(create_app(settings, webhooks=registry))
    with serve_in_thread(wrapper) as base_url:
        running = RunningApp(f"{base_url}/webhooks/fanvue", wrapper)
        registry.on_any(running.events.append)
        yield running


@pytest.fixture
def app(redis_url: str, emulator: EmulatorHandle) -> Iterator[RunningApp]:
    """The app, verifying with the emulator's app-wide secret, registered as its webhook_url."""
    with serve_app(redis_url, DEV_WEBHOOK_SECRET) as running:
        emulator.control("PATCH", "/app", json={"webhook_url": running.url})
        emulator.settings(webhook_backoff=0.05)
        yield running


def first_chat(emulator: EmulatorHandle) -> str:
    keys: list[str] = emulator.control("GET", f"/creators/{LUNA}/world/chats")["keys"]
    return keys[0]


def test_a_fan_message_reaches_the_handler_once_though_the_emulator_retried(
    emulator: EmulatorHandle, app: RunningApp
) -> None:
    fan = first_chat(emulator)
    app.wrapper.fail = 1
    sent = emulator.control(
        "POST", f"/creators/{LUNA}/fans/{fan}/messages", json={"text": "Are you online?"}
    )
    [delivery] = sent["deliveries"]
    assert [a["status"] for a in delivery["attempts"]] == [500, 200]
    # The app recorded it the first time; the retry (a fresh signature, the same body) is a
    # duplicate and is not dispatched again.
    assert [a["status"] for a in app.wrapper.answers] == ["accepted", "duplicate"]
    [event] = app.wait_for(1)
    assert isinstance(event, MessageReceived)
    payload = sent["payload"]
    assert event.message_uuid == payload["messageUuid"]
    assert event.message is not None
    assert event.message.text == "Are you online?"
    assert event.sender is not None
    assert (event.sender.uuid, event.recipient_uuid) == (fan, emulator.creator_uuid(LUNA))
    [listed] = emulator.control("GET", "/webhooks")["deliveries"]
    assert listed["attempts"] == delivery["attempts"]
    assert len(app.events) == 1


def test_message_read_after_the_creator_reads_the_chat_through_the_api(
    emulator: EmulatorHandle, app: RunningApp
) -> None:
    token = emulator.access_token()
    fan = first_chat(emulator)
    emulator.control("POST", f"/creators/{LUNA}/fans/{fan}/messages", json={"text": "hi"})
    unread = next(
        c["unreadMessagesCount"]
        for c in emulator.api("GET", "/chats", token).json()["data"]
        if c["user"]["uuid"] == fan
    )
    assert emulator.api("GET", f"/chats/{fan}/messages", token).status_code == 200
    received, read = app.wait_for(2)
    assert isinstance(received, MessageReceived)
    assert isinstance(read, MessageRead)
    assert (read.counterpart_uuid, read.read_messages_count) == (fan, unread)
    assert read.recipient_uuid == emulator.creator_uuid(LUNA)


def test_a_checkout_payment_reaches_the_handler_typed(
    emulator: EmulatorHandle, app: RunningApp
) -> None:
    sent = emulator.control(
        "POST",
        f"/creators/{LUNA}/checkout/payments",
        json={"status": "succeeded", "gross": 4200, "client_reference_id": "order-7"},
    )
    [event] = app.wait_for(1)
    assert isinstance(event, CheckoutPaymentEvent)
    assert event.id == sent["id"]
    assert event.data is not None
    assert (event.data.status, event.data.gross, event.data.client_reference_id) == (
        "succeeded",
        4200,
        "order-7",
    )
    assert event.data.creator is not None
    assert event.data.creator.uuid == emulator.creator_uuid(LUNA)


@pytest.mark.anyio
async def test_an_api_created_subscription_gets_only_its_types_verified_with_its_secret(
    redis_url: str, emulator: EmulatorHandle
) -> None:
    """No Developer Area endpoint; the app knows only its own secret, not the emulator's.
    Deliveries for the subscription verify with the secret ``subscribe`` stored."""
    creator = emulator.creator_uuid(LUNA)
    token = emulator.access_token(LUNA, "read:creator")
    secrets = RedisSubscriptionSecrets(
        redis_from_url(redis_url),
        Keyring(parse_encryption_keys(DEV_ENCRYPTION_KEY)),
        close_client=True,
    )
    with serve_app(redis_url, APP_ONLY_SECRET) as app:
        try:
            async with FanvueClient(token, api_base_url=emulator.base_url) as api:
                created = await subscribe(api, secrets, creator, app.url, ["tip.new"])
                listed = await list_webhook_subscriptions(api)
            assert [s.id for s in listed] == [created.id]
            assert listed[0].events == ("tip.new",)
            assert await secrets.subscriptions(creator) == [created.id]

            fan = first_chat(emulator)
            message = emulator.control(
                "POST", f"/creators/{LUNA}/fans/{fan}/messages", json={"text": "x"}
            )
            assert message["deliveries"] == []  # not one of its types, no app endpoint
            tip = emulator.control(
                "POST", f"/creators/{LUNA}/fans/{fan}/tips", json={"amount": 1500}
            )
            [delivery] = tip["deliveries"]
            assert (delivery["target"], delivery["status"]) == (created.id, 200)
            [event] = app.wait_for(1)
            assert isinstance(event, TipNew)
            assert (event.sender_uuid, event.price, event.context) == (fan, 1500, "post")

            # Signed with the emulator's app-wide secret instead, the app refuses it.
            emulator.control("PATCH", "/app", json={"webhook_url": app.url})
            refused = emulator.control("POST", "/webhooks", json={"type": "tip.new", "retries": 0})
            assert refused["status"] == 401
            assert len(app.events) == 1
        finally:
            await secrets.aclose()
