"""The dashboard in real Chromium, against an emulator on a real socket: the agency toggle, and
the fan-action buttons whose webhooks reach the app."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from playwright.async_api import async_playwright, expect

from fanvue_embedded.emulator import EmulatorConfig, create_emulator_app
from tests.support.browser import launch_chromium, run_embedded_stack
from tests.support.servers import serve_in_thread

pytestmark = pytest.mark.anyio
WAIT_MS = 10_000


@pytest.fixture
async def dashboard() -> AsyncIterator[str]:
    with serve_in_thread(create_emulator_app(EmulatorConfig())) as url:
        yield url


async def test_agency_toggle(dashboard: str) -> None:
    async with async_playwright() as playwright:
        try:
            browser = await launch_chromium(playwright)
        except RuntimeError as exc:  # chromium missing: a failure, never a skip
            pytest.fail(str(exc))
        try:
            page = await browser.new_page()
            await page.goto(f"{dashboard}/?creator=luna.rivers")
            status = page.get_by_test_id("agency-status")
            await expect(status).to_have_text("not an agency", timeout=WAIT_MS)
            await page.get_by_test_id("agency-toggle").click()
            await expect(status).to_have_text("agency · manages 1", timeout=WAIT_MS)
            async with httpx.AsyncClient(base_url=dashboard) as client:
                view = (await client.get("/_emulator/creators/luna.rivers/agency")).json()
            assert view["agency"] is True
            assert len(view["manages"]) == 1
            await page.get_by_test_id("agency-toggle").click()
            await expect(status).to_have_text("not an agency", timeout=WAIT_MS)
        finally:
            await browser.close()


async def test_fan_actions_on_the_dashboard_reach_the_app(redis_url: str) -> None:
    """ "Fan sends a message" changes the world, the delivery is listed, the app's handler runs."""
    from fanvue_embedded.webhooks import WebhookEvent, WebhookRegistry

    registry = WebhookRegistry()
    received: list[WebhookEvent] = []
    registry.on_any(received.append)
    with run_embedded_stack(redis_url, webhooks=registry) as stack:
        async with async_playwright() as playwright:
            try:
                browser = await launch_chromium(playwright)
            except RuntimeError as exc:  # chromium missing: a failure, never a skip
                pytest.fail(str(exc))
            try:
                page = await browser.new_page()
                await page.goto(stack.dashboard_url())
                await expect(page.locator("body")).to_have_attribute(
                    "data-ready", "true", timeout=WAIT_MS
                )
                history = page.get_by_test_id("webhook-history")
                await page.get_by_test_id("fan-message").click()
                await expect(history).to_contain_text("message.received · 200", timeout=WAIT_MS)
                await page.get_by_test_id("checkout-paid").click()
                payment = "checkout_link.payment.succeeded"
                await expect(history).to_contain_text(f"{payment} · 200", timeout=WAIT_MS)
                await expect(page.get_by_test_id("dashboard-error")).to_be_hidden()
            finally:
                await browser.close()
        deliveries = stack.emulator.control("GET", "/webhooks")["deliveries"]
        assert [(d["type"], d["target"], d["status"]) for d in deliveries] == [
            (payment, "app", 200),
            ("message.received", "app", 200),
        ]
        token = stack.emulator.access_token()
        chats = stack.emulator.api("GET", "/chats", token).json()["data"]
        assert chats[0]["lastMessage"]["text"] == "Hi! Just saw your new post."
    # Dispatch runs after the 200; the app has shut down, so both handlers have run.
    assert [e.type for e in received] == ["message.received", payment]
    assert getattr(received[0], "message_uuid", None) == chats[0]["lastMessage"]["uuid"]
