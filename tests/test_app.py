"""The Starlette service's routes against the emulator (real socket): every path and error."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from fanvue_embedded._devdefaults import DEV_CLIENT_ID, DEV_CLIENT_SECRET, DEV_SESSION_SECRET
from fanvue_embedded.app import CreatorContext, authenticated, create_app
from fanvue_embedded.config import Secret, Settings, parse_encryption_keys
from fanvue_embedded.models import FanvueUser, TokenSet
from fanvue_embedded.store import TokenStore
from tests.support.emulator import EmulatorHandle
from tests.support.errors import error_code

pytestmark = pytest.mark.anyio


class Clock:
    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        import time

        return time.time() + self.offset


def settings_for(emulator: EmulatorHandle, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "client_id": DEV_CLIENT_ID,
        "client_secret": Secret(DEV_CLIENT_SECRET),
        "redirect_uri": "http://127.0.0.1:8000/oauth/callback",
        "session_secret": Secret(DEV_SESSION_SECRET),
        "scopes": ("read:self", "read:fan"),
        "mode": "development",
        "platform_url": emulator.base_url,
        "issuer_base_url": emulator.base_url,
        "api_base_url": emulator.base_url,
        "session_ttl": 600.0,
    }
    values.update(overrides)
    return Settings(**values)


@dataclass
class AppHarness:
    client: httpx.AsyncClient
    store: TokenStore
    clock: Clock
    hook_calls: list[tuple[TokenSet, FanvueUser]] = field(default_factory=list)

    async def exchange(
        self, emulator: EmulatorHandle, creator: str = "luna.rivers"
    ) -> httpx.Response:
        return await self.client.post(
            "/api/fanvue/session", json={"token": emulator.session_token(creator)}
        )

    async def session(self, emulator: EmulatorHandle) -> str:
        response = await self.exchange(emulator)
        assert response.status_code == 200, response.text
        token: str = response.json()["session"]
        return token


@authenticated
async def followers_count(request: Request, ctx: CreatorContext) -> Response:
    page = await ctx.api.get("/followers", params={"size": 5})
    return JSONResponse({"creator": ctx.creator, "first_page": len(page["data"])})


async def make_harness(settings: Settings) -> tuple[Any, AppHarness]:
    clock = Clock()
    calls: list[tuple[TokenSet, FanvueUser]] = []

    async def on_tokens(tokens: TokenSet, user: FanvueUser) -> None:
        calls.append((tokens, user))

    app = create_app(
        settings,
        on_tokens=on_tokens,
        clock=clock,
        routes=[Route("/api/followers-count", followers_count)],
    )
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="https://app.test")
    harness = AppHarness(client=client, store=app.state.fanvue.store, clock=clock, hook_calls=calls)
    return app, harness


@pytest.fixture
async def harness(emulator: EmulatorHandle) -> AsyncIterator[AppHarness]:
    app, built = await make_harness(settings_for(emulator))
    yield built
    await built.client.aclose()
    await app.state.fanvue.aclose()


async def test_exchange_stores_tokens_and_returns_no_fanvue_token(
    emulator: EmulatorHandle, harness: AppHarness
) -> None:
    response = await harness.exchange(emulator)
    assert response.status_code == 200
    body = response.json()
    uuid = emulator.creator_uuid()
    assert body["creator"] == {
        "uuid": uuid,
        "handle": "luna.rivers",
        "displayName": "Luna Rivers",
        "avatarUrl": body["creator"]["avatarUrl"],
    }
    assert body["session"]
    assert body["expiresAt"] > 0
    assert response.headers["cache-control"] == "no-store"
    stored = await harness.store.load(uuid)
    assert stored is not None
    raw = response.text + json.dumps(dict(response.headers))
    assert stored.tokens.access_token not in raw
    assert stored.tokens.refresh_token
    assert stored.tokens.refresh_token not in raw
    assert len(harness.hook_calls) == 1
    assert harness.hook_calls[0][1].uuid == uuid
    assert harness.hook_calls[0][0].access_token == stored.tokens.access_token


@pytest.mark.parametrize(
    ("kwargs", "status", "error"),
    [
        (
            {"content": b'{"token":"x"}', "headers": {"content-type": "text/plain"}},
            415,
            "unsupported_media_type",
        ),
        (
            {"content": b"{not json", "headers": {"content-type": "application/json"}},
            400,
            "invalid_json",
        ),
        ({"json": ["token"]}, 400, "invalid_request"),
        ({"json": {}}, 400, "invalid_request"),
        ({"json": {"token": 42}}, 400, "invalid_request"),
        ({"json": {"token": "not a token!"}}, 401, "invalid_session_token"),
        ({"json": {"token": "eyJhbGciOiJIUzI1NiJ9.e30.forged"}}, 401, "invalid_session_token"),
        ({"json": {"token": "x" * 20_000}}, 413, "payload_too_large"),
        (
            {"content": b"\xff\xfe", "headers": {"content-type": "application/json"}},
            400,
            "invalid_json",
        ),
    ],
)
async def test_malformed_exchange_requests(
    emulator: EmulatorHandle, harness: AppHarness, kwargs: dict[str, Any], status: int, error: str
) -> None:
    response = await harness.client.post("/api/fanvue/session", **kwargs)
    assert response.status_code == status
    assert response.json()["error"] == error
    assert await harness.store.count() == 0


async def test_expired_session_token_is_401(emulator: EmulatorHandle, harness: AppHarness) -> None:
    token = emulator.session_token()
    emulator.advance(61)
    response = await harness.client.post("/api/fanvue/session", json={"token": token})
    assert response.status_code == 401
    assert error_code(response) == "invalid_session_token"
    assert await harness.store.count() == 0


async def test_consent_required_is_403(emulator: EmulatorHandle, harness: AppHarness) -> None:
    response = await harness.exchange(emulator, creator="max.stone")
    assert response.status_code == 403
    assert error_code(response) == "consent_required"
    assert await harness.store.count() == 0


@pytest.mark.parametrize(
    "fault",
    [
        {"fail_next": {"platform": 1}},
        {"fail_next": {"token": 1}},
        {"fail_next": {"api": 1}},
        {"malformed_token_response": 1},
    ],
)
async def test_upstream_failures_are_502_and_store_nothing(
    emulator: EmulatorHandle, harness: AppHarness, fault: dict[str, Any]
) -> None:
    emulator.faults(**fault)
    response = await harness.exchange(emulator)
    assert response.status_code == 502
    assert error_code(response) == "upstream_unavailable"
    assert await harness.store.count() == 0
    assert harness.hook_calls == []


async def test_invalid_client_is_502_and_logged(
    emulator: EmulatorHandle, harness: AppHarness, caplog: pytest.LogCaptureFixture
) -> None:
    emulator.control("PATCH", "/app", json={"client_secret": "a-rotated-secret-0123456789"})
    response = await harness.exchange(emulator)
    assert response.status_code == 502
    assert error_code(response) == "upstream_rejected"
    assert "invalid_client" in caplog.text
    assert DEV_CLIENT_SECRET not in caplog.text


async def test_me_and_session_lifecycle(emulator: EmulatorHandle, harness: AppHarness) -> None:
    session = await harness.session(emulator)
    metrics = (await harness.client.get("/metrics")).text
    for endpoint in ("authorize_on_behalf", "token", "api"):
        assert f'fanvue_upstream_seconds_count{{endpoint="{endpoint}"}}' in metrics
    auth = {"Authorization": f"Bearer {session}"}
    me = await harness.client.get("/api/me", headers=auth)
    assert me.status_code == 200
    assert me.json()["handle"] == "luna.rivers"
    assert me.json()["isCreator"] is True
    assert "X-Updated-Session" not in me.headers

    # Past half its life the session is renewed and the new token works.
    harness.clock.offset += 400
    renewed = await harness.client.get("/api/me", headers=auth)
    assert renewed.status_code == 200
    new_session = renewed.headers["X-Updated-Session"]
    assert new_session != session
    harness.clock.offset += 300  # the old token is now expired, the renewed one is not
    assert (await harness.client.get("/api/me", headers=auth)).status_code == 401
    new_auth = {"Authorization": f"Bearer {new_session}"}
    assert (await harness.client.get("/api/me", headers=new_auth)).status_code == 200

    logout = await harness.client.post("/api/fanvue/logout", headers=new_auth)
    assert logout.status_code == 200
    after = await harness.client.get("/api/me", headers=new_auth)
    assert after.status_code == 401
    assert error_code(after) == "invalid_session"


@pytest.mark.parametrize(
    "header",
    [None, "Bearer", "Bearer garbage", "Basic abc", "Bearer a.b", "Bearer " + "A" * 5000],
)
async def test_me_rejects_missing_or_bad_sessions(
    emulator: EmulatorHandle, harness: AppHarness, header: str | None
) -> None:
    headers = {"Authorization": header} if header else {}
    response = await harness.client.get("/api/me", headers=headers)
    assert response.status_code == 401
    assert error_code(response) == "invalid_session"


async def test_tampered_session_is_rejected(emulator: EmulatorHandle, harness: AppHarness) -> None:
    session = await harness.session(emulator)
    payload, _, signature = session.partition(".")
    import base64

    decoded = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    decoded["sub"] = emulator.creator_uuid("max.stone")
    forged_payload = base64.urlsafe_b64encode(json.dumps(decoded).encode()).rstrip(b"=").decode()
    forged = f"{forged_payload}.{signature}"
    response = await harness.client.get("/api/me", headers={"Authorization": f"Bearer {forged}"})
    assert response.status_code == 401


async def test_custom_authenticated_route_gets_creator_and_client(
    emulator: EmulatorHandle, harness: AppHarness
) -> None:
    session = await harness.session(emulator)
    response = await harness.client.get(
        "/api/followers-count", headers={"Authorization": f"Bearer {session}"}
    )
    assert response.status_code == 200
    assert response.json() == {"creator": emulator.creator_uuid(), "first_page": 5}
    assert (await harness.client.get("/api/followers-count")).status_code == 401


async def test_revoked_consent_means_reauthorization(
    emulator: EmulatorHandle, harness: AppHarness
) -> None:
    session = await harness.session(emulator)
    uuid = emulator.creator_uuid()
    emulator.control("DELETE", f"/creators/{uuid}/consent")
    emulator.control("POST", f"/creators/{uuid}/expire-access-tokens")
    response = await harness.client.get("/api/me", headers={"Authorization": f"Bearer {session}"})
    assert response.status_code == 401
    assert error_code(response) == "reauthorization_required"
    mark = await harness.store.reauthorization_mark(uuid)
    assert mark is not None
    assert mark.reason == "invalid_grant"
    assert await harness.store.load(uuid) is None


async def test_page_headers_and_theme(emulator: EmulatorHandle, harness: AppHarness) -> None:
    response = await harness.client.get("/embedded?theme=dark&token=eyJsecret")
    assert response.status_code == 200
    csp = response.headers["content-security-policy"]
    assert f"frame-ancestors {emulator.base_url}" in csp
    assert "script-src 'self'" in csp
    assert "unsafe-inline" not in csp
    assert response.headers["referrer-policy"] == "no-referrer"
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["x-content-type-options"] == "nosniff"
    page = response.text
    assert 'data-theme="dark"' in page
    assert "eyJsecret" not in page
    # No inline script or style anywhere: every <script> has a src, no style attributes.
    for tag in re.findall(r"<script\b[^>]*>", page):
        assert "src=" in tag
    assert "<style" not in page
    assert " style=" not in page
    light = await harness.client.get("/embedded?theme=<script>")
    assert 'data-theme="light"' in light.text
    asset = await harness.client.get("/embedded/static/app.js")
    assert asset.status_code == 200
    assert "javascript" in asset.headers["content-type"]


async def test_health_and_unknown_routes(harness: AppHarness) -> None:
    assert (await harness.client.get("/healthz")).json() == {"status": "ok"}
    assert (await harness.client.get("/readyz")).json() == {"status": "ready"}
    missing = await harness.client.get("/nope")
    assert missing.status_code == 404
    assert error_code(missing) == "not_found"
    wrong_method = await harness.client.get("/api/fanvue/session")
    assert wrong_method.status_code == 405
    assert error_code(wrong_method) == "method_not_allowed"
    metrics = await harness.client.get("/metrics")
    assert metrics.status_code == 200
    assert "# TYPE fanvue_session_exchanges_total counter" in metrics.text
    for name in ("fanvue_token_refresh_total", "fanvue_refresh_lock_wait_seconds"):
        assert f"# TYPE {name}" in metrics.text


async def test_cookie_mode_with_csrf(emulator: EmulatorHandle) -> None:
    app, harness = await make_harness(settings_for(emulator, session_cookie_name="__Host-fve"))
    try:
        response = await harness.exchange(emulator)
        assert response.status_code == 200
        cookie = response.headers["set-cookie"]
        for attribute in ("Secure", "HttpOnly", "SameSite=None", "Partitioned", "Path=/"):
            assert attribute in cookie
        csrf = response.json()["csrfToken"]
        assert "session" not in response.json()  # cookie mode: never in the body
        token = cookie.split(";")[0].partition("=")[2]
        cookies = {"__Host-fve": token}
        client = harness.client
        client.cookies.update(cookies)
        assert (await client.get("/api/me")).status_code == 200
        assert (await client.post("/api/fanvue/logout")).status_code == 401  # no CSRF token
        wrong = await client.post("/api/fanvue/logout", headers={"X-CSRF-Token": "nope"})
        assert wrong.status_code == 401
        ok = await client.post("/api/fanvue/logout", headers={"X-CSRF-Token": csrf})
        assert ok.status_code == 200
        assert "Max-Age=0" in ok.headers["set-cookie"]
        assert (await client.get("/api/me")).status_code == 401
    finally:
        await harness.client.aclose()
        await app.state.fanvue.aclose()


async def test_production_mode_refuses_memory_store(emulator: EmulatorHandle) -> None:
    from fanvue_embedded.errors import ConfigurationError

    settings = settings_for(
        emulator,
        mode="production",
        platform_url="https://www.fanvue.com",
        issuer_base_url="https://auth.fanvue.com",
        api_base_url="https://api.fanvue.com",
        redirect_uri="https://app.example/cb",
        client_secret=Secret("a-real-secret-0123456789"),
        session_secret=Secret("r" * 8 + "a-real-session-secret-0123456789"),
        token_encryption_keys=parse_encryption_keys(
            "k1:" + "QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUE"
        ),
    )
    with pytest.raises(ConfigurationError) as info:
        create_app(settings)
    assert info.value.variable == "REDIS_URL"
