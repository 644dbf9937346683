"""What Fanvue said survives into the client's errors, for every documented error body.

The emulator produces the errors it can (unsupported and retired versions, validation, expired
token, missing scope, unknown resource, duplicate name, rate limit); a small real-socket server
answers the bodies Fanvue documents verbatim, so every shape is covered even where the
emulator has no reason to send it.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from fanvue_embedded import errors
from fanvue_embedded.api_responses import reset_deprecation_warnings
from fanvue_embedded.client import FanvueClient
from tests.support.api_access import access_token
from tests.support.emulator import EmulatorHandle
from tests.support.servers import serve_in_thread

pytestmark = pytest.mark.anyio

RATE_HEADERS = {
    "Retry-After": "120",
    "X-RateLimit-Limit": "200",
    "X-RateLimit-Remaining": "0",
    "X-RateLimit-Reset": "1767225600",
}

# (status, Fanvue's documented body, headers, error class, expected str())
DOCUMENTED: list[tuple[int, dict[str, Any], dict[str, str], type[Exception], str]] = [
    (
        400,
        {"error": "UnsupportedVersion", "message": "Unsupported API version: 1999-01-01"},
        {},
        errors.BadRequestError,
        "Unsupported API version: 1999-01-01",
    ),
    (
        400,
        {"errors": ["size must not be greater than 50", "page must be a number"]},
        {},
        errors.BadRequestError,
        "size must not be greater than 50; page must be a number",
    ),
    (400, {"message": "Invalid UUID"}, {}, errors.BadRequestError, "Invalid UUID"),
    (401, {"error": "Unauthorized"}, {}, errors.UnauthorizedError, "Unauthorized"),
    (403, {"error": "Insufficient scope"}, {}, errors.ForbiddenError, "Insufficient scope"),
    (404, {"message": "Chat not found"}, {}, errors.NotFoundError, "Chat not found"),
    (409, {"message": "List name already exists"}, {}, errors.ConflictError, "List name already exists"),
    (
        410,
        {"error": "SunsetVersion", "message": "Version 2024-01-01 is retired", "nextVersion": "2025-06-26"},
        {},
        errors.APIVersionGoneError,
        "Version 2024-01-01 is retired",
    ),
    (429, {"error": "Too Many Requests"}, RATE_HEADERS, errors.RateLimitedError, "Too Many Requests"),
    (503, {"message": "Collections service unavailable"}, {}, errors.UpstreamServerError, "Collections service unavailable"),
]  # fmt: skip


@pytest.fixture
def fanvue_says() -> Iterator[Any]:
    """``answer(status, body, headers)``: a client whose every call gets that answer."""
    servers: list[Any] = []

    def answer(status: int, body: Any, headers: dict[str, str] | None = None) -> FanvueClient:
        async def endpoint(request: Request) -> Response:
            return JSONResponse(body, status_code=status, headers=headers)

        methods = ["GET", "POST", "PATCH", "PUT", "DELETE"]
        app = Starlette(routes=[Route("/{path:path}", endpoint, methods=methods)])
        server = serve_in_thread(app)
        servers.append(server)
        return FanvueClient(
            "secret-access-token", api_base_url=server.__enter__(), max_retry_after=1
        )

    yield answer
    for server in servers:
        server.__exit__(None, None, None)


@pytest.mark.parametrize(("status", "body", "headers", "error_class", "text"), DOCUMENTED)
async def test_every_documented_error_body_survives(
    fanvue_says: Any,
    status: int,
    body: dict[str, Any],
    headers: dict[str, str],
    error_class: type[Exception],
    text: str,
) -> None:
    chat = str(uuid.uuid4())
    async with fanvue_says(status, body, headers) as api:
        with pytest.raises(error_class) as info:
            await api.call(
                "listMessages", path={"userUuid": chat}, params={"page": 2, "markAsRead": False}
            )
    error = info.value
    assert str(error) == text
    shown = f"{error} {error!r} {getattr(error, 'path', '')}"
    assert "secret-access-token" not in shown
    assert "markAsRead" not in shown
    assert "page=2" not in shown
    if isinstance(error, errors.UpstreamServerError):
        assert error.status_code == status
        return
    assert isinstance(error, errors.APIDetails)
    assert error.status_code == status
    assert error.method == "GET"
    assert error.path == f"/chats/{chat}/messages"
    assert error.error == body.get("error")
    assert error.errors == body.get("errors", [])
    assert error.next_version == body.get("nextVersion")
    assert isinstance(error, errors.RateLimitedError) == (status == 429)
    if status == 429:
        assert error.retry_after == 120
        assert (error.limit, error.remaining, error.reset) == (200, 0, 1767225600)
        assert error.rate_limit["Retry-After"] == "120"
    if status == 409:
        assert isinstance(error, errors.ConflictError)
        assert error.code == "conflict"


async def test_retired_version_warns_once_naming_the_next(
    fanvue_says: Any, caplog: pytest.LogCaptureFixture
) -> None:
    reset_deprecation_warnings()
    body = {"error": "SunsetVersion", "message": "retired", "nextVersion": "2025-06-26"}
    caplog.set_level(logging.WARNING, logger="fanvue_embedded.client")
    async with fanvue_says(410, body) as api:
        for _ in range(3):
            with pytest.raises(errors.APIVersionGoneError):
                await api.call("getCurrentUser")
    warnings = [r.getMessage() for r in caplog.records if r.name == "fanvue_embedded.client"]
    assert len(warnings) == 1
    assert "2025-06-26" in warnings[0]
    assert api.api_version in warnings[0]


async def test_deprecation_header_warns_once(
    fanvue_says: Any, caplog: pytest.LogCaptureFixture
) -> None:
    reset_deprecation_warnings()
    caplog.set_level(logging.WARNING, logger="fanvue_embedded.client")
    headers = {"Deprecation": "@1767225600", "Sunset": "Thu, 01 Jan 2026 00:00:00 GMT"}
    async with fanvue_says(200, {"uuid": str(uuid.uuid4())}, headers) as api:
        for _ in range(3):
            await api.get("/users/me")
    warnings = [r.getMessage() for r in caplog.records if r.name == "fanvue_embedded.client"]
    assert len(warnings) == 1
    assert "Sunset: Thu, 01 Jan 2026" in warnings[0]
    assert api.api_version in warnings[0]
    assert "secret-access-token" not in caplog.text


async def test_non_json_error_body_still_typed(fanvue_says: Any) -> None:
    async with fanvue_says(404, "not json at all") as api:
        with pytest.raises(errors.NotFoundError) as info:
            await api.get("/whatever")
    assert info.value.status_code == 404
    assert str(info.value) == "Fanvue API answered 404"


# --- from the emulator -------------------------------------------------------------------------


@pytest.fixture
async def token(emulator: EmulatorHandle) -> str:
    return await access_token(emulator)


@pytest.fixture
async def api(emulator: EmulatorHandle, token: str) -> AsyncIterator[FanvueClient]:
    async with FanvueClient(token, api_base_url=emulator.base_url) as client:
        yield client


async def test_emulator_unsupported_version_is_400_with_fanvue_fields(
    emulator: EmulatorHandle, token: str
) -> None:
    async with FanvueClient(token, api_base_url=emulator.base_url, api_version="1999-01-01") as api:
        with pytest.raises(errors.BadRequestError) as info:
            await api.call("getCurrentUser")
    assert info.value.error
    assert str(info.value)
    assert info.value.path == "/users/me"


async def test_emulator_retired_version_is_410_with_next_version(
    emulator: EmulatorHandle, token: str
) -> None:
    async with FanvueClient(token, api_base_url=emulator.base_url, api_version="2024-01-01") as api:
        with pytest.raises(errors.APIVersionGoneError) as info:
            await api.call("getCurrentUser")
    assert info.value.status_code == 410
    assert info.value.next_version == "2025-06-26"
    assert info.value.error


async def test_emulator_validation_errors_list(api: FanvueClient) -> None:
    # request() sends as given (call() would refuse size=500 before sending).
    with pytest.raises(errors.BadRequestError) as info:
        await api.get("/followers", {"size": 500})
    assert info.value.errors
    assert all(isinstance(item, str) for item in info.value.errors)
    assert str(info.value) == "; ".join(info.value.errors)


async def test_emulator_expired_token_is_401(emulator: EmulatorHandle, api: FanvueClient) -> None:
    emulator.control("POST", f"/creators/{emulator.creator_uuid()}/expire-access-tokens")
    with pytest.raises(errors.UnauthorizedError) as info:
        await api.call("getCurrentUser")
    assert info.value.error
    assert str(info.value) == info.value.error


async def test_emulator_missing_scope_is_403(emulator: EmulatorHandle) -> None:
    token = await access_token(emulator, scopes=("read:fan",))
    async with FanvueClient(token, api_base_url=emulator.base_url) as api:
        with pytest.raises(errors.ForbiddenError) as info:
            await api.call("getCurrentUser")
    assert info.value.error
    assert info.value.method == "GET"


async def test_emulator_unknown_resource_is_404(api: FanvueClient) -> None:
    with pytest.raises(errors.NotFoundError) as info:
        await api.call("listMessages", path={"userUuid": str(uuid.uuid4())})
    assert str(info.value)
    assert info.value.error is None


async def test_emulator_duplicate_name_is_409(api: FanvueClient) -> None:
    await api.call("createCustomList", json={"name": "Client test list"})
    with pytest.raises(errors.ConflictError) as info:
        await api.call("createCustomList", json={"name": "Client test list"})
    assert info.value.status_code == 409
    assert str(info.value)


async def test_emulator_rate_limit_is_429_with_headers(
    emulator: EmulatorHandle, token: str
) -> None:
    emulator.settings(rate_limit=1, rate_window=60)
    async with FanvueClient(token, api_base_url=emulator.base_url, max_retry_after=1) as api:
        await api.call("getCurrentUser")
        with pytest.raises(errors.RateLimitedError) as info:
            await api.call("getCurrentUser")
    error = info.value
    assert error.error
    assert error.limit == 1
    assert error.remaining == 0
    assert error.reset is not None
    assert error.retry_after is not None
    assert 0 < error.retry_after <= 60


async def test_emulator_bad_uuid_is_400_with_message(api: FanvueClient) -> None:
    # request() sends as given (call() would refuse the malformed UUID before sending).
    with pytest.raises(errors.BadRequestError) as info:
        await api.get("/chats/not-a-uuid/messages")
    assert info.value.errors == []
    assert info.value.error is None
    assert str(info.value)
    assert info.value.path == "/chats/not-a-uuid/messages"
