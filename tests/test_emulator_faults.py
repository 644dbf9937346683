"""Emulator fault injection: 503s, error rate, concurrency rejection, dropped responses."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import anyio
import httpx
import pytest

from fanvue_embedded.emulator import Emulator, EmulatorConfig
from tests.emulator_kit import (
    JSON,
    LUNA,
    api_get,
    authorize_on_behalf,
    basic,
    client_for,
    code_for,
    exchange,
    pkce,
    refresh,
    tokens_for,
)
from tests.support.servers import serve_in_thread

pytestmark = pytest.mark.anyio
CONCURRENT = "Multiple concurrent requests using the same token, please retry"


@pytest.fixture
def emu() -> Emulator:
    return Emulator()


@pytest.fixture
async def client(emu: Emulator) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(emu) as c:
        yield c


async def faults(client: httpx.AsyncClient, **changes: object) -> None:
    response = await client.patch("/_emulator/faults", json=changes)
    assert response.status_code == 200, response.text


async def test_all_faults_off_by_default(client: httpx.AsyncClient) -> None:
    view = (await client.get("/_emulator/faults")).json()
    assert set(view["fail_next"].values()) == {0}
    assert set(view["error_rate"].values()) == {0}
    assert set(view["latency_ms"].values()) == {0}
    assert view["drop_after_rotation"] == view["reject_next_refresh"] == 0
    assert view["reject_concurrent_refresh"] is False


async def test_fail_next_per_group(client: httpx.AsyncClient, emu: Emulator) -> None:
    first = await tokens_for(client, emu)
    await faults(client, fail_next={"platform": 1, "token": 1, "api": 2, "auth": 1})
    _, challenge = pkce()
    token = emu.session_token(LUNA)
    assert (await authorize_on_behalf(client, token, challenge)).status_code == 503
    assert (await authorize_on_behalf(client, token, challenge)).status_code == 200
    failed = await refresh(client, first["refresh_token"])
    assert failed.status_code == 503
    assert failed.json()["error"] == "temporarily_unavailable"
    assert emu.counters["rotations"] == 0
    assert (await refresh(client, first["refresh_token"])).status_code == 200
    for expected in (503, 503, 200):
        assert (await api_get(client, "/users/me", first["access_token"])).status_code == expected
    assert (await client.get("/oauth2/auth")).status_code == 503


async def test_api_faults_answer_in_the_apis_503_shape(
    client: httpx.AsyncClient, emu: Emulator
) -> None:
    # conventions.md: 502/503 bodies on the API are {message}; /collections* names its
    # collections service.
    access = (await tokens_for(client, emu))["access_token"]
    await faults(client, fail_next={"api": 2})
    collections = await api_get(client, "/collections", access)
    assert collections.status_code == 503
    assert collections.json() == {"message": "The collections service is unavailable"}
    other = await api_get(client, "/users/me", access)
    assert other.status_code == 503
    assert set(other.json()) == {"message"}
    assert (await api_get(client, "/users/me", access)).status_code == 200  # faults used up


async def test_error_rate_is_seeded(client: httpx.AsyncClient) -> None:
    async def outcomes() -> list[int]:
        await faults(client, seed=7, error_rate={"auth": 0.5})
        return [(await client.get("/oauth2/auth")).status_code for _ in range(20)]

    first, second = await outcomes(), await outcomes()
    assert first == second
    assert 503 in first
    assert set(first) - {503}  # and some got through to the (400) endpoint
    await faults(client, error_rate={"auth": 1.0})
    assert {(await client.get("/oauth2/auth")).status_code for _ in range(5)} == {503}


async def test_reject_next_refresh_does_not_rotate(
    client: httpx.AsyncClient, emu: Emulator
) -> None:
    first = await tokens_for(client, emu)
    await faults(client, reject_next_refresh=1)
    rejected = await refresh(client, first["refresh_token"])
    assert rejected.status_code == 400
    assert rejected.json() == {"error": "invalid_request", "error_description": CONCURRENT}
    assert emu.counters["rotations"] == 0
    assert emu.counters["concurrent_rejections"] == 1
    assert (await refresh(client, first["refresh_token"])).status_code == 200


async def test_concurrent_refreshes_of_one_chain_are_rejected(
    client: httpx.AsyncClient, emu: Emulator
) -> None:
    first = await tokens_for(client, emu)
    await faults(client, reject_concurrent_refresh=True, latency_ms={"token": 300})
    results: list[httpx.Response] = []

    async def one() -> None:
        results.append(await refresh(client, first["refresh_token"]))

    async with anyio.create_task_group() as tg:
        tg.start_soon(one)
        await anyio.sleep(0.05)  # let the first one get in flight
        tg.start_soon(one)
    statuses = sorted(r.status_code for r in results)
    assert statuses == [200, 400]
    rejected = next(r for r in results if r.status_code == 400)
    assert rejected.json()["error_description"] == CONCURRENT
    assert emu.counters["rotations"] == 1


async def test_malformed_token_response(client: httpx.AsyncClient, emu: Emulator) -> None:
    first = await tokens_for(client, emu)
    await faults(client, malformed_token_response=1)
    broken = await refresh(client, first["refresh_token"])
    assert broken.status_code == 200
    assert broken.content == b"not json"
    assert emu.counters["rotations"] == 0
    assert (await refresh(client, first["refresh_token"])).json()["refresh_token"]


async def test_dropped_response_after_rotation(client: httpx.AsyncClient, emu: Emulator) -> None:
    first = await tokens_for(client, emu)
    await faults(client, drop_after_rotation=1)
    with anyio.move_on_after(0.5) as scope:
        await refresh(client, first["refresh_token"])
    assert scope.cancelled_caught  # never answered
    assert emu.counters["dropped_responses"] == 1
    assert emu.counters["rotations"] == 1
    # The rotation happened; a retry inside the grace window gets the lost response.
    retry = await refresh(client, first["refresh_token"])
    assert retry.status_code == 200
    assert emu.counters["grace_reuses"] == 1


async def test_clearing_faults_releases_held_responses(
    client: httpx.AsyncClient, emu: Emulator
) -> None:
    first = await tokens_for(client, emu)
    await faults(client, drop_after_rotation=1)
    results: list[httpx.Response] = []

    async def held() -> None:
        results.append(await refresh(client, first["refresh_token"]))

    async with anyio.create_task_group() as tg:
        tg.start_soon(held)
        for _ in range(1000):  # until the rotation is done and the response is held
            if emu.counters["dropped_responses"]:
                break
            await anyio.sleep(0.01)
        await client.delete("/_emulator/faults", headers=JSON)
    assert results[0].status_code == 503


def test_dropped_response_over_a_real_socket() -> None:
    emulator = Emulator(EmulatorConfig(drop_hold_seconds=30))
    with serve_in_thread(emulator) as base_url, httpx.Client(base_url=base_url) as client:

        async def setup() -> dict[str, str]:
            async with client_for(emulator) as local:
                code, verifier = await code_for(local, emulator)
                body: dict[str, str] = (await exchange(local, code, verifier)).json()
                return body

        first = asyncio.run(setup())
        client.patch("/_emulator/faults", json={"drop_after_rotation": 1})
        form = {"grant_type": "refresh_token", "refresh_token": first["refresh_token"]}
        with pytest.raises(httpx.ReadTimeout):
            client.post("/oauth2/token", data=form, headers=basic(), timeout=0.5)
        assert client.get("/_emulator/counters").json()["dropped_responses"] == 1
        retry = client.post("/oauth2/token", data=form, headers=basic())
        assert retry.status_code == 200
