"""Webhook delivery beyond the first attempt: the worker's retries (a separate OS process),
exhausted deliveries and the ``webhooks list|retry`` CLI, per-subscription signing secrets,
and the emulator's sender posting every documented type over real sockets."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import anyio
import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from fanvue_embedded._devdefaults import (
    DEV_CLIENT_ID,
    DEV_CLIENT_SECRET,
    DEV_ENCRYPTION_KEY,
    DEV_REDIRECT_URI,
    DEV_SESSION_SECRET,
    DEV_WEBHOOK_SECRET,
)
from fanvue_embedded._redis import redis_from_url
from fanvue_embedded.app import create_app
from fanvue_embedded.client import FanvueClient
from fanvue_embedded.config import Secret
from fanvue_embedded.emulator import Emulator
from fanvue_embedded.emulator.webhooks import SAMPLE_TYPES
from fanvue_embedded.webhooks import (
    EVENT_CLASSES,
    RedisInboxStore,
    RetryPolicy,
    WebhookEvent,
    WebhookRegistry,
    WebhookRetrier,
    delivery_key,
    list_webhook_subscriptions,
    parse_event,
    subscribe,
)
from tests.support.emulator import EmulatorHandle
from tests.support.redis_scan import find_plaintext_tokens
from tests.support.redis_topology import sync_client
from tests.support.servers import serve_in_thread
from tests.support.webhook_handlers import CALLS_KEY, DONE_KEY, SUCCEEDS_ON_CALL
from tests.support.webhook_payloads import DOCUMENTED, FAN_DATA, PLATFORM
from tests.test_webhooks import Receiver, post_signed, webhook_settings

pytestmark = pytest.mark.both_topologies

CLI = [sys.executable, "-m", "fanvue_embedded.cli"]


def cli_env(redis_url: str) -> dict[str, str]:
    """What ``worker`` and ``webhooks list|retry`` read: the app's Redis and keys."""
    return {
        **os.environ,
        "FANVUE_EMBEDDED_MODE": "development",
        "OAUTH_CLIENT_ID": DEV_CLIENT_ID,
        "OAUTH_CLIENT_SECRET": DEV_CLIENT_SECRET,
        "OAUTH_REDIRECT_URI": DEV_REDIRECT_URI,
        "SESSION_SECRET": DEV_SESSION_SECRET,
        "OAUTH_ISSUER_BASE_URL": "http://127.0.0.1:9",
        "API_BASE_URL": "http://127.0.0.1:9",
        "FANVUE_PLATFORM_URL": "http://127.0.0.1:9",
        "REDIS_URL": redis_url,
        "TOKEN_ENCRYPTION_KEYS": DEV_ENCRYPTION_KEY,
        "WEBHOOK_TEST_REDIS_URL": redis_url,
    }


def run_cli(redis_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *args],
        env=cli_env(redis_url),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


# --- the worker retries a failing handler ------------------------------------------------------


async def first_attempt_fails(redis_url: str) -> None:
    """The app receives a tip; attempt 1 (in the app) fails and is scheduled for a retry."""
    from tests.support.webhook_handlers import flaky

    receiver = Receiver(create_app(webhook_settings(redis_url), webhooks=flaky), flaky)
    tip = next(d for d in PLATFORM if d.type == "tip.new")
    try:
        async with receiver.client() as client:
            assert (await post_signed(client, tip.raw())).json() == {"status": "accepted"}
        key = delivery_key(parse_event(tip.raw()))
        info = await receiver.services.webhooks.records.info(key)
        assert info is not None
        assert (info.state, info.attempts, info.errors) == ("pending", 1, ("RuntimeError",))
    finally:
        await receiver.services.aclose()


def test_worker_process_retries_a_failing_handler_until_it_succeeds(
    redis_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("WEBHOOK_TEST_REDIS_URL", redis_url)
    asyncio.run(first_attempt_fails(redis_url))
    raw = sync_client(redis_url)
    log = tmp_path / "worker.log"
    args = [*CLI, "worker", "--webhooks", "tests.support.webhook_handlers:flaky"]
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [*args, "--webhook-interval", "0.1"], env=cli_env(redis_url), stdout=out, stderr=out
        )
        try:
            deadline = time.monotonic() + 60
            while raw.get(DONE_KEY) is None:
                assert process.poll() is None, log.read_text()
                assert time.monotonic() < deadline, "the worker never retried successfully"
                time.sleep(0.05)
            process.send_signal(signal.SIGTERM)
            assert process.wait(timeout=30) == 0
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
    try:
        assert raw.get(DONE_KEY) == b"tip.new"
        # Attempt 1 in the app, attempts 2 (failed, backed off) and 3 (succeeded) in the worker.
        assert int(raw.get(CALLS_KEY) or 0) == SUCCEEDS_ON_CALL
    finally:
        raw.close()
    text = log.read_text()
    assert "RuntimeError" in text
    assert not any(value in text for value in FAN_DATA)


# --- exhausted retries, kept for operators -----------------------------------------------------


@pytest.mark.anyio
async def test_exhausted_retries_are_kept_listed_and_retried_from_the_cli(
    redis_url: str,
) -> None:
    registry = WebhookRegistry(retry=RetryPolicy(max_attempts=2, base_delay=0, max_delay=0))
    broken = True
    seen: list[WebhookEvent] = []

    @registry.on("message.received")
    async def handle(event: WebhookEvent) -> None:
        if broken:
            raise KeyError("handler bug")
        seen.append(event)

    receiver = Receiver(create_app(webhook_settings(redis_url), webhooks=registry), registry)
    message = next(d for d in PLATFORM if d.type == "message.received")
    key = delivery_key(parse_event(message.raw()))
    try:
        async with receiver.client() as client:
            assert (await post_signed(client, message.raw())).json() == {"status": "accepted"}
        retrier = WebhookRetrier(receiver.services.webhooks.inbox(registry))
        assert await retrier.sweep() == 1  # attempt 2 of 2: exhausted
        assert await retrier.sweep() == 0  # nothing due any more

        listed = run_cli(redis_url, "webhooks", "list")
        assert listed.returncode == 0, listed.stderr
        rows = [json.loads(line) for line in listed.stdout.splitlines()]
        assert [(r["delivery"], r["type"], r["state"]) for r in rows] == [
            (key, "message.received", "failed")
        ]
        assert (rows[0]["attempts"], rows[0]["errors"]) == (2, ["KeyError"])
        assert not any(value in listed.stdout for value in FAN_DATA)
        pending = run_cli(redis_url, "webhooks", "list", "--state", "pending")
        assert pending.stdout == ""

        missing = run_cli(redis_url, "webhooks", "retry", "no-such-delivery")
        assert missing.returncode == 1
        requeued = run_cli(redis_url, "webhooks", "retry", key)
        assert requeued.returncode == 0, requeued.stderr
        assert f"{key}: queued" in requeued.stdout

        broken = False  # the handler is fixed; the next sweep delivers it
        assert await retrier.sweep() == 1
        assert [type(e).__name__ for e in seen] == ["MessageReceived"]
        assert run_cli(redis_url, "webhooks", "list").stdout == ""
        info = await receiver.services.webhooks.records.info(key)
        assert info is not None
        assert info.state == "done"
        everything = run_cli(redis_url, "webhooks", "retry", "--all")
        assert (everything.returncode, everything.stdout.strip()) == (0, "no failed deliveries")
    finally:
        await receiver.services.aclose()


# --- per-subscription signing secrets ----------------------------------------------------------


@pytest.fixture
def subscriptions_emulator() -> Iterator[tuple[Emulator, EmulatorHandle]]:
    """An emulator of this test's own (its state holds the subscriptions' secrets, which the
    test needs to sign deliveries itself), serving Fanvue's subscriptions API on a socket."""
    emulator = Emulator()
    with serve_in_thread(emulator) as base_url:
        yield emulator, EmulatorHandle(base_url)


@pytest.mark.anyio
async def test_subscription_secrets_verify_their_creators_deliveries_only(
    redis_url: str, subscriptions_emulator: tuple[Emulator, EmulatorHandle]
) -> None:
    emulator, handle = subscriptions_emulator
    creator = handle.creator_uuid("luna.rivers")
    token = handle.access_token("luna.rivers", "read:creator")
    registry = WebhookRegistry()
    events: list[WebhookEvent] = []
    registry.on_any(events.append)
    receiver = Receiver(create_app(webhook_settings(redis_url), webhooks=registry), registry)
    secrets = receiver.services.webhooks.secrets
    tip = next(d for d in PLATFORM if d.type == "tip.new")
    about_creator = json.dumps({**tip.body, "recipientUuid": creator}).encode()
    other_creator = json.dumps({**tip.body, "recipientUuid": "someone-else"}).encode()
    try:
        async with FanvueClient(token, api_base_url=handle.base_url) as api:
            created = await subscribe(
                api, secrets, creator, "https://app.test/webhooks/fanvue", ["tip.new"]
            )
            listed = await list_webhook_subscriptions(api)
        assert created.id is not None
        stored = emulator.state.webhook_subscriptions[created.id]
        subscription_secret = stored.signing_secret
        assert (stored.url, stored.events) == ("https://app.test/webhooks/fanvue", ("tip.new",))
        assert "signingSecret" not in created.raw
        assert subscription_secret not in repr(created)
        assert [s.id for s in listed] == [created.id]
        assert await secrets.subscriptions(creator) == [created.id]

        async with receiver.client() as client:
            # Signed with the creator's subscription secret: accepted.
            ok = await post_signed(client, about_creator, secret=subscription_secret)
            # The same secret does not vouch for a delivery about another creator.
            foreign = await post_signed(client, other_creator, secret=subscription_secret)
            # Nor for a body that names no creator at all.
            anonymous = await post_signed(client, b'{"x": 1}', secret=subscription_secret)
            # The app-wide secret still works for everything.
            app_wide = await post_signed(client, other_creator)
        assert ok.json() == {"status": "accepted"}
        assert (foreign.status_code, anonymous.status_code) == (401, 401)
        assert app_wide.json() == {"status": "accepted"}
        assert [e.type for e in events] == ["tip.new", "tip.new"]
        # Stored sealed: the secret is nowhere in Redis in plaintext, but its hash is there.
        assert find_plaintext_tokens(redis_url, markers=[subscription_secret]) == []
        assert find_plaintext_tokens(redis_url, markers=[f"{{{creator}}}:whs"]) != []
        assert await secrets.delete(creator, created.id)
        async with receiver.client() as client:
            again = await post_signed(client, about_creator, secret=subscription_secret)
        assert again.status_code == 401
    finally:
        await receiver.services.aclose()


# --- the emulator's sender, over real sockets --------------------------------------------------


@pytest.fixture
def served_app(redis_url: str) -> Iterator[tuple[str, list[WebhookEvent]]]:
    """The app on a real socket, verifying with the emulator's dev webhook secret."""
    registry = WebhookRegistry()
    events: list[WebhookEvent] = []
    registry.on_any(events.append)
    settings = webhook_settings(redis_url, webhook_secrets=(Secret(DEV_WEBHOOK_SECRET),))
    app = create_app(settings, webhooks=registry)
    with serve_in_thread(app) as base_url:
        yield f"{base_url}/webhooks/fanvue", events


async def wait_for(events: list[WebhookEvent], count: int) -> None:
    deadline = time.monotonic() + 30
    while len(events) < count:
        assert time.monotonic() < deadline, f"{len(events)} of {count} events dispatched"
        await anyio.sleep(0.02)


@pytest.mark.anyio
async def test_emulator_sends_every_documented_type_and_the_app_types_it(
    emulator: EmulatorHandle, served_app: tuple[str, list[WebhookEvent]]
) -> None:
    url, events = served_app
    assert set(SAMPLE_TYPES) == set(EVENT_CLASSES) == {d.type for d in DOCUMENTED}
    emulator.control("PATCH", "/app", json={"webhook_url": url})
    for event_type in SAMPLE_TYPES:
        delivery = emulator.control("POST", "/webhooks", json={"type": event_type})
        assert delivery["status"] == 200, event_type
        assert [a["status"] for a in delivery["attempts"]] == [200]
    await wait_for(events, len(SAMPLE_TYPES))
    assert [e.type for e in events] == list(SAMPLE_TYPES)
    assert [type(e) for e in events] == [EVENT_CLASSES[t] for t in SAMPLE_TYPES]
    history = emulator.control("GET", "/webhooks")["deliveries"]
    assert [d["type"] for d in reversed(history)] == list(SAMPLE_TYPES)

    # A sender with the wrong secret is refused (and retried, as Fanvue would).
    emulator.control("PATCH", "/app", json={"webhook_secret": "whsec_not_the_app_secret_000"})
    refused = emulator.control(
        "POST", "/webhooks", json={"type": "tip.new", "retries": 1, "backoff": 0}
    )
    assert [a["status"] for a in refused["attempts"]] == [401, 401]
    assert len(events) == len(SAMPLE_TYPES)


@pytest.mark.anyio
async def test_emulator_retries_non_2xx_with_the_same_body(emulator: EmulatorHandle) -> None:
    received: list[tuple[bytes, str]] = []
    lock = threading.Lock()

    async def flaky(request: Request) -> Response:
        with lock:
            received.append((await request.body(), request.headers["x-fanvue-signature"]))
            status = 503 if len(received) < 3 else 200
        return Response(status_code=status)

    receiver = Starlette(routes=[Route("/hook", flaky, methods=["POST"])])
    with serve_in_thread(receiver) as base_url:
        emulator.control("PATCH", "/app", json={"webhook_url": f"{base_url}/hook"})
        delivery = emulator.control(
            "POST", "/webhooks", json={"type": "payout.paid", "retries": 3, "backoff": 0.01}
        )
    assert [a["status"] for a in delivery["attempts"]] == [503, 503, 200]
    assert [a["attempt"] for a in delivery["attempts"]] == [1, 2, 3]
    assert delivery["status"] == 200
    # One event: every attempt carries the same body, so the same envelope id.
    assert len({body for body, _ in received}) == 1
    assert json.loads(received[0][0])["id"] == delivery["id"]
    [latest] = emulator.control("GET", "/webhooks")["deliveries"]
    assert latest["attempts"] == delivery["attempts"]


def test_cli_sends_a_documented_sample_to_the_app(
    served_app: tuple[str, list[WebhookEvent]],
) -> None:
    url, events = served_app
    sent = subprocess.run(
        [*CLI, "webhooks", "send", "--url", url, "--type", "checkout_link.refund.created"],
        env={**os.environ, "FANVUE_WEBHOOK_SECRET": DEV_WEBHOOK_SECRET},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert sent.returncode == 0, sent.stderr
    [attempt] = [json.loads(line) for line in sent.stdout.splitlines()]
    assert (attempt["type"], attempt["status"]) == ("checkout_link.refund.created", 200)
    assert DEV_WEBHOOK_SECRET not in sent.stdout + sent.stderr
    asyncio.run(wait_for(events, 1))
    assert type(events[0]).__name__ == "CheckoutRefundEvent"


@pytest.mark.anyio
async def test_handlers_run_after_the_response_and_the_record_comes_first(
    redis_url: str,
) -> None:
    registry = WebhookRegistry()
    gate = threading.Event()
    done = threading.Event()

    @registry.on("payout.paid")
    async def slow(event: WebhookEvent) -> None:
        await anyio.to_thread.run_sync(gate.wait, 10)
        done.set()

    app = create_app(webhook_settings(redis_url), webhooks=registry)
    payout = next(d for d in DOCUMENTED if d.type == "payout.paid")
    try:
        with serve_in_thread(app) as base_url:
            async with httpx.AsyncClient(base_url=base_url, timeout=10) as client:
                response = await post_signed(client, payout.raw())
            # Answered while the handler is still blocked, and recorded before the answer.
            assert response.json() == {"status": "accepted"}
            assert not done.is_set()
            assert find_plaintext_tokens(redis_url, markers=[":d:evt-payout"]) != []
            gate.set()
            assert await anyio.to_thread.run_sync(done.wait, 10)
    finally:
        gate.set()
    # The server has shut down: the dispatch finished and marked the delivery done.
    records = RedisInboxStore(redis_from_url(redis_url), close_client=True)
    try:
        info = await records.info("evt-payout")
    finally:
        await records.aclose()
    assert info is not None
    assert info.state == "done"
