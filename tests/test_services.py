"""The composition root: what ``Services`` closes, and state two apps in one process keep apart."""

from __future__ import annotations

import subprocess
import sys

import httpx
import pytest

from fanvue_embedded._devdefaults import DEV_CLIENT_SECRET, DEV_SESSION_SECRET
from fanvue_embedded.config import Settings
from fanvue_embedded.services import build_services
from fanvue_embedded.store import MemoryTokenStore


def dev_settings() -> Settings:
    return Settings.from_env(
        {
            "OAUTH_CLIENT_ID": "app-123",
            "OAUTH_CLIENT_SECRET": DEV_CLIENT_SECRET,
            "OAUTH_REDIRECT_URI": "http://127.0.0.1:8000/oauth/callback",
            "SESSION_SECRET": DEV_SESSION_SECRET,
            "FANVUE_EMBEDDED_MODE": "development",
        }
    )


@pytest.mark.anyio
async def test_aclose_leaves_a_callers_http_client_open() -> None:
    async with httpx.AsyncClient() as mine:
        services = build_services(dev_settings(), http=mine)
        await services.aclose()
        assert not mine.is_closed
        assert services.http is mine


@pytest.mark.anyio
async def test_aclose_closes_the_http_client_it_built() -> None:
    services = build_services(dev_settings())
    assert not services.http.is_closed
    await services.aclose()
    assert services.http.is_closed


@pytest.mark.anyio
async def test_two_services_count_metrics_apart() -> None:
    first, second = build_services(dev_settings()), build_services(dev_settings())
    try:
        first.metrics.session_exchanges.labels("ok").inc()
        first.metrics.webhook_deliveries.labels("duplicate").inc(2)
        assert first.metrics.value("fanvue_session_exchanges_total", outcome="ok") == 1
        assert second.metrics.value("fanvue_session_exchanges_total", outcome="ok") == 0
        assert b'fanvue_webhook_deliveries_total{outcome="duplicate"} 2.0' in first.metrics.render()
        assert b"duplicate" not in second.metrics.render()
    finally:
        await first.aclose()
        await second.aclose()


@pytest.mark.anyio
async def test_memory_stores_never_share_locks() -> None:
    one, other = MemoryTokenStore(), MemoryTokenStore()
    held = one.lock("creator-1", 10.0)
    assert await held.acquire(blocking=False)
    try:
        assert await other.lock("creator-1", 10.0).acquire(blocking=False)
        assert not await one.lock("creator-1", 10.0).acquire(blocking=False)
    finally:
        await held.release()


def test_worker_and_composition_root_import_no_starlette() -> None:
    code = (
        "import sys, fanvue_embedded.services, fanvue_embedded.worker; "
        "print('starlette' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"


@pytest.mark.anyio
async def test_each_app_serves_its_own_metrics() -> None:
    from fanvue_embedded.app import create_app

    first, second = create_app(dev_settings()), create_app(dev_settings())
    try:
        first.state.fanvue.metrics.session_exchanges.labels("ok").inc()
        for app, expected in ((first, True), (second, False)):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://app.test") as http:
                text = (await http.get("/metrics")).text
            assert "# TYPE fanvue_session_exchanges_total counter" in text
            assert ('fanvue_session_exchanges_total{outcome="ok"} 1.0' in text) is expected
    finally:
        await first.state.fanvue.aclose()
        await second.state.fanvue.aclose()
