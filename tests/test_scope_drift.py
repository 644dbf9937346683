"""Scope drift against the emulator: the app's configured scopes grew after a creator connected.

The emulator grants the app's registered scopes at authorization time, so narrowing them with
``PATCH /_emulator/app`` before the exchange and widening them after reproduces a creator whose
grant predates the app's new scopes."""

from __future__ import annotations

from collections.abc import AsyncIterator

import anyio
import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route

from fanvue_embedded import FanvueClient, ForbiddenError
from fanvue_embedded._devdefaults import DEV_SCOPES
from fanvue_embedded._redis import redis_from_url
from fanvue_embedded.app import CreatorContext, authenticated, create_app, install
from fanvue_embedded.config import Secret, parse_encryption_keys
from fanvue_embedded.crypto import generate_key
from fanvue_embedded.errors import InsufficientScope
from fanvue_embedded.scopes import missing_scopes
from fanvue_embedded.services import Services, build_services
from fanvue_embedded.store import RedisTokenStore
from tests.support.emulator import EmulatorHandle
from tests.support.errors import error_code
from tests.test_app import settings_for

pytestmark = pytest.mark.anyio

FOLLOWERS = "GET /followers"


def grant_only(emulator: EmulatorHandle, *scopes: str) -> None:
    """What the app is registered for (and so what the next authorization grants)."""
    emulator.control("PATCH", "/app", json={"scopes": list(scopes)})


def follower_calls(emulator: EmulatorHandle) -> int:
    return int(emulator.counters()["calls"].get(FOLLOWERS, 0))


@pytest.fixture
async def services(emulator: EmulatorHandle) -> AsyncIterator[Services]:
    # Configured: read:self and read:fan (settings_for).
    built = build_services(settings_for(emulator))
    try:
        yield built
    finally:
        await built.aclose()


def test_missing_scopes_rules() -> None:
    granted = frozenset({"openid", "read:self"})
    assert missing_scopes(("read:self", "read:fan", "read:fan"), granted) == ("read:fan",)
    # Protocol scopes gate no operation; an empty grant means "what was requested" (RFC 6749).
    assert missing_scopes(("offline_access", "offline", "read:self"), granted) == ()
    assert missing_scopes(("read:fan",), frozenset()) == ()


async def test_a_call_outside_the_grant_is_refused_before_sending(
    services: Services, emulator: EmulatorHandle
) -> None:
    grant_only(emulator, "read:self")
    result = await services.exchange.exchange(emulator.session_token())
    creator = result.user.uuid
    assert await services.tokens.granted_scopes(creator) >= {"read:self"}
    assert "read:fan" not in await services.tokens.granted_scopes(creator)
    assert await services.tokens.missing_scopes(creator) == ("read:fan",)

    api = services.tokens.client(creator)
    assert (await api.get_current_user()).uuid == creator  # read:self is granted
    with pytest.raises(InsufficientScope) as refused:
        await api.call("listFollowers")
    assert refused.value.missing == ("read:fan",)
    assert refused.value.operation_id == "listFollowers"
    assert "read:fan" in str(refused.value)
    with pytest.raises(InsufficientScope):
        async for _ in api.paginate("listFollowers"):
            pass
    assert follower_calls(emulator) == 0  # nothing reached Fanvue

    # The creator authorizes again once the app's scopes grew: the same client sees it.
    grant_only(emulator, *DEV_SCOPES)
    await services.exchange.exchange(emulator.session_token())
    assert await services.tokens.missing_scopes(creator) == ()
    page = await api.call("listFollowers", params={"size": 5})
    assert isinstance(page["data"], list)
    assert follower_calls(emulator) == 1


async def test_a_fixed_token_client_leaves_the_check_to_fanvue(
    services: Services, emulator: EmulatorHandle
) -> None:
    # Without a grant to read (a bare token), Fanvue's own 403 stays the answer.
    grant_only(emulator, "read:self")
    result = await services.exchange.exchange(emulator.session_token())
    async with FanvueClient(result.tokens.access_token, api_base_url=emulator.base_url) as api:
        with pytest.raises(ForbiddenError):
            await api.call("listFollowers")
    assert follower_calls(emulator) == 1


@authenticated
async def followers(request: Request, ctx: CreatorContext) -> Response:
    page = await ctx.api.call("listFollowers", params={"size": 5})
    return JSONResponse({"count": len(page["data"])})


def asgi_client(app: Starlette) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    return httpx.AsyncClient(transport=transport, base_url="https://app.test")


@pytest.mark.parametrize("prefix", ["", "/fanvue"])
async def test_the_exchange_names_missing_scopes_and_where_to_grant_them(
    emulator: EmulatorHandle, prefix: str
) -> None:
    fanvue_app = create_app(settings_for(emulator), routes=[Route("/api/followers", followers)])
    host = Starlette(routes=[Mount(prefix or "/", app=fanvue_app)])
    install(host, fanvue_app)
    try:
        async with asgi_client(host) as client:
            grant_only(emulator, "read:self")
            drifted = await client.post(
                f"{prefix}/api/fanvue/session", json={"token": emulator.session_token()}
            )
            assert drifted.status_code == 200, drifted.text
            assert drifted.json()["missingScopes"] == ["read:fan"]
            assert drifted.json()["reauthorizeUrl"] == f"{prefix}/oauth/login"
            auth = {"Authorization": f"Bearer {drifted.json()['session']}"}
            refused = await client.get(f"{prefix}/api/followers", headers=auth)
            assert refused.status_code == 403
            assert error_code(refused) == "insufficient_scope"
            assert "read:fan" not in refused.text  # generic to the user; detail in the log
            assert follower_calls(emulator) == 0

            grant_only(emulator, *DEV_SCOPES)
            whole = await client.post(
                f"{prefix}/api/fanvue/session", json={"token": emulator.session_token()}
            )
            assert whole.json()["missingScopes"] == []
            assert "reauthorizeUrl" not in whole.json()
            auth = {"Authorization": f"Bearer {whole.json()['session']}"}
            allowed = await client.get(f"{prefix}/api/followers", headers=auth)
            assert allowed.status_code == 200, allowed.text
    finally:
        await fanvue_app.state.fanvue.aclose()


async def hmget_calls(redis_url: str) -> int:
    """HMGETs Redis executed so far (a token-set read is one; so is any inside a script),
    counted by the server."""
    raw = redis_from_url(redis_url)
    try:
        stats = await raw.info("commandstats")
    finally:
        await raw.aclose()
    entry = stats.get("cmdstat_hmget", {})
    return int(entry.get("calls", 0)) if isinstance(entry, dict) else 0


async def test_the_grant_is_read_from_memory_and_a_seeming_miss_from_the_store(
    emulator: EmulatorHandle, redis_standalone_url: str
) -> None:
    settings = settings_for(
        emulator,
        redis_url=Secret(redis_standalone_url),
        token_encryption_keys=parse_encryption_keys(generate_key("k1")),
        api_rate_limit=0,  # no budget: its script reads with HMGET too, inside Redis
    )
    built = build_services(settings)
    try:
        grant_only(emulator, "read:self")
        creator = (await built.exchange.exchange(emulator.session_token())).user.uuid
        store = built.store
        assert isinstance(store, RedisTokenStore)
        await built.tokens.access_token(creator)
        for _ in range(200):  # until the invalidation channel is live and the set is held
            if store.cached(creator) is not None:
                break
            await anyio.sleep(0.01)
            await built.tokens.access_token(creator)
        assert store.cached(creator) is not None

        # A client per request (as @authenticated makes): the scope check reads no Redis.
        before = await hmget_calls(redis_standalone_url)
        for _ in range(5):
            assert (await built.tokens.client(creator).get_current_user()).uuid == creator
        assert await hmget_calls(redis_standalone_url) == before

        # A scope the held grant lacks is confirmed from the store, not from memory: a
        # re-consent whose invalidation has not arrived yet still counts.
        with pytest.raises(InsufficientScope):
            await built.tokens.client(creator).call("listFollowers")
        assert await hmget_calls(redis_standalone_url) == before + 1
    finally:
        await built.aclose()
