"""Emulator conformance: the Fanvue API (version header, auth, scopes, pagination, rate limit)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from fanvue_embedded.emulator import Emulator
from tests.emulator_kit import JSON, LUNA, VERSION, api_get, bearer, client_for, tokens_for

pytestmark = pytest.mark.anyio


@pytest.fixture
def emu() -> Emulator:
    return Emulator()


@pytest.fixture
async def client(emu: Emulator) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(emu) as c:
        yield c


@pytest.fixture
async def access_token(client: httpx.AsyncClient, emu: Emulator) -> str:
    token: str = (await tokens_for(client, emu))["access_token"]
    return token


async def test_users_me(client: httpx.AsyncClient, emu: Emulator, access_token: str) -> None:
    response = await api_get(client, "/users/me", access_token)
    assert response.status_code == 200
    body = response.json()
    assert {key: body[key] for key in ("uuid", "handle", "displayName", "email", "isCreator")} == {
        "uuid": emu.creator(LUNA).uuid,
        "handle": "luna.rivers",
        "displayName": "Luna Rivers",
        "email": "luna@example.test",
        "isCreator": True,
    }
    assert body["fanCounts"] == {"followersCount": 45, "subscribersCount": 12}
    assert response.headers["X-RateLimit-Limit"] == "200"
    assert response.headers["X-RateLimit-Remaining"] == "199"
    assert int(response.headers["X-RateLimit-Reset"]) > 0


@pytest.mark.parametrize(
    ("version", "status", "error"),
    [
        (None, 400, "unsupported_api_version"),
        ("1999-01-01", 400, "unsupported_api_version"),
        ("2024-01-01", 410, "api_version_sunset"),
    ],
)
async def test_version_header(
    client: httpx.AsyncClient, access_token: str, version: str | None, status: int, error: str
) -> None:
    headers = bearer(access_token)
    if version is not None:
        headers["X-Fanvue-API-Version"] = version
    response = await client.get("/users/me", headers=headers)
    assert response.status_code == status
    body = response.json()
    assert body["error"] == error
    assert isinstance(body["message"], str)
    if status == 410:
        assert body["nextVersion"] == "2025-06-26"


@pytest.mark.parametrize("token", [None, "garbage", "eyJhbGciOiJIUzI1NiJ9.e30.c2ln"])
async def test_bad_bearer_is_401(client: httpx.AsyncClient, token: str | None) -> None:
    headers = {**VERSION, **(bearer(token) if token else {})}
    response = await client.get("/users/me", headers=headers)
    assert response.status_code == 401
    assert list(response.json()) == ["error"]


async def test_expired_access_token_is_401(
    client: httpx.AsyncClient, emu: Emulator, access_token: str
) -> None:
    emu.advance_clock(3601)
    response = await api_get(client, "/users/me", access_token)
    assert response.status_code == 401
    assert response.json() == {"error": "the access token has expired"}


async def test_force_expired_access_tokens(
    client: httpx.AsyncClient, emu: Emulator, access_token: str
) -> None:
    luna = emu.creator(LUNA).uuid
    response = await client.post(f"/_emulator/creators/{luna}/expire-access-tokens", headers=JSON)
    assert response.json() == {"expired": 1}
    assert (await api_get(client, "/users/me", access_token)).status_code == 401


async def test_missing_scope_is_403(client: httpx.AsyncClient, emu: Emulator) -> None:
    await client.patch("/_emulator/app", json={"scopes": ["read:self"]})
    token = (await tokens_for(client, emu))["access_token"]
    assert (await api_get(client, "/users/me", token)).status_code == 200
    response = await api_get(client, "/followers", token)
    assert response.status_code == 403
    assert response.json() == {"error": "insufficient scope: read:fan required"}
    assert (await api_get(client, "/chats", token)).status_code == 403


async def test_followers_paginate_to_the_end(client: httpx.AsyncClient, access_token: str) -> None:
    seen: list[str] = []
    page = 1
    while True:
        body = (await api_get(client, "/followers", access_token, size=20, page=page)).json()
        seen += [item["uuid"] for item in body["data"]]
        assert body["pagination"] == {"page": page, "size": len(body["data"]), "hasMore": page < 3}
        if not body["pagination"]["hasMore"]:
            break
        page += 1
    assert page == 3
    assert len(seen) == len(set(seen)) == 45


async def test_chats_default_page(client: httpx.AsyncClient, access_token: str) -> None:
    body = (await api_get(client, "/chats", access_token)).json()
    assert len(body["data"]) == 12
    assert body["pagination"] == {"page": 1, "size": 12, "hasMore": False}


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"size": 0}, "size must not be less than 1"),
        ({"size": 51}, "size must not be greater than 50"),
        ({"size": "x"}, "size must be an integer number"),
        ({"page": 0}, "page must not be less than 1"),
    ],
)
async def test_bad_pagination_is_400(
    client: httpx.AsyncClient, access_token: str, params: dict[str, object], message: str
) -> None:
    response = await api_get(client, "/followers", access_token, **params)
    assert response.status_code == 400
    assert response.json() == {"errors": [message]}


async def test_rate_limit(client: httpx.AsyncClient, emu: Emulator, access_token: str) -> None:
    await client.patch("/_emulator/settings", json={"rate_limit": 3, "rate_window": 60})
    for remaining in ("2", "1", "0"):
        response = await api_get(client, "/users/me", access_token)
        assert response.headers["X-RateLimit-Remaining"] == remaining
    limited = await api_get(client, "/users/me", access_token)
    assert limited.status_code == 429
    assert list(limited.json()) == ["error"]
    assert 1 <= int(limited.headers["Retry-After"]) <= 60
    assert limited.headers["X-RateLimit-Remaining"] == "0"
    assert emu.counters["rate_limited"] == 1
    emu.advance_clock(61)
    assert (await api_get(client, "/users/me", access_token)).status_code == 200


async def test_rate_limit_is_per_creator(client: httpx.AsyncClient, emu: Emulator) -> None:
    await client.patch("/_emulator/settings", json={"rate_limit": 1})
    await client.put(f"/_emulator/creators/{emu.creator('max.stone').uuid}/consent", headers=JSON)
    luna = (await tokens_for(client, emu, LUNA))["access_token"]
    max_token = (await tokens_for(client, emu, "max.stone"))["access_token"]
    assert (await api_get(client, "/users/me", luna)).status_code == 200
    assert (await api_get(client, "/users/me", luna)).status_code == 429
    assert (await api_get(client, "/users/me", max_token)).status_code == 200
