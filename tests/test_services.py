"""The composition root: what ``Services`` closes, and state two apps in one process keep apart."""

from __future__ import annotations

import asyncio
import subprocess
import sys

import httpx
import pytest

from fanvue_embedded._devdefaults import (
    DEV_CLIENT_ID,
    DEV_CLIENT_SECRET,
    DEV_ENCRYPTION_KEY,
    DEV_REDIRECT_URI,
    DEV_SESSION_SECRET,
)
from fanvue_embedded.config import Settings
from fanvue_embedded.services import build_services
from fanvue_embedded.store import MemoryTokenStore
from fanvue_embedded.tokens import RefreshOutcome
from tests.support.emulator import EmulatorHandle


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
    http = services.http
    assert not http.is_closed
    await services.aclose()
    assert http.is_closed
    assert services.http is not http  # used again, it builds a fresh client
    await services.aclose()


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


def redis_settings(redis_url: str, emulator_url: str) -> Settings:
    return Settings.from_env(
        {
            "OAUTH_CLIENT_ID": DEV_CLIENT_ID,
            "OAUTH_CLIENT_SECRET": DEV_CLIENT_SECRET,
            "OAUTH_REDIRECT_URI": DEV_REDIRECT_URI,
            "SESSION_SECRET": DEV_SESSION_SECRET,
            "FANVUE_EMBEDDED_MODE": "development",
            "FANVUE_PLATFORM_URL": emulator_url,
            "OAUTH_ISSUER_BASE_URL": emulator_url,
            "API_BASE_URL": emulator_url,
            "REDIS_URL": redis_url,
            "TOKEN_ENCRYPTION_KEYS": DEV_ENCRYPTION_KEY,
        }
    )


@pytest.mark.both_topologies  # a Cluster client's per-node pools across event loops
@pytest.mark.parametrize("close_each_job", [True, False], ids=["aclose", "forgotten"])
def test_one_services_serves_an_asyncio_run_per_job(
    redis_url: str, emulator: EmulatorHandle, close_each_job: bool
) -> None:
    """The Celery pattern: built once, then ``asyncio.run()`` per job. Every job gets clients
    of its own loop; those of a finished loop were closed with it, even when the job forgot."""
    services = build_services(redis_settings(redis_url, emulator.base_url))
    used: list[httpx.AsyncClient] = []

    async def sign_in() -> str:
        used.append(services.http)
        try:
            result = await services.exchange.exchange(emulator.session_token())
            return result.user.uuid
        finally:
            if close_each_job:
                await services.aclose()

    async def call_api(creator: str) -> tuple[str, RefreshOutcome]:
        used.append(services.http)
        try:
            user = await services.tokens.client(creator).get_current_user()
            return user.handle, await services.tokens.refresh(creator)
        finally:
            if close_each_job:
                await services.aclose()

    creator = asyncio.run(sign_in())
    assert asyncio.run(call_api(creator)) == ("luna.rivers", RefreshOutcome.REFRESHED)
    assert asyncio.run(call_api(creator)) == ("luna.rivers", RefreshOutcome.REFRESHED)
    assert len({id(client) for client in used}) == 3
    assert all(client.is_closed for client in used)
    assert emulator.counters()["chain_breaks"] == 0
