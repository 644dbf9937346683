"""The standard (off-platform) OAuth flow against the emulator's /oauth2/auth."""

from __future__ import annotations

from collections.abc import AsyncIterator
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from fanvue_embedded.app import create_app
from tests.support.emulator import EmulatorHandle
from tests.test_app import settings_for

pytestmark = pytest.mark.anyio


@pytest.fixture
async def app_client(emulator: EmulatorHandle) -> AsyncIterator[tuple[httpx.AsyncClient, object]]:
    app = create_app(settings_for(emulator))
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="https://app.test")
    yield client, app
    await client.aclose()
    await app.state.fanvue.aclose()


async def login_and_authorize(client: httpx.AsyncClient) -> str:
    """Start at /oauth/login, let the emulator decide, return the callback path + query."""
    login = await client.get("/oauth/login")
    assert login.status_code == 302
    authorize_url = login.headers["location"]
    query = parse_qs(urlsplit(authorize_url).query)
    assert query["code_challenge_method"] == ["S256"]
    assert "code_verifier" not in authorize_url
    async with httpx.AsyncClient() as browser:
        decision = await browser.get(authorize_url)
    assert decision.status_code == 302
    callback = urlsplit(decision.headers["location"])
    assert callback.path == "/oauth/callback"
    return f"{callback.path}?{callback.query}"


async def test_login_callback_stores_tokens(
    emulator: EmulatorHandle, app_client: tuple[httpx.AsyncClient, object]
) -> None:
    client, app = app_client
    callback = await login_and_authorize(client)
    response = await client.get(callback)
    assert response.status_code == 200, response.text
    assert response.json()["creator"]["handle"] == "luna.rivers"
    store = app.state.fanvue.store  # type: ignore[attr-defined]
    assert await store.load(emulator.creator_uuid()) is not None
    replay = await client.get(callback)  # the state is single-use
    assert replay.status_code == 400
    assert replay.json()["error"] == "invalid_state"


async def test_callback_from_another_browser_is_refused(
    emulator: EmulatorHandle, app_client: tuple[httpx.AsyncClient, object]
) -> None:
    client, app = app_client
    callback = await login_and_authorize(client)
    client.cookies.clear()
    response = await client.get(callback)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_state"
    assert await app.state.fanvue.store.count() == 0  # type: ignore[attr-defined]


async def test_denied_consent_and_bad_callbacks(
    emulator: EmulatorHandle, app_client: tuple[httpx.AsyncClient, object]
) -> None:
    client, _ = app_client
    emulator.settings(standard_flow_decision="deny")
    callback = await login_and_authorize(client)
    denied = await client.get(callback)
    assert denied.status_code == 400
    assert denied.json()["error"] == "access_denied"
    for query in ("", "?code=x", "?state=y", "?code=x&state=unknown", "?state=" + "s" * 5000):
        response = await client.get(f"/oauth/callback{query}")
        assert response.status_code == 400, query
        assert response.json()["error"] in ("invalid_request", "invalid_state")
