"""Web pages cannot drive the emulator: unknown Host names (DNS rebinding) get 421, state-changing
control calls from other origins 403 and without a JSON content type 415, while curl-style
clients, the app's server and the dashboard itself keep working. Real sockets, real Chromium."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from playwright.async_api import Page, async_playwright, expect
from starlette.applications import Starlette
from starlette.responses import HTMLResponse
from starlette.routing import Route

from fanvue_embedded.emulator import EmulatorConfig, create_emulator_app
from fanvue_embedded.emulator.runner import build_arg_parser, config_from_args
from tests.support.browser import chromium_executable, launch_chromium
from tests.support.emulator import EmulatorHandle
from tests.support.servers import serve_in_thread

WAIT_MS = 10_000


def creators(emulator: EmulatorHandle) -> list[str]:
    return [c["handle"] for c in emulator.control("GET", "/creators")]


def post(url: str, path: str, **kwargs: object) -> httpx.Response:
    return httpx.post(f"{url}/_emulator{path}", **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize("host", ["evil.example", "evil.example:8765", "10.0.0.7", "[::2]:80"])
@pytest.mark.parametrize("path", ["/_emulator/app", "/", "/users/me", "/oauth2/auth"])
def test_a_foreign_host_is_refused_everywhere(
    emulator: EmulatorHandle, host: str, path: str
) -> None:
    response = httpx.get(f"{emulator.base_url}{path}", headers={"Host": host})
    assert response.status_code == 421
    assert response.json()["error"] == "misdirected_request"


@pytest.mark.parametrize("host", ["localhost", "LOCALHOST:1", "127.0.0.1:9", "[::1]", "[::1]:80"])
def test_loopback_names_are_served(emulator: EmulatorHandle, host: str) -> None:
    response = httpx.get(f"{emulator.base_url}/_emulator/app", headers={"Host": host})
    assert response.status_code == 200


def test_the_issuer_host_and_allowed_hosts_are_served() -> None:
    args = ["--issuer", "http://fanvue.internal:9000", "--allowed-host", "emu.lan"]
    config = config_from_args(build_arg_parser().parse_args(args))
    assert config.allowed_hosts == ("emu.lan", "127.0.0.1")  # the bound address, too
    with serve_in_thread(create_emulator_app(config)) as url:
        for host in ("fanvue.internal:9000", "emu.lan", "localhost"):
            assert httpx.get(f"{url}/_emulator/app", headers={"Host": host}).status_code == 200
        assert httpx.get(f"{url}/", headers={"Host": "emu.lan.evil"}).status_code == 421
        # The issuer's origin may change state; other origins may not.
        issuer = {"Origin": "http://fanvue.internal:9000"}
        assert post(url, "/reset", json={}, headers=issuer).status_code == 200
        evil = {"Origin": "http://emu.lan.evil"}
        assert post(url, "/reset", json={}, headers=evil).status_code == 403


def test_a_wildcard_bind_adds_no_host() -> None:
    config = config_from_args(build_arg_parser().parse_args(["--host", "0.0.0.0"]))
    assert config.allowed_hosts == ()
    assert config_from_args(build_arg_parser().parse_args(["--host", "::1"])).allowed_hosts == (
        "[::1]",
    )


@pytest.mark.parametrize(
    "headers",
    [
        {"Content-Type": "text/plain"},
        {"Content-Type": "application/x-www-form-urlencoded"},
        {"Content-Type": "multipart/form-data; boundary=x"},
        {},
    ],
)
def test_state_changing_control_calls_must_be_json(
    emulator: EmulatorHandle, headers: dict[str, str]
) -> None:
    body = b'{"handle": "sneaky", "consent": true}'
    for method in ("POST", "PUT", "PATCH", "DELETE"):
        response = httpx.request(
            method, f"{emulator.base_url}/_emulator/creators", content=body, headers=headers
        )
        assert response.status_code == 415, method
        assert response.json()["error"] == "unsupported_media_type"
    assert "sneaky" not in creators(emulator)
    charset = {"Content-Type": "application/json; charset=utf-8"}
    response = post(emulator.base_url, "/creators", content=body, headers=charset)
    assert response.status_code == 201
    # Reads, the API and the token endpoint are not control calls: unaffected.
    assert httpx.get(f"{emulator.base_url}/_emulator/creators").status_code == 200
    form = httpx.post(f"{emulator.base_url}/oauth2/token", data={"grant_type": "x"})
    assert form.status_code in (400, 401)


@pytest.mark.parametrize("origin", ["http://evil.example", "null", "http://localhost.evil:1"])
def test_other_origins_cannot_change_state(emulator: EmulatorHandle, origin: str) -> None:
    response = post(
        emulator.base_url, "/creators", json={"handle": "sneaky"}, headers={"Origin": origin}
    )
    assert response.status_code == 403
    assert response.json()["error"] == "forbidden_origin"
    assert "sneaky" not in creators(emulator)
    # Reading is not guarded by Origin (the Host check and the browser's CORS rules cover it).
    read = httpx.get(f"{emulator.base_url}/_emulator/creators", headers={"Origin": origin})
    assert read.status_code == 200
    assert "access-control-allow-origin" not in read.headers


def test_the_emulators_own_origin_and_configured_ones_may() -> None:
    config = EmulatorConfig(allowed_origins=("http://tools.localhost:3000",))
    with serve_in_thread(create_emulator_app(config)) as url:
        own = {"Origin": url}
        assert post(url, "/creators", json={"handle": "own"}, headers=own).status_code == 201
        tools = {"Origin": "http://tools.localhost:3000"}
        assert post(url, "/creators", json={"handle": "tool"}, headers=tools).status_code == 201
        # Same host, another port: another origin.
        other = {"Origin": url.rsplit(":", 1)[0] + ":1"}
        assert post(url, "/creators", json={"handle": "x"}, headers=other).status_code == 403


# --- in Chromium ------------------------------------------------------------------------------


@pytest.fixture
def attacker() -> Iterator[str]:
    """A page on another origin (another port of 127.0.0.1)."""

    async def page(request: object) -> HTMLResponse:
        return HTMLResponse("<!doctype html><title>some site</title><p>hello</p>")

    with serve_in_thread(Starlette(routes=[Route("/", page)])) as url:
        yield url


@pytest.fixture
async def browser_page() -> AsyncIterator[Page]:
    async with async_playwright() as playwright:
        try:
            browser = await launch_chromium(playwright)
        except RuntimeError as exc:  # chromium missing: a failure, never a skip
            pytest.fail(str(exc))
        try:
            yield await browser.new_page()
        finally:
            await browser.close()


@pytest.mark.anyio
async def test_a_cross_site_page_cannot_drive_the_control_api(
    emulator: EmulatorHandle, attacker: str, browser_page: Page
) -> None:
    page = browser_page
    await page.goto(attacker)
    target = f"{emulator.base_url.replace('127.0.0.1', 'localhost')}/_emulator/creators"
    # A "simple" request: no CORS preflight, so the browser sends it; the emulator refuses it.
    sent = await page.evaluate(
        """async (url) => {
            await fetch(url, {method: "POST", mode: "no-cors",
                              headers: {"Content-Type": "text/plain"},
                              body: JSON.stringify({handle: "plain.attack", consent: true})});
            return true;
        }""",
        target,
    )
    assert sent is True
    # A JSON request needs a preflight, which the emulator never grants: it is not even sent.
    blocked = await page.evaluate(
        """async (url) => {
            try {
                await fetch(url, {method: "POST", headers: {"Content-Type": "application/json"},
                                  body: JSON.stringify({handle: "json.attack"})});
                return "sent";
            } catch (error) { return "blocked"; }
        }""",
        target,
    )
    assert blocked == "blocked"
    assert not {"plain.attack", "json.attack"} & set(creators(emulator))
    counters = emulator.counters()["calls"]
    assert "POST /_emulator/creators" not in counters  # refused before any route ran


@pytest.mark.anyio
async def test_dns_rebinding_reaches_the_emulator_but_gets_nothing(
    emulator: EmulatorHandle,
) -> None:
    """Chromium resolves evil.test to 127.0.0.1, as a rebinding attacker would arrange."""
    port = emulator.base_url.rsplit(":", 1)[1]
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=chromium_executable(),
            args=["--no-sandbox", "--host-resolver-rules=MAP evil.test 127.0.0.1"],
        )
        try:
            page = await browser.new_page()
            response = await page.goto(f"http://evil.test:{port}/_emulator/app")
            assert response is not None
            assert response.status == 421
            await expect(page.locator("body")).not_to_contain_text("client_id", timeout=WAIT_MS)
            # The same server under a loopback name answers.
            response = await page.goto(f"http://localhost:{port}/_emulator/app")
            assert response is not None
            assert response.status == 200
        finally:
            await browser.close()
