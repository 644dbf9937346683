"""Optional CORS (``CORS_ALLOWED_ORIGINS``): exact origins only, with credentials, never ``*``."""

from __future__ import annotations

import httpx
import pytest

from fanvue_embedded.app import create_app
from fanvue_embedded.config import Settings
from fanvue_embedded.errors import ConfigurationError
from tests.support.emulator import EmulatorHandle
from tests.support.hosts import host_settings

ALLOWED = "https://frontend.example"


@pytest.mark.parametrize(
    "value",
    [
        "*",
        "https://*.example.com",
        "https://frontend.example/",
        "https://frontend.example/app",
        "frontend.example",
        "ftp://frontend.example",
    ],
)
def test_anything_but_exact_origins_is_refused(value: str) -> None:
    with pytest.raises(ConfigurationError, match="CORS_ALLOWED_ORIGINS") as raised:
        host_settings(
            "http://127.0.0.1:9", app_url="http://app.test", cors_allowed_origins=(value,)
        )
    assert raised.value.variable == "CORS_ALLOWED_ORIGINS"


def test_origins_come_from_the_environment_and_need_https_in_production() -> None:
    from tests.test_deploy import env_example

    assert "CORS_ALLOWED_ORIGINS" in env_example()
    settings = host_settings(
        "http://127.0.0.1:9", app_url="http://app.test", cors_allowed_origins=("http://a.test",)
    )
    assert settings.cors_allowed_origins == ("http://a.test",)
    environ = {
        "FANVUE_EMBEDDED_MODE": "development",
        "OAUTH_CLIENT_ID": "client",
        "OAUTH_CLIENT_SECRET": "a-client-secret-of-length",
        "OAUTH_REDIRECT_URI": "http://127.0.0.1:8000/oauth/callback",
        "SESSION_SECRET": "s" + "0123456789abcdefghijklmnopqrstuvwxyz",
        "CORS_ALLOWED_ORIGINS": "https://a.test, https://b.test:8443",
    }
    assert Settings.from_env(environ).cors_allowed_origins == (
        "https://a.test",
        "https://b.test:8443",
    )
    production = {
        **environ,
        "FANVUE_EMBEDDED_MODE": "production",
        "OAUTH_REDIRECT_URI": "https://app.example/oauth/callback",
        "CORS_ALLOWED_ORIGINS": "http://a.test",
    }
    with pytest.raises(ConfigurationError, match="https outside development"):
        Settings.from_env(production)


@pytest.mark.anyio
async def test_preflight_and_answers_for_an_allowed_origin_only(emulator: EmulatorHandle) -> None:
    app = create_app(
        host_settings(emulator.base_url, app_url="http://app.test", cors_allowed_origins=(ALLOWED,))
    )
    plain = create_app(host_settings(emulator.base_url, app_url="http://app.test"))
    preflight = {
        "Access-Control-Request-Method": "GET",
        "Access-Control-Request-Headers": "authorization, x-csrf-token",
    }
    async with (
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://a") as client,
        httpx.AsyncClient(transport=httpx.ASGITransport(app=plain), base_url="http://a") as off,
    ):
        allowed = await client.options("/api/me", headers={"Origin": ALLOWED, **preflight})
        refused = await client.options(
            "/api/me", headers={"Origin": "https://evil.example", **preflight}
        )
        answer = await client.get("/healthz", headers={"Origin": ALLOWED})
        other = await client.get("/healthz", headers={"Origin": "https://evil.example"})
        without = await off.get("/healthz", headers={"Origin": ALLOWED})
    for each in (app, plain):
        await each.state.fanvue.aclose()
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == ALLOWED
    assert allowed.headers["access-control-allow-credentials"] == "true"
    assert "authorization" in allowed.headers["access-control-allow-headers"].lower()
    assert refused.status_code == 400
    assert "access-control-allow-origin" not in refused.headers
    assert answer.headers["access-control-allow-origin"] == ALLOWED
    assert "x-updated-session" in answer.headers["access-control-expose-headers"].lower()
    assert "access-control-allow-origin" not in other.headers
    assert "access-control-allow-origin" not in without.headers
