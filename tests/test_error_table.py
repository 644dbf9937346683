"""The one error table: every class of ``fanvue_embedded.errors`` → status, body, headers; and
the same answers through the real app (emulator over a real socket, dead Redis for outages)."""

from __future__ import annotations

import inspect
import logging
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from fanvue_embedded import errors
from fanvue_embedded._devdefaults import DEV_ENCRYPTION_KEY, DEV_WEBHOOK_SECRET
from fanvue_embedded.app import CreatorContext, authenticated, create_app
from fanvue_embedded.app.error_table import (
    DEFAULT_RETRY_AFTER,
    ERROR_TABLE,
    answer_for,
    fanvue_error_response,
)
from fanvue_embedded.config import Secret, parse_encryption_keys
from fanvue_embedded.crypto import Keyring
from fanvue_embedded.ephemeral import MemoryEphemeralStore, RedisEphemeralStore
from fanvue_embedded.errors import FanvueError
from fanvue_embedded.sessions import AppSessionManager
from fanvue_embedded.store import MemoryTokenStore, RedisTokenStore
from fanvue_embedded.webhooks import WebhookRegistry
from tests.support.emulator import EmulatorHandle
from tests.support.errors import error_code
from tests.support.servers import free_port
from tests.test_app import settings_for
from tests.test_webhooks import post_signed

UPSTREAM_DETAIL = "upstream said: ory_at_SECRET-TOKEN-VALUE"

# The contract, written out once more on purpose: a change to the table must change this too.
EXPECTED: dict[str, tuple[int, str]] = {
    "FanvueError": (500, "internal_error"),
    "ConfigurationError": (500, "internal_error"),
    "RejectedError": (502, "upstream_rejected"),
    "InvalidSessionToken": (401, "invalid_session_token"),
    "ConsentRequired": (403, "consent_required"),
    "ReauthorizationRequired": (401, "reauthorization_required"),
    "InsufficientScope": (403, "insufficient_scope"),
    "OAuthError": (502, "upstream_rejected"),
    "ClientAuthenticationError": (502, "upstream_rejected"),
    "APIError": (502, "upstream_rejected"),
    "BadRequestError": (502, "upstream_rejected"),
    "UnauthorizedError": (502, "upstream_rejected"),
    "ForbiddenError": (502, "upstream_rejected"),
    "NotFoundError": (502, "upstream_rejected"),
    "ConflictError": (502, "upstream_rejected"),
    "APIVersionGoneError": (502, "upstream_rejected"),
    "ProtocolError": (502, "upstream_unavailable"),
    "StateMismatchError": (502, "upstream_unavailable"),
    "TransientError": (503, "service_unavailable"),
    "UpstreamUnavailable": (502, "upstream_unavailable"),
    "UpstreamServerError": (502, "upstream_unavailable"),
    "ConcurrentRefreshError": (502, "upstream_unavailable"),
    "RateLimitedError": (429, "rate_limited"),
    "TooManyFailedAttempts": (429, "rate_limited"),
    "RefreshInProgress": (503, "service_unavailable"),
    "StoreUnavailable": (503, "store_unavailable"),
    "StoreFull": (503, "store_full"),
    "StoreError": (503, "service_unavailable"),
    "GenerationConflict": (503, "service_unavailable"),
    "DecryptionError": (503, "service_unavailable"),
    "AppSessionError": (401, "invalid_session"),
    "SubscriptionRequired": (402, "subscription_required"),
    "WebhookVerificationError": (401, "invalid_signature"),
}

ERROR_CLASSES: list[type[FanvueError]] = [
    value
    for value in vars(errors).values()
    if isinstance(value, type)
    and issubclass(value, FanvueError)
    and value.__module__ == errors.__name__
]

# Values for the keyword arguments error classes take; a class with a new required argument
# fails ``make`` loudly (KeyError) until it is added here.
_ARGUMENTS: dict[str, Any] = {
    "message": UPSTREAM_DETAIL,
    "code": None,
    "variable": "OAUTH_CLIENT_SECRET",
    "reason": "invalid_grant",
    "creator": "c0ffee",
    "error": "fanvue_private_code",
    "description": UPSTREAM_DETAIL,
    "status_code": 418,
    "rate_limit": {"X-RateLimit-Remaining": "0"},
    "retry_after": 7.2,
    "missing": ("read:fan",),
    "status": "cancelled",
}


def make(cls: type[FanvueError], **overrides: Any) -> FanvueError:
    """An instance of ``cls`` carrying upstream-looking detail in every field it has."""
    parameters = inspect.signature(cls.__init__).parameters
    kwargs = {
        name: overrides.get(name, _ARGUMENTS[name])
        for name, parameter in parameters.items()
        if parameter.kind is inspect.Parameter.KEYWORD_ONLY
        and (parameter.default is inspect.Parameter.empty or name in overrides)
    }
    return cls(UPSTREAM_DETAIL, **kwargs)


def test_every_error_class_has_its_own_row() -> None:
    names = {cls.__name__ for cls in ERROR_CLASSES}
    # Every exported error class; mixins (APIDetails: the fields of an API answer) are not errors.
    exported = {
        name
        for name in errors.__all__
        if isinstance(getattr(errors, name), type)
        and issubclass(getattr(errors, name), FanvueError)
    }
    assert len(ERROR_CLASSES) == len(exported)
    assert names == exported
    assert set(errors.__all__) - exported == {"APIDetails"}
    assert names == set(EXPECTED)
    assert set(ERROR_TABLE) == set(ERROR_CLASSES)


@pytest.mark.parametrize("cls", ERROR_CLASSES, ids=lambda cls: cls.__name__)
def test_each_error_class_answer(cls: type[FanvueError], caplog: pytest.LogCaptureFixture) -> None:
    exc = make(cls)
    with caplog.at_level(logging.INFO, logger="fanvue_embedded.app"):
        response = fanvue_error_response(exc, "test")
    status, code = EXPECTED[cls.__name__]
    assert response.status_code == status
    body = bytes(response.body).decode()
    assert error_code(httpx.Response(status, content=bytes(response.body))) == code
    # Generic to the user: no upstream text, no upstream error code, no token-looking value.
    assert "SECRET" not in body
    assert "fanvue_private_code" not in body
    assert UPSTREAM_DETAIL not in caplog.text  # the log gets codes, not upstream messages
    assert exc.code in caplog.text
    assert response.headers["cache-control"] == "no-store"
    if issubclass(cls, errors.RateLimitedError):
        assert response.headers["retry-after"] == "8"  # 7.2 s rounded up
    else:
        assert "retry-after" not in response.headers


def test_fanvue_error_detail_goes_to_the_log_only(caplog: pytest.LogCaptureFixture) -> None:
    exc = errors.ForbiddenError(
        "Fanvue API answered 403 (insufficient_scope)", status_code=403, error="insufficient_scope"
    )
    with caplog.at_level(logging.INFO, logger="fanvue_embedded.app"):
        response = fanvue_error_response(exc, "GET /api/followers")
    assert "insufficient_scope" in caplog.text
    assert "upstream_status=403" in caplog.text
    assert b"insufficient_scope" not in response.body
    assert b"403" not in response.body


def test_rate_limit_without_a_stated_delay_still_names_one() -> None:
    response = fanvue_error_response(errors.RateLimitedError("429", retry_after=None), "test")
    assert response.status_code == 429
    assert response.headers["retry-after"] == str(DEFAULT_RETRY_AFTER)


def test_instance_codes_never_reach_the_body() -> None:
    # The webhook check that failed is an instance code; the sender gets the one answer.
    exc = errors.WebhookVerificationError("stale", code="timestamp_outside_tolerance")
    response = fanvue_error_response(exc, "webhook")
    assert b"timestamp_outside_tolerance" not in response.body
    assert error_code(httpx.Response(401, content=bytes(response.body))) == "invalid_signature"


def test_a_subclass_defined_elsewhere_answers_like_its_ancestor() -> None:
    class ChatLocked(errors.ForbiddenError):
        code = "chat_locked"

    assert answer_for(make(ChatLocked)) is ERROR_TABLE[errors.ForbiddenError]


# --- through the real app ----------------------------------------------------------------------


def client_for(app: Starlette) -> httpx.AsyncClient:
    # Exceptions come back as the 500 answer a real server would send, not raised in the test.
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    return httpx.AsyncClient(transport=transport, base_url="https://app.test")


@authenticated
async def followers_first_page(request: Request, ctx: CreatorContext) -> Response:
    page = await ctx.api.get("/followers", params={"size": 5})
    return JSONResponse({"count": len(page["data"])})


async def raises_store_unavailable(request: Request) -> Response:
    raise errors.StoreUnavailable("redis://user:hunter2@10.0.0.1 refused")


@pytest.mark.anyio
async def test_fanvue_4xx_in_an_authenticated_route_is_502_upstream_rejected(
    emulator: EmulatorHandle, caplog: pytest.LogCaptureFixture
) -> None:
    # The app may not read followers: Fanvue answers 403 {error} naming the scope.
    emulator.control("PATCH", "/app", json={"scopes": ["read:self"]})
    app = create_app(settings_for(emulator), routes=[Route("/api/followers", followers_first_page)])
    try:
        async with client_for(app) as client:
            exchanged = await client.post(
                "/api/fanvue/session", json={"token": emulator.session_token()}
            )
            assert exchanged.status_code == 200, exchanged.text
            auth = {"Authorization": f"Bearer {exchanged.json()['session']}"}
            with caplog.at_level(logging.INFO, logger="fanvue_embedded.app"):
                response = await client.get("/api/followers", headers=auth)
    finally:
        await app.state.fanvue.aclose()
    assert response.status_code == 502
    assert error_code(response) == "upstream_rejected"
    assert "read:fan" not in response.text
    assert "upstream_status=403" in caplog.text
    assert "read:fan" in caplog.text  # Fanvue's error, for the operator


@pytest.mark.anyio
async def test_fanvue_4xx_in_api_me_is_502_upstream_rejected(emulator: EmulatorHandle) -> None:
    # Two replicas on the same stores; the second sends a sunset API version (Fanvue: 410).
    keyring = Keyring.generate_ephemeral()
    store, ephemeral = MemoryTokenStore(keyring), MemoryEphemeralStore()
    current = create_app(settings_for(emulator), store=store, ephemeral=ephemeral)
    sunset = create_app(
        settings_for(emulator, api_version="2024-01-01"), store=store, ephemeral=ephemeral
    )
    try:
        async with client_for(current) as client:
            exchanged = await client.post(
                "/api/fanvue/session", json={"token": emulator.session_token()}
            )
            assert exchanged.status_code == 200, exchanged.text
        auth = {"Authorization": f"Bearer {exchanged.json()['session']}"}
        async with client_for(sunset) as client:
            response = await client.get("/api/me", headers=auth)
    finally:
        await sunset.state.fanvue.http.aclose()
        await current.state.fanvue.aclose()
    assert response.status_code == 502
    assert error_code(response) == "upstream_rejected"


@pytest.mark.anyio
async def test_rate_limited_is_429_with_retry_after(emulator: EmulatorHandle) -> None:
    # The exchange's /users/me spends the only call of an hour-long window.
    emulator.settings(rate_limit=1, rate_window=3600)
    app = create_app(settings_for(emulator))
    try:
        async with client_for(app) as client:
            exchanged = await client.post(
                "/api/fanvue/session", json={"token": emulator.session_token()}
            )
            assert exchanged.status_code == 200, exchanged.text
            auth = {"Authorization": f"Bearer {exchanged.json()['session']}"}
            response = await client.get("/api/me", headers=auth)
    finally:
        await app.state.fanvue.aclose()
    assert response.status_code == 429
    assert error_code(response) == "rate_limited"
    assert 3000 < int(response.headers["retry-after"]) <= 3600


@pytest.fixture
async def dead_redis_app(emulator: EmulatorHandle) -> AsyncIterator[httpx.AsyncClient]:
    """The app with its stores and webhook records on a Redis that is not there."""
    dead = f"redis://127.0.0.1:{free_port()}"
    app = create_app(
        settings_for(
            emulator,
            webhook_secrets=(Secret(DEV_WEBHOOK_SECRET),),
            # Webhook records live on REDIS_URL: the same dead server.
            redis_url=Secret(dead),
            token_encryption_keys=parse_encryption_keys(DEV_ENCRYPTION_KEY),
        ),
        store=RedisTokenStore.from_url(dead, Keyring.generate_ephemeral()),
        ephemeral=RedisEphemeralStore.from_url(dead),
        webhooks=WebhookRegistry(),
        routes=[Route("/api/yours", raises_store_unavailable)],
    )
    try:
        async with client_for(app) as client:
            yield client
    finally:
        await app.state.fanvue.aclose()


async def signed_session(emulator: EmulatorHandle) -> dict[str, str]:
    """A correctly signed app session (issued with the same secret on a store that works), so
    the dead app's check gets past the signature to its store."""
    manager = AppSessionManager(
        secret=settings_for(emulator).session_secret, store=MemoryEphemeralStore()
    )
    issued = await manager.issue(emulator.creator_uuid())
    return {"Authorization": f"Bearer {issued.token}"}


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("method", "path", "kwargs"),
    [
        ("POST", "/api/fanvue/session", {"json": {"token": "fresh"}}),
        ("GET", "/api/me", {}),
        ("POST", "/api/fanvue/logout", {}),
        ("GET", "/api/yours", {}),  # a route of yours that lets StoreUnavailable escape
    ],
)
async def test_store_outage_is_503_in_every_route(
    emulator: EmulatorHandle,
    dead_redis_app: httpx.AsyncClient,
    method: str,
    path: str,
    kwargs: dict[str, Any],
) -> None:
    if path == "/api/fanvue/session":
        kwargs = {"json": {"token": emulator.session_token()}}
    if path in ("/api/me", "/api/fanvue/logout"):
        kwargs = {"headers": await signed_session(emulator)}
    response = await dead_redis_app.request(method, path, **kwargs)
    assert response.status_code == 503, response.text
    assert error_code(response) == "store_unavailable"
    assert "hunter2" not in response.text


@pytest.mark.anyio
async def test_store_outage_is_503_on_the_webhook_route(
    dead_redis_app: httpx.AsyncClient,
) -> None:
    response = await post_signed(
        dead_redis_app,
        b'{"recipientUuid": "c1", "price": 500, "context": "post"}',
        DEV_WEBHOOK_SECRET,
    )
    assert response.status_code == 503
    assert error_code(response) == "store_unavailable"


@pytest.mark.anyio
async def test_token_store_outage_in_an_authenticated_route_is_503(
    emulator: EmulatorHandle,
) -> None:
    # Sessions answer (memory), the token store does not: the handler's token read fails.
    dead = f"redis://127.0.0.1:{free_port()}"
    app = create_app(
        settings_for(emulator),
        store=RedisTokenStore.from_url(dead, Keyring.generate_ephemeral()),
        ephemeral=MemoryEphemeralStore(),
    )
    try:
        issued = await app.state.fanvue.sessions.issue(emulator.creator_uuid())
        async with client_for(app) as client:
            response = await client.get(
                "/api/me", headers={"Authorization": f"Bearer {issued.token}"}
            )
    finally:
        await app.state.fanvue.aclose()
    assert response.status_code == 503
    assert error_code(response) == "store_unavailable"
