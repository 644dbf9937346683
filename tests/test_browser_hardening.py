"""Cookie mode and the CSP's image origins in real Chromium (README "Security").

Cookie mode: the page works with the session in an HttpOnly cookie only — the exchange answer
carries no session, scripts cannot read it, and logout passes the CSRF check. CSP: the
creator's avatar loads from an origin named in ``CSP_IMG_ORIGINS`` and is blocked (initials
shown) from any other; the avatar host is answered by Playwright's router, so the browser's
own CSP enforcement is what decides.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import AsyncIterator

import pytest
from playwright.async_api import Browser, Page, Response, Route, async_playwright, expect

from tests.support.browser import (
    APP_FRAME,
    VIEWPORT,
    WAIT_MS,
    app_frame,
    launch_chromium,
    run_embedded_stack,
    wait_for_app_ready,
)
from tests.test_browser import PAGE_STATE

pytestmark = [pytest.mark.anyio, pytest.mark.browser]

COOKIE = "fve_session"
AVATAR_ORIGIN = "https://avatars.emulator.test"  # the emulator's profile avatars


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


def one_pixel_png() -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)  # 1x1, 8-bit RGB
    pixels = zlib.compress(b"\x00\xe0\x40\x80")
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


async def serve_avatars(page: Page) -> list[str]:
    """Answer every avatar request with a PNG; returns the URLs the browser asked for."""
    asked: list[str] = []

    async def fulfil(route: Route) -> None:
        asked.append(route.request.url)
        await route.fulfill(status=200, content_type="image/png", body=one_pixel_png())

    await page.context.route(f"{AVATAR_ORIGIN}/**", fulfil)
    return asked


AVATAR_STATE = """() => {
    const avatar = document.querySelector("[data-testid=profile-card] [data-testid=avatar]");
    const img = avatar && avatar.querySelector("img");
    return {
        img: Boolean(img),
        loaded: Boolean(img && img.complete && img.naturalWidth > 0),
        text: avatar ? avatar.textContent : null,
    };
}"""


async def test_cookie_mode_in_the_browser(page: Page) -> None:
    exchange_bodies: list[str] = []
    logout_statuses: list[int] = []

    async def collect(response: Response) -> None:
        if response.url.endswith("/api/fanvue/session"):
            exchange_bodies.append((await response.body()).decode())
        elif response.url.endswith("/api/fanvue/logout"):
            logout_statuses.append(response.status)

    page.on("response", collect)
    with run_embedded_stack(
        extra_env={"SESSION_MODE": "cookie", "SESSION_COOKIE_NAME": COOKIE}
    ) as stack:
        await page.goto(stack.dashboard_url())
        await wait_for_app_ready(page)  # /api/me answered through the cookie alone

        cookies = {c["name"]: c for c in await page.context.cookies(stack.app_url)}
        assert COOKIE in cookies, "the app session cookie was not stored"
        session = cookies[COOKIE]
        assert session["httpOnly"] is True
        assert session["secure"] is True
        assert session["sameSite"] == "None"

        frame = await app_frame(page)
        visible = await frame.evaluate(PAGE_STATE)  # markup, storage, cookies, address
        assert "luna.rivers" in visible
        assert session["value"] not in visible
        assert len(exchange_bodies) == 1
        assert "csrfToken" in exchange_bodies[0]
        assert session["value"] not in exchange_bodies[0]
        assert '"session"' not in exchange_bodies[0]

        # Logout is an unsafe method: it passes only with the CSRF token the page holds.
        await page.frame_locator(APP_FRAME).get_by_test_id("logout").click()
        await expect(page.frame_locator(APP_FRAME).get_by_test_id("state-title")).to_have_text(
            "You're logged out", timeout=WAIT_MS
        )
        assert logout_statuses == [200]


async def test_avatar_shows_from_a_listed_origin(page: Page) -> None:
    asked = await serve_avatars(page)
    with run_embedded_stack(extra_env={"CSP_IMG_ORIGINS": AVATAR_ORIGIN}) as stack:
        await page.goto(stack.dashboard_url())
        await wait_for_app_ready(page)
        frame = await app_frame(page)
        state = await frame.evaluate(AVATAR_STATE)
    assert state == {"img": True, "loaded": True, "text": state["text"]}
    assert any(url.startswith(AVATAR_ORIGIN) for url in asked)


async def test_avatar_from_an_unlisted_origin_is_blocked(page: Page) -> None:
    asked = await serve_avatars(page)
    violations: list[str] = []
    page.on("console", lambda message: violations.append(message.text))
    with run_embedded_stack() as stack:
        await page.goto(stack.dashboard_url())
        await wait_for_app_ready(page)
        frame = await app_frame(page)
        avatar = page.frame_locator(APP_FRAME).locator(
            "[data-testid=profile-card] [data-testid=avatar]"
        )
        # The CSP refuses the image before any request; the page falls back to initials.
        await expect(avatar.locator("img")).to_have_count(0, timeout=WAIT_MS)
        state = await frame.evaluate(AVATAR_STATE)
    assert state["img"] is False
    assert state["text"] == "LR"
    assert asked == []
    assert any("Content Security Policy" in text for text in violations)
