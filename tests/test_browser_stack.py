"""Real Chromium against the service mounted under ``/fanvue`` in a host app, and the browser
package (``fanvue-embedded.js``) on the project's page and on a page of another origin (CORS).

The host (127.0.0.1) allows exactly one other origin (``localhost:<port>``); a third origin
(``localhost:<another port>``) is refused by the browser.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from playwright.async_api import Browser, Page, async_playwright, expect
from starlette.applications import Starlette
from starlette.responses import HTMLResponse
from starlette.routing import Route

from fanvue_embedded.app import create_app
from tests.support.browser import VIEWPORT, WAIT_MS, launch_chromium
from tests.support.emulator import EmulatorHandle
from tests.support.hosts import host_settings, starlette_host
from tests.support.servers import free_port, serve_in_thread
from tests.test_app import Clock

pytestmark = [pytest.mark.anyio, pytest.mark.browser]

PREFIX = "/fanvue"
PACKAGE_PATH = f"{PREFIX}/embedded/static/fanvue-embedded.js"


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


async def _blank(request: Any) -> HTMLResponse:
    return HTMLResponse("<!doctype html><title>another origin</title><p>frontend</p>")


@dataclass
class Sites:
    app: str  # http://127.0.0.1:<port>: the host app, the service under /fanvue
    allowed: str  # http://localhost:<port>: a frontend origin in CORS_ALLOWED_ORIGINS
    refused: str  # http://localhost:<port>: an origin that is not
    clock: Clock


@pytest.fixture
def sites(emulator: EmulatorHandle) -> Iterator[Sites]:
    port, allowed_port, refused_port = free_port(), free_port(), free_port()
    app_url = f"http://127.0.0.1:{port}"
    allowed = f"http://localhost:{allowed_port}"
    emulator.control(
        "PATCH",
        "/app",
        json={
            "redirect_uris": [f"{app_url}{PREFIX}/oauth/callback"],
            "app_url": f"{app_url}{PREFIX}/embedded",
        },
    )
    clock = Clock()
    settings = host_settings(
        emulator.base_url, app_url=app_url, prefix=PREFIX, cors_allowed_origins=(allowed,)
    )
    host = starlette_host(create_app(settings, clock=clock), PREFIX)
    frontend = Starlette(routes=[Route("/", _blank)])
    with (
        serve_in_thread(host, port=port),
        serve_in_thread(frontend, port=allowed_port),
        serve_in_thread(frontend, port=refused_port),
    ):
        yield Sites(app_url, allowed, f"http://localhost:{refused_port}", clock)


async def test_embedded_page_under_the_prefix(
    sites: Sites, emulator: EmulatorHandle, page: Page
) -> None:
    token = emulator.session_token()
    await page.goto(f"{sites.app}{PREFIX}/embedded?token={token}&theme=dark")
    await expect(page.locator("main#app")).to_have_attribute("data-state", "ready", timeout=WAIT_MS)
    await expect(page.get_by_test_id("creator-handle")).to_have_text("@luna.rivers")
    await expect(page.get_by_test_id("profile-card")).to_have_attribute(
        "aria-busy", "false", timeout=WAIT_MS
    )
    await expect(page.locator("html")).to_have_attribute("data-theme", "dark")
    assert "token=" not in page.url
    assert page.url.startswith(f"{sites.app}{PREFIX}/embedded")


PACKAGE_ON_PAGE = """async ([packageUrl, baseUrl, tokens]) => {
    const m = await import(packageUrl);
    const themes = [
        m.getThemeFromUrl("https://x.test/?theme=dark"),
        m.getThemeFromUrl("https://x.test/?theme=LIGHT"),
        m.getThemeFromUrl("https://x.test/?theme=blue"),
        m.getThemeFromUrl("https://x.test/"),
    ];
    const applied = [m.applyTheme("dark"), m.applyTheme(null), document.documentElement.dataset.theme];
    let asked = 0;
    const auth = m.createEmbeddedAuth({
        baseUrl,
        getSessionToken: async () => { asked += 1; return tokens[1]; },
    });
    const statuses = [];
    auth.subscribe((a) => statuses.push(a.status));
    const exchanged = await auth.exchange(tokens[0]);
    const me = await auth.fetch("/api/me");
    return {
        themes, applied, exchanged, statuses, asked,
        status: me.status,
        handle: (await me.json()).handle,
        snapshot: auth.getSnapshot(),
    };
}"""

FETCH_ME = """async ([packageUrl, baseUrl, token]) => {
    const m = await import(packageUrl);
    const auth = m.createEmbeddedAuth({ baseUrl });
    await auth.exchange(token);
    globalThis.__auth = auth;
    return auth.status;
}"""

AGAIN = """async () => {
    const response = await globalThis.__auth.fetch("/api/me");
    return [response.status, response.headers.get("X-Updated-Session") !== null,
            globalThis.__auth.status];
}"""


async def test_the_package_on_the_projects_page(
    sites: Sites, emulator: EmulatorHandle, page: Page
) -> None:
    await page.goto(f"{sites.app}{PREFIX}/embedded")  # no token: the page waits, CSP applies
    await expect(page.locator("main#app")).to_have_attribute("data-state", "no_token")
    tokens = [emulator.session_token(), emulator.session_token()]
    result = await page.evaluate(PACKAGE_ON_PAGE, [PACKAGE_PATH, PREFIX, tokens])
    assert result["themes"] == ["dark", "light", None, None]
    assert result["applied"] == ["dark", "dark", "dark"]
    assert result["exchanged"] is True
    assert result["statuses"] == ["exchanging", "ready"]
    assert (result["status"], result["handle"]) == (200, "luna.rivers")
    assert result["snapshot"]["status"] == "ready"
    assert result["snapshot"]["creator"]["handle"] == "luna.rivers"
    assert result["asked"] == 0

    # X-Updated-Session is applied: past half its life the session is renewed, and once the
    # first one has expired the package keeps working with the renewed one.
    assert await page.evaluate(FETCH_ME, [PACKAGE_PATH, PREFIX, emulator.session_token()]) == (
        "ready"
    )
    sites.clock.offset += 400
    assert await page.evaluate(AGAIN) == [200, True, "ready"]
    sites.clock.offset += 300  # the first session (600 s) is over, the renewed one is not
    status, _renewed_again, state = await page.evaluate(AGAIN)
    assert (status, state) == (200, "ready")


REEXCHANGE = """async ([packageUrl, baseUrl, tokens]) => {
    const m = await import(packageUrl);
    let asked = 0;
    const auth = m.createEmbeddedAuth({
        baseUrl,
        getSessionToken: async () => { asked += 1; return tokens[1]; },
    });
    await auth.exchange(tokens[0]);
    globalThis.__reexchange = { auth, asked: () => asked };
    return auth.status;
}"""

AFTER_EXPIRY = """async () => {
    const { auth, asked } = globalThis.__reexchange;
    const response = await auth.fetch("/api/me");
    return [response.status, asked(), auth.status];
}"""


async def test_the_package_re_exchanges_once_when_the_session_has_ended(
    sites: Sites, emulator: EmulatorHandle, page: Page
) -> None:
    await page.goto(f"{sites.app}{PREFIX}/embedded")
    tokens = [emulator.session_token(), emulator.session_token()]
    assert await page.evaluate(REEXCHANGE, [PACKAGE_PATH, PREFIX, tokens]) == "ready"
    sites.clock.offset += 13 * 3600  # past the session's hard cap: 401 invalid_session
    assert await page.evaluate(AFTER_EXPIRY) == [200, 1, "ready"]
    assert emulator.counters()["authorize_on_behalf"] == 2


FROM_ANOTHER_ORIGIN = """async ([packageUrl, baseUrl, token]) => {
    const m = await import(packageUrl);
    const auth = m.createEmbeddedAuth({ baseUrl });
    const exchanged = await auth.exchange(token);
    const me = await auth.fetch("/api/me");
    return [location.origin, exchanged, me.status, (await me.json()).handle];
}"""

REFUSED = """async (url) => {
    try {
        await fetch(url, { method: "POST", headers: { "Content-Type": "application/json" },
                           body: JSON.stringify({ token: "x" }) });
        return "answered";
    } catch (err) {
        return "blocked";
    }
}"""


async def test_the_package_from_another_origin_through_cors(
    sites: Sites, emulator: EmulatorHandle, page: Page
) -> None:
    await page.goto(f"{sites.allowed}/")
    api = f"{sites.app}{PREFIX}"
    result = await page.evaluate(
        FROM_ANOTHER_ORIGIN, [f"{sites.app}{PACKAGE_PATH}", api, emulator.session_token()]
    )
    assert result == [sites.allowed, True, 200, "luna.rivers"]

    await page.goto(f"{sites.refused}/")
    assert await page.evaluate(REFUSED, f"{api}/api/fanvue/session") == "blocked"
    assert emulator.counters()["authorize_on_behalf"] == 1
