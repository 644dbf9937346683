"""App-subscription entitlement against the emulator's ``/apps/{appUuid}/subscription/me``:
the typed answer, the per-creator cache, the Starlette guard, ``GET /api/entitlement`` and the
FastAPI dependency (402 ``subscription_required``), and upstream failures (502)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import Depends, FastAPI
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route

from fanvue_embedded._devdefaults import DEV_CLIENT_ID, DEV_CLIENT_SECRET, DEV_SESSION_SECRET
from fanvue_embedded.app import CreatorContext, authenticated, create_app, install
from fanvue_embedded.app.entitlement import requires_subscription
from fanvue_embedded.config import Settings
from fanvue_embedded.entitlements import Entitlement, EntitlementCache, Entitlements
from fanvue_embedded.errors import (
    ConfigurationError,
    ProtocolError,
    SubscriptionRequired,
    UpstreamServerError,
)
from fanvue_embedded.fastapi import Entitled, require_subscription
from fanvue_embedded.services import Services, build_services
from tests.support.emulator import EmulatorHandle
from tests.support.errors import error_code
from tests.test_app import settings_for

pytestmark = pytest.mark.anyio

APP_UUID = "6f1c2a9e-3b7d-4e21-9a55-0c8d7e6f1a22"
SUBSCRIPTION_ME = "GET /apps/{appUuid}/subscription/me"


def set_subscription(emulator: EmulatorHandle, **state: Any) -> None:
    emulator.control("PUT", f"/apps/{APP_UUID}/subscription", json=state)


def upstream_calls(emulator: EmulatorHandle) -> int:
    return int(emulator.counters()["calls"].get(SUBSCRIPTION_ME, 0))


@pytest.fixture
async def services(emulator: EmulatorHandle) -> AsyncIterator[Services]:
    built = build_services(settings_for(emulator, app_uuid=APP_UUID))
    try:
        yield built
    finally:
        await built.aclose()


async def connect(services: Services, emulator: EmulatorHandle, handle: str = "luna.rivers") -> str:
    """Store the creator's tokens through the session exchange; their uuid."""
    emulator.control("PUT", f"/creators/{emulator.creator_uuid(handle)}/consent")
    result = await services.exchange.exchange(emulator.session_token(handle))
    return result.user.uuid


# --- the typed answer and the cache ------------------------------------------------------------


async def test_status_is_fanvues_answer_typed(services: Services, emulator: EmulatorHandle) -> None:
    set_subscription(
        emulator,
        status="active",
        planName="Pro",
        currentPeriodEnd="2025-07-01T00:00:00Z",
        cancelAtPeriodEnd=True,
    )
    creator = await connect(services, emulator)
    found = await services.entitlements.status(creator)
    assert found.active
    assert found.status == "active"
    assert found.has_active_subscription
    assert found.plan_name == "Pro"
    assert found.plan_uuid  # the emulator's plan uuid
    assert found.current_period_end == "2025-07-01T00:00:00Z"
    assert found.cancel_at_period_end is True
    assert found.app_uuid == APP_UUID
    assert found.user_uuid == creator
    assert found.managed_creators == ()
    assert found.public() == {
        "status": "active",
        "hasActiveSubscription": True,
        "planName": "Pro",
        "currentPeriodEnd": "2025-07-01T00:00:00Z",
        "cancelAtPeriodEnd": True,
    }


@pytest.mark.parametrize("status", ["none", "pending", "cancelled"])
async def test_require_refuses_every_status_but_active(
    services: Services, emulator: EmulatorHandle, status: str
) -> None:
    set_subscription(emulator, status=status)
    creator = await connect(services, emulator)
    with pytest.raises(SubscriptionRequired) as refused:
        await services.entitlements.require(creator)
    assert refused.value.status == status
    assert refused.value.code == "subscription_required"


async def test_answers_are_cached_per_creator_until_fresh_is_asked(
    services: Services, emulator: EmulatorHandle
) -> None:
    set_subscription(emulator, status="none")
    luna = await connect(services, emulator)
    max_ = await connect(services, emulator, "max.stone")
    assert (await services.entitlements.status(luna)).status == "none"
    set_subscription(emulator, status="active")
    # Within the TTL the cached answer stands; another creator is asked for.
    assert (await services.entitlements.status(luna)).status == "none"
    assert (await services.entitlements.status(max_)).status == "active"
    assert upstream_calls(emulator) == 2
    assert (await services.entitlements.require(luna, fresh=True)).active
    assert (await services.entitlements.status(luna)).active  # the fresh answer is cached
    assert upstream_calls(emulator) == 3
    services.entitlements.forget(luna)
    await services.entitlements.status(luna)
    assert upstream_calls(emulator) == 4


async def test_concurrent_lookups_of_one_creator_share_one_call(
    services: Services, emulator: EmulatorHandle
) -> None:
    set_subscription(emulator, status="active")
    creator = await connect(services, emulator)
    found = await asyncio.gather(*(services.entitlements.status(creator) for _ in range(20)))
    assert all(item == found[0] for item in found)
    assert upstream_calls(emulator) == 1


async def test_the_cache_expires_and_is_bounded(
    services: Services, emulator: EmulatorHandle
) -> None:
    set_subscription(emulator, status="active")
    now = [0.0]
    cache = EntitlementCache(ttl=60.0, max_entries=1, monotonic=lambda: now[0])
    entitlements = Entitlements(app_uuid=APP_UUID, client_for=services.tokens.client, cache=cache)
    luna = await connect(services, emulator)
    max_ = await connect(services, emulator, "max.stone")
    await entitlements.status(luna)
    now[0] = 59.0
    await entitlements.status(luna)
    assert upstream_calls(emulator) == 1
    now[0] = 60.0  # expired
    await entitlements.status(luna)
    assert upstream_calls(emulator) == 2
    await entitlements.status(max_)  # evicts luna: one entry at most
    assert len(cache) == 1
    await entitlements.status(luna)
    assert upstream_calls(emulator) == 4


async def test_agency_staff_see_their_managed_creators(
    services: Services, emulator: EmulatorHandle
) -> None:
    set_subscription(emulator, status="active", planName="Agency")
    emulator.make_agency("luna.rivers", "max.stone")
    luna = await connect(services, emulator)
    found = await services.entitlements.status(luna)
    # Their own status is none; each assigned creator has an entry.
    assert found.status == "none"
    assert not found.active
    assert [item.user_uuid for item in found.managed_creators] == [
        emulator.creator_uuid("max.stone")
    ]
    assert found.managed_creators[0].active
    assert found.managed_creators[0].plan_name == "Agency"


@pytest.mark.parametrize("upstream", ["failure", "unconfigured"])
async def test_upstream_failures_raise_and_are_not_cached(
    services: Services, emulator: EmulatorHandle, upstream: str
) -> None:
    set_subscription(emulator, status="active", upstream=upstream)
    creator = await connect(services, emulator)
    with pytest.raises(UpstreamServerError) as failed:
        await services.entitlements.status(creator)
    assert failed.value.status_code == (502 if upstream == "failure" else 503)
    set_subscription(emulator, upstream="ok")
    assert (await services.entitlements.status(creator)).active


async def test_without_an_app_uuid_the_lookup_names_the_setting(
    emulator: EmulatorHandle,
) -> None:
    built = build_services(settings_for(emulator))
    try:
        with pytest.raises(ConfigurationError) as missing:
            await built.entitlements.status("c0ffee")
    finally:
        await built.aclose()
    assert missing.value.variable == "FANVUE_APP_UUID"


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"appUuid": APP_UUID, "userUuid": "u", "status": "active"},
        {"appUuid": APP_UUID, "userUuid": "u", "status": 1, "hasActiveSubscription": True},
        {"appUuid": APP_UUID, "userUuid": "u", "status": "none", "hasActiveSubscription": "no"},
        {
            "appUuid": APP_UUID,
            "userUuid": "u",
            "status": "none",
            "hasActiveSubscription": False,
            "managedCreators": "many",
        },
        {
            "appUuid": APP_UUID,
            "userUuid": "u",
            "status": "none",
            "hasActiveSubscription": False,
            "planName": 7,
        },
    ],
)
def test_a_malformed_answer_is_a_protocol_error(body: dict[str, Any]) -> None:
    with pytest.raises(ProtocolError):
        Entitlement.from_api(body)


def test_the_app_uuid_setting_is_checked() -> None:
    base = {
        "OAUTH_CLIENT_ID": DEV_CLIENT_ID,
        "OAUTH_CLIENT_SECRET": DEV_CLIENT_SECRET,
        "SESSION_SECRET": DEV_SESSION_SECRET,
        "BASE_URL": "http://localhost:8000",
        "FANVUE_EMBEDDED_MODE": "development",
    }
    settings = Settings.from_env(
        {**base, "FANVUE_APP_UUID": APP_UUID.upper(), "ENTITLEMENT_CACHE_TTL": "5"}
    )
    assert settings.app_uuid == APP_UUID
    assert settings.entitlement_ttl == 5.0
    assert Settings.from_env(base).app_uuid is None
    with pytest.raises(ConfigurationError) as bad:
        Settings.from_env({**base, "FANVUE_APP_UUID": "my-app"})
    assert bad.value.variable == "FANVUE_APP_UUID"
    with pytest.raises(ConfigurationError) as negative:
        Settings.from_env({**base, "ENTITLEMENT_CACHE_TTL": "-1"})
    assert negative.value.variable == "ENTITLEMENT_CACHE_TTL"


# --- through the app: the guard, /api/entitlement, FastAPI -------------------------------------


@authenticated
@requires_subscription
async def report(request: Request, ctx: CreatorContext) -> Response:
    return JSONResponse({"report": "for subscribers", "creator": ctx.creator})


def asgi_client(app: Starlette | FastAPI) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    return httpx.AsyncClient(transport=transport, base_url="https://app.test")


async def signed_in(
    client: httpx.AsyncClient, emulator: EmulatorHandle, prefix: str = ""
) -> dict[str, str]:
    exchanged = await client.post(
        f"{prefix}/api/fanvue/session", json={"token": emulator.session_token()}
    )
    assert exchanged.status_code == 200, exchanged.text
    return {"Authorization": f"Bearer {exchanged.json()['session']}"}


@pytest.fixture
async def guarded_app(emulator: EmulatorHandle) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(
        settings_for(emulator, app_uuid=APP_UUID), routes=[Route("/api/report", report)]
    )
    try:
        async with asgi_client(app) as client:
            yield client
    finally:
        await app.state.fanvue.aclose()


async def test_guarded_route_and_entitlement_route_answer_402_without_a_plan(
    guarded_app: httpx.AsyncClient, emulator: EmulatorHandle
) -> None:
    set_subscription(emulator, status="cancelled")
    auth = await signed_in(guarded_app, emulator)
    for path in ("/api/report", "/api/entitlement"):
        refused = await guarded_app.get(path, headers=auth)
        assert refused.status_code == 402, refused.text
        assert refused.json() == {
            "error": "subscription_required",
            "message": "An active subscription to this app is required.",
        }
    # The creator subscribes; the page asks for a fresh answer.
    set_subscription(emulator, status="active", planName="Pro")
    still_cached = await guarded_app.get("/api/report", headers=auth)
    assert still_cached.status_code == 402
    fresh = await guarded_app.get("/api/entitlement", params={"fresh": "1"}, headers=auth)
    assert fresh.status_code == 200, fresh.text
    assert fresh.json()["status"] == "active"
    assert fresh.json()["planName"] == "Pro"
    allowed = await guarded_app.get("/api/report", headers=auth)
    assert allowed.status_code == 200
    assert allowed.json()["report"] == "for subscribers"


async def test_guarded_route_needs_a_session_first(guarded_app: httpx.AsyncClient) -> None:
    response = await guarded_app.get("/api/report")
    assert response.status_code == 401
    assert error_code(response) == "invalid_session"


@pytest.mark.parametrize("upstream", ["failure", "unconfigured"])
async def test_upstream_failure_is_the_tables_502(
    guarded_app: httpx.AsyncClient, emulator: EmulatorHandle, upstream: str
) -> None:
    set_subscription(emulator, status="active", upstream=upstream)
    auth = await signed_in(guarded_app, emulator)
    for path in ("/api/report", "/api/entitlement"):
        response = await guarded_app.get(path, headers=auth)
        assert response.status_code == 502, response.text
        assert error_code(response) == "upstream_unavailable"
        assert "subscription service" not in response.text  # Fanvue's words stay in the log


async def test_an_unknown_app_is_an_upstream_refusal(
    guarded_app: httpx.AsyncClient, emulator: EmulatorHandle
) -> None:
    # Fanvue answers 404 for an app it does not know (a wrong FANVUE_APP_UUID).
    auth = await signed_in(guarded_app, emulator)
    response = await guarded_app.get("/api/entitlement", headers=auth)
    assert response.status_code == 502
    assert error_code(response) == "upstream_rejected"


async def test_the_entitlement_route_and_page_flag_follow_the_setting(
    emulator: EmulatorHandle,
) -> None:
    plain = create_app(settings_for(emulator))
    entitled = create_app(settings_for(emulator, app_uuid=APP_UUID))
    try:
        async with asgi_client(plain) as client:
            assert (await client.get("/api/entitlement")).status_code == 404
            page = await client.get("/embedded")
            assert 'data-entitlement="off"' in page.text
            spec = (await client.get("/openapi.json")).json()
            assert "/api/entitlement" not in spec["paths"]
        async with asgi_client(entitled) as client:
            page = await client.get("/embedded")
            assert 'data-entitlement="required"' in page.text
            spec = (await client.get("/openapi.json")).json()
            answers = spec["paths"]["/api/entitlement"]["get"]["responses"]
            assert "402" in answers
    finally:
        await plain.state.fanvue.aclose()
        await entitled.state.fanvue.aclose()


def fastapi_host(fanvue_app: Starlette) -> FastAPI:
    api = FastAPI()

    @api.get("/plan")
    async def plan(entitlement: Entitled) -> dict[str, Any]:
        return {"plan": entitlement.plan_name}

    @api.get("/guarded", dependencies=[Depends(require_subscription)])
    async def guarded() -> dict[str, str]:
        return {"ok": "yes"}

    api.mount("/fanvue", fanvue_app)
    install(api, fanvue_app)
    return api


async def test_fastapi_dependency_answers_402_then_runs_the_route(
    emulator: EmulatorHandle,
) -> None:
    fanvue_app = create_app(settings_for(emulator, app_uuid=APP_UUID))
    set_subscription(emulator, status="pending")
    try:
        async with asgi_client(fastapi_host(fanvue_app)) as client:
            auth = await signed_in(client, emulator, "/fanvue")
            for path in ("/plan", "/guarded"):
                refused = await client.get(path, headers=auth)
                assert refused.status_code == 402, refused.text
                assert error_code(refused) == "subscription_required"
            set_subscription(emulator, status="active", planName="Gold")
            fanvue_app.state.fanvue.entitlements.forget(emulator.creator_uuid())
            plan = await client.get("/plan", headers=auth)
            assert plan.status_code == 200, plan.text
            assert plan.json() == {"plan": "Gold"}
            assert (await client.get("/guarded", headers=auth)).json() == {"ok": "yes"}
            assert (await client.get("/guarded")).status_code == 401
    finally:
        await fanvue_app.state.fanvue.aclose()


async def test_starlette_host_route_is_guarded_under_a_prefix(emulator: EmulatorHandle) -> None:
    fanvue_app = create_app(settings_for(emulator, app_uuid=APP_UUID))
    host = Starlette(routes=[Route("/report", report), Mount("/fanvue", app=fanvue_app)])
    install(host, fanvue_app)
    set_subscription(emulator, status="none")
    try:
        async with asgi_client(host) as client:
            auth = await signed_in(client, emulator, "/fanvue")
            refused = await client.get("/report", headers=auth)
            assert refused.status_code == 402
            assert (await client.get("/fanvue/api/entitlement", headers=auth)).status_code == 402
    finally:
        await fanvue_app.state.fanvue.aclose()
