"""The embedded flow in real Chromium: the emulator's dashboard frames the app cross-site.

Each test gets its own emulator and app (``run_embedded_stack``) and a fresh browser context;
the Chromium process is shared by the session. The Playwright fixture is async on purpose: a
running sync Playwright would leave an event loop set in the main thread for the rest of the
session and break every later anyio test.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Iterator
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.async_api import Browser, Page, Response, async_playwright, expect

from fanvue_embedded.models import TokenSet
from fanvue_embedded.store import RedisTokenStore
from tests.support.browser import (
    APP_FRAME,
    LUNA,
    VIEWPORT,
    WAIT_MS,
    EmbeddedStack,
    app_frame,
    launch_chromium,
    run_embedded_stack,
    wait_for_app_ready,
)
from tests.support.redis_topology import redis_url_for

pytestmark = [pytest.mark.anyio, pytest.mark.browser]


@pytest.fixture(scope="session")
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


@pytest.fixture
def stack() -> Iterator[EmbeddedStack]:
    """The dev setup with the in-memory token store."""
    with run_embedded_stack() as running:
        yield running


@pytest.fixture
def redis_stack(redis_url: str) -> Iterator[EmbeddedStack]:
    """The dev setup with ``REDIS_URL`` set: the browser flow goes through the Redis store."""
    with run_embedded_stack(redis_url) as running:
        yield running


@pytest.fixture(params=["memory", "redis"])
def any_stack(request: pytest.FixtureRequest) -> Iterator[EmbeddedStack]:
    """The dev setup on each kind of token store: memory and Redis (standalone: the browser
    needs *a* Redis; the store's behaviour on a Cluster is tested in tests/test_store.py)."""
    url = None if request.param == "memory" else redis_url_for(request, request.param)
    with run_embedded_stack(url) as running:
        yield running


async def stored_tokens(stack: EmbeddedStack, creator: str) -> TokenSet:
    """The creator's Fanvue tokens as the app stored them (decrypted with the app's keys)."""
    store = stack.app.state.fanvue.store
    if isinstance(store, RedisTokenStore):
        # The app's Redis client belongs to the server thread's loop: read with our own.
        redis_url = stack.app.state.fanvue.settings.redis_url.get_secret_value()
        store = RedisTokenStore.from_url(redis_url, store.keyring)
        try:
            stored = await store.load(creator)
        finally:
            await store.aclose()
    else:
        # The memory store does not bind to a loop; the app is idle (page ready) when we read.
        stored = await store.load(creator)
    assert stored is not None, "the session exchange stored no tokens"
    return stored.tokens


def luminance(css_color: str) -> float:
    """Relative luminance (0 black .. 1 white) of a computed ``rgb()``/``rgba()`` colour."""
    red, green, blue = (int(part) / 255 for part in re.findall(r"\d+", css_color)[:3])
    return 0.2126 * red + 0.7152 * green + 0.0722 * blue


APP_BACKGROUND = "() => getComputedStyle(document.body).backgroundColor"

# Everything script in a document can see: markup, storage, cookies, address.
PAGE_STATE = """() => {
    const read = (get) => { try { return get(); } catch { return "unavailable"; } };
    return JSON.stringify({
        dom: document.documentElement.outerHTML,
        local: read(() => Object.entries(localStorage)),
        session: read(() => Object.entries(sessionStorage)),
        cookie: read(() => document.cookie),
        url: location.href,
    });
}"""


async def test_dashboard_embeds_app_and_shows_the_creator(
    any_stack: EmbeddedStack, page: Page
) -> None:
    await page.goto(any_stack.dashboard_url())
    await wait_for_app_ready(page)

    app = page.frame_locator(APP_FRAME)
    await expect(app.get_by_test_id("creator-handle")).to_have_text("@luna.rivers")
    await expect(app.get_by_test_id("profile-card")).to_contain_text("Luna Rivers")
    await expect(app.get_by_test_id("creator-name")).to_have_text("Luna Rivers")
    # The frame really is the app on its own site, not something the dashboard drew.
    frame = await app_frame(page)
    assert frame.url.startswith(any_stack.embed_url)
    assert urlsplit(frame.url).netloc != urlsplit(page.url).netloc
    counters = any_stack.emulator.counters()
    assert counters["authorize_on_behalf"] == 1
    assert counters["code_exchanges"] == 1
    stored = await stored_tokens(any_stack, any_stack.emulator.creator_uuid(LUNA))
    assert stored.access_token


async def test_theme_toggle_reopens_the_app_dark(stack: EmbeddedStack, page: Page) -> None:
    await page.goto(stack.dashboard_url(theme="light"))
    await wait_for_app_ready(page)
    frame = await app_frame(page)
    frame_html = page.frame_locator(APP_FRAME).locator("html")
    await expect(frame_html).to_have_attribute("data-theme", "light")
    assert luminance(await frame.evaluate(APP_BACKGROUND)) > 0.8

    await page.get_by_test_id("theme-toggle").click()

    await expect(page.locator("html")).to_have_attribute("data-theme", "dark")
    await expect(frame_html).to_have_attribute("data-theme", "dark", timeout=WAIT_MS)
    await wait_for_app_ready(page)  # a fresh token was minted: the new document exchanged it
    assert "theme=dark" in frame.url
    assert luminance(await frame.evaluate(APP_BACKGROUND)) < 0.1


async def test_revoking_consent_shows_consent_required_and_approving_recovers(
    redis_stack: EmbeddedStack, page: Page
) -> None:
    await page.goto(redis_stack.dashboard_url())
    await wait_for_app_ready(page)
    app_main = page.frame_locator(APP_FRAME).locator("main#app")

    await page.get_by_test_id("consent-revoke").click()

    await expect(page.get_by_test_id("consent-status")).to_have_text("not approved")
    await expect(app_main).to_have_attribute("data-state", "consent_required", timeout=WAIT_MS)
    await expect(page.frame_locator(APP_FRAME).get_by_test_id("state-title")).to_be_visible()

    await page.get_by_test_id("consent-approve").click()

    await expect(page.get_by_test_id("consent-status")).to_have_text("approved")
    await wait_for_app_ready(page)
    assert redis_stack.emulator.counters()["code_exchanges"] == 2


async def test_expired_session_token_shows_reopen_screen(stack: EmbeddedStack, page: Page) -> None:
    fresh = stack.emulator.session_token(LUNA)
    await page.goto(f"{stack.embed_url}?token={fresh}&theme=light")
    await expect(page.locator("main#app")).to_have_attribute("data-state", "ready", timeout=WAIT_MS)

    stale = stack.emulator.session_token(LUNA)
    stack.emulator.advance(61)  # past the 60 s lifetime, no sleeping
    await page.goto(f"{stack.embed_url}?token={stale}&theme=light")

    await expect(page.locator("main#app")).to_have_attribute(
        "data-state", "invalid_session_token", timeout=WAIT_MS
    )
    await expect(page.get_by_test_id("state-title")).to_be_visible()
    assert "token=" not in page.url


async def test_embed_page_headers_on_the_real_navigation(stack: EmbeddedStack, page: Page) -> None:
    async with page.expect_response(
        lambda response: response.url.startswith(stack.embed_url + "?"), timeout=WAIT_MS
    ) as navigation:
        await page.goto(stack.dashboard_url())
    response = await navigation.value
    assert response.request.is_navigation_request()
    assert response.frame.parent_frame is not None, "expected the iframe's navigation"
    headers = await response.all_headers()

    directives = dict(
        [*part.strip().split(" ", 1), ""][:2]
        for part in headers["content-security-policy"].split(";")
    )
    # Only the platform's origin may frame the page: every other site is refused by the browser.
    assert directives["frame-ancestors"] == stack.platform_url
    assert directives["script-src"] == "'self'"
    assert headers["referrer-policy"] == "no-referrer"
    assert headers["cache-control"] == "no-store"
    assert headers["x-content-type-options"] == "nosniff"
    await wait_for_app_ready(page)


async def test_no_fanvue_or_session_token_reaches_the_page(
    any_stack: EmbeddedStack, page: Page
) -> None:
    responses: list[Response] = []

    def collect(response: Response) -> None:
        responses.append(response)

    page.on("response", collect)
    async with page.expect_request(
        lambda request: request.url.startswith(any_stack.embed_url + "?"), timeout=WAIT_MS
    ) as embed_request:
        await page.goto(any_stack.dashboard_url())
    session_token = parse_qs(urlsplit((await embed_request.value).url).query)["token"][0]
    await wait_for_app_ready(page)

    tokens = await stored_tokens(any_stack, any_stack.emulator.creator_uuid(LUNA))
    assert tokens.refresh_token is not None
    fanvue_secrets = {"access token": tokens.access_token, "refresh token": tokens.refresh_token}

    # Every body the page (and its iframe) received.
    app_origin = any_stack.app_url
    seen_paths: set[str] = set()
    minted_by: set[str] = set()
    for response in responses:
        if response.status in (204, 304) or 300 <= response.status < 400:
            continue
        body = (await response.body()).decode("utf-8", "replace")
        seen_paths.add(urlsplit(response.url).path)
        for name, secret in fanvue_secrets.items():
            assert secret not in body, f"the {name} was in the body of {response.url}"
        if response.url.startswith(app_origin):
            assert session_token not in body, f"the session token came back from {response.url}"
        elif session_token in body:
            minted_by.add(urlsplit(response.url).path)
    assert {"/api/fanvue/session", "/api/me", "/embedded"} <= seen_paths
    # The scan reads real bodies: the platform's dashboard did receive the token it minted.
    assert minted_by == {"/_emulator/session-tokens"}

    frame = await app_frame(page)
    page_state = json.loads(await frame.evaluate(PAGE_STATE))
    assert "luna.rivers" in page_state["dom"]  # the snapshot is of the ready page
    snapshot = json.dumps(page_state)
    for secret in (*fanvue_secrets.values(), session_token):
        assert secret not in snapshot
    assert "token=" not in page_state["url"]
    assert "token=" not in frame.url
    # The app session lives in memory only: no storage entries, no cookie. (Chromium may deny a
    # cross-site frame its storage altogether, which keeps it empty all the more.)
    assert page_state["local"] in ([], "unavailable")
    assert page_state["session"] in ([], "unavailable")
    assert page_state["cookie"] in ("", "unavailable")
    # The dashboard (the platform's page) holds none of the app's secrets either.
    platform_state = await page.evaluate(PAGE_STATE)
    for secret in fanvue_secrets.values():
        assert secret not in platform_state


async def test_page_outside_fanvue_without_token(stack: EmbeddedStack, page: Page) -> None:
    await page.goto(stack.embed_url)

    await expect(page.locator("main#app")).to_have_attribute(
        "data-state", "no_token", timeout=WAIT_MS
    )
    await expect(page.get_by_test_id("state-title")).to_have_text("Open this app from Fanvue")
    await expect(page.locator("html")).to_have_attribute("data-theme", "light")
    assert luminance(await page.evaluate(APP_BACKGROUND)) > 0.8
    assert stack.emulator.counters()["authorize_on_behalf"] == 0


async def test_dashboard_sends_signed_webhooks_and_shows_the_history(page: Page) -> None:
    from fanvue_embedded.webhooks import WebhookRegistry

    registry = WebhookRegistry()
    received: list[str] = []

    @registry.on_any
    async def record(event: object) -> None:
        received.append(str(getattr(event, "type", "")))

    with run_embedded_stack(webhooks=registry) as running:
        await page.goto(running.dashboard_url())
        await wait_for_app_ready(page)
        history = page.get_by_test_id("webhook-history")
        await page.get_by_test_id("webhook-tip").click()
        await expect(history).to_contain_text("tip.new · 200", timeout=WAIT_MS)
        await page.get_by_test_id("webhook-payment").click()
        payment = "checkout_link.payment.succeeded"
        await expect(history).to_contain_text(f"{payment} · 200", timeout=WAIT_MS)
        deliveries = running.emulator.control("GET", "/webhooks")["deliveries"]
        assert [d["type"] for d in deliveries] == [payment, "tip.new"]
        assert all(d["status"] == 200 for d in deliveries)
    # Dispatch runs after the 200; the server has shut down, so both have run by now.
    assert sorted(received) == [payment, "tip.new"]
