"""The page's entitlement and scope-drift states in real Chromium, inside the emulator's
dashboard: "subscribe to use this app" (402 from ``GET /api/entitlement``) in both themes, and
the re-consent notice when the app's scopes grew after the creator connected, followed through
the standard flow in a new tab."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from playwright.async_api import Browser, Page, async_playwright, expect

from fanvue_embedded._devdefaults import DEV_SCOPES
from tests.support.browser import (
    APP_FRAME,
    LUNA,
    VIEWPORT,
    WAIT_MS,
    app_frame,
    launch_chromium,
    run_embedded_stack,
    wait_for_app_ready,
)
from tests.test_browser import luminance, stored_tokens

pytestmark = [pytest.mark.anyio, pytest.mark.browser]

APP_UUID = "0b3e6c1d-8f2a-4c55-b7e0-5d9a1c3f7e41"
CARD_BACKGROUND = (
    "() => getComputedStyle(document.querySelector('[data-view=subscribe]')).backgroundColor"
)
ICON_GLYPH = """() => getComputedStyle(
    document.querySelector('.state-icon--subscribe'), '::before').content"""


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        try:
            launched = await launch_chromium(playwright)
        except RuntimeError as exc:  # chromium missing: a failure, never a skip
            pytest.fail(str(exc))
        try:
            yield launched
        finally:
            await launched.close()


@pytest.fixture
async def page(browser: Browser) -> AsyncIterator[Page]:
    context = await browser.new_context(viewport=VIEWPORT)  # type: ignore[arg-type]
    try:
        yield await context.new_page()
    finally:
        await context.close()


@pytest.mark.parametrize("theme", ["light", "dark"])
async def test_no_plan_shows_subscribe_then_the_app_once_subscribed(page: Page, theme: str) -> None:
    statuses: list[int] = []
    page.on(
        "response",
        lambda response: (
            statuses.append(response.status) if "/api/entitlement" in response.url else None
        ),
    )
    with run_embedded_stack(extra_env={"FANVUE_APP_UUID": APP_UUID}) as stack:
        stack.emulator.control(
            "PUT", f"/apps/{APP_UUID}/subscription", json={"status": "cancelled"}
        )
        await page.goto(stack.dashboard_url(theme=theme))
        app = page.frame_locator(APP_FRAME)
        await expect(app.locator("main#app")).to_have_attribute(
            "data-state", "subscription_required", timeout=WAIT_MS
        )
        await expect(app.get_by_test_id("state-title")).to_have_text("Subscribe to use this app")
        assert statuses == [402]
        frame = await app_frame(page)
        card = luminance(await frame.evaluate(CARD_BACKGROUND))
        assert card > 0.8 if theme == "light" else card < 0.1
        assert "★" in await frame.evaluate(ICON_GLYPH)
        # No profile was fetched for a creator without a plan.
        assert await app.get_by_test_id("profile-card").count() == 0

        # Still cancelled: checking again keeps the state (a fresh read, not the cache).
        await app.get_by_test_id("check-subscription").click()
        await expect(app.get_by_test_id("check-subscription")).to_be_enabled(timeout=WAIT_MS)
        assert statuses == [402, 402]

        stack.emulator.control("PUT", f"/apps/{APP_UUID}/subscription", json={"status": "active"})
        await app.get_by_test_id("check-subscription").click()
        await wait_for_app_ready(page)
        assert statuses == [402, 402, 200]


async def test_an_active_plan_goes_straight_to_the_app(page: Page) -> None:
    with run_embedded_stack(extra_env={"FANVUE_APP_UUID": APP_UUID}) as stack:
        stack.emulator.control("PUT", f"/apps/{APP_UUID}/subscription", json={"status": "active"})
        await page.goto(stack.dashboard_url())
        await wait_for_app_ready(page)
        assert await page.frame_locator(APP_FRAME).get_by_test_id("scope-notice").count() == 0


@pytest.mark.parametrize("theme", ["light", "dark"])
async def test_grown_scopes_offer_reauthorization_through_the_standard_flow(
    page: Page, theme: str
) -> None:
    with run_embedded_stack() as stack:
        # The creator connected while the app was registered for read:self only.
        stack.emulator.control("PATCH", "/app", json={"scopes": ["read:self"]})
        await page.goto(stack.dashboard_url(theme=theme))
        await wait_for_app_ready(page)
        app = page.frame_locator(APP_FRAME)
        notice = app.get_by_test_id("scope-notice")
        await expect(notice).to_be_visible()
        for scope in DEV_SCOPES[1:]:
            await expect(notice.locator("code", has_text=scope)).to_be_visible()
        link = app.get_by_test_id("reauthorize")
        assert await link.get_attribute("href") == "/oauth/login"
        assert await link.get_attribute("target") == "_blank"
        creator = stack.emulator.creator_uuid(LUNA)
        assert "read:fan" not in (await stored_tokens(stack, creator)).scopes

        # The app's registration grew; the creator follows the link (a new tab).
        stack.emulator.control("PATCH", "/app", json={"scopes": list(DEV_SCOPES)})
        stack.emulator.settings(standard_flow_creator=LUNA, standard_flow_decision="approve")
        async with page.context.expect_page() as opened:
            await link.click()
        consent_tab = await opened.value
        await consent_tab.wait_for_load_state()
        await expect(consent_tab.locator("body")).to_contain_text("connected", timeout=WAIT_MS)
        assert {"read:fan", "read:chat"} <= (await stored_tokens(stack, creator)).scopes

        # Reopened, the page has nothing more to ask for.
        await page.reload()
        await wait_for_app_ready(page)
        assert await app.get_by_test_id("scope-notice").count() == 0
