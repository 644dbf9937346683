"""TokenManager in one process: fast path, single-flight, typed outcomes, the API client's 401.

Run against both stores (memory and Redis) where the behaviour is the store's contract, with
the emulator over a real socket as the token endpoint and an injected clock for expiries.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Iterator
from typing import Any
from urllib.parse import parse_qs

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from fanvue_embedded.errors import (
    ClientAuthenticationError,
    ReauthorizationRequired,
    TransientError,
)
from fanvue_embedded.models import TokenSet
from fanvue_embedded.store import MemoryTokenStore, RedisTokenStore, TokenStore
from fanvue_embedded.tokens import RefreshOutcome, TokenManager
from tests.support.emulator import EmulatorHandle
from tests.support.redis_topology import redis_url_for
from tests.support.servers import serve_in_thread
from tests.support.storm import ROUND_SECONDS, OffsetClock, Setup, authorize, open_manager

pytestmark = [pytest.mark.anyio, pytest.mark.both_topologies]


@pytest.fixture
def clock() -> OffsetClock:
    return OffsetClock()


@pytest.fixture(params=["memory", "redis", "cluster"])
def topology(request: pytest.FixtureRequest) -> str:
    """Where the tokens live: the memory store, standalone Redis or a 3-master Redis Cluster."""
    param: str = request.param
    return param


@pytest.fixture
def setup(request: pytest.FixtureRequest, topology: str, emulator: EmulatorHandle) -> Setup:
    # The memory variant gets the standalone URL too; nothing there opens it.
    redis_url = redis_url_for(request, "cluster" if topology == "cluster" else "redis")
    return Setup(redis_url, emulator.base_url, os.urandom(32))


@pytest.fixture
async def store(topology: str, setup: Setup, clock: OffsetClock) -> AsyncIterator[TokenStore]:
    the_store: TokenStore
    if topology == "memory":
        the_store = MemoryTokenStore(setup.keyring(), clock=clock)
    else:
        the_store = RedisTokenStore.from_url(setup.redis_url, setup.keyring(), clock=clock)
    yield the_store
    await the_store.aclose()


@pytest.fixture
async def manager(
    setup: Setup, store: TokenStore, clock: OffsetClock
) -> AsyncIterator[TokenManager]:
    async with open_manager(setup, clock, store=store) as built:
        yield built


async def seed(
    emulator: EmulatorHandle, manager: TokenManager, clock: OffsetClock, handle: str = "luna.rivers"
) -> str:
    """Authorize through the real embedded flow, then zero the emulator's counters."""
    creator = await authorize(
        emulator.base_url, manager.store, emulator.session_token(handle), clock
    )
    emulator.control("DELETE", "/counters")
    return creator


async def stored(manager: TokenManager, creator: str) -> TokenSet:
    loaded = await manager.store.load(creator)
    assert loaded is not None
    return loaded.tokens


# --- fast path and single-flight --------------------------------------------------------------


async def test_fast_path_returns_the_stored_token_without_a_refresh(
    emulator: EmulatorHandle, manager: TokenManager, clock: OffsetClock
) -> None:
    creator = await seed(emulator, manager, clock)
    tokens = await stored(manager, creator)
    assert await manager.access_token(creator) == tokens.access_token
    assert await manager.refresh(creator, force=False) is RefreshOutcome.ALREADY_FRESH
    assert emulator.counters()["refresh_requests"] == 0


async def test_expired_token_is_refreshed_once(
    emulator: EmulatorHandle, manager: TokenManager, clock: OffsetClock
) -> None:
    creator = await seed(emulator, manager, clock)
    old = await stored(manager, creator)
    clock.offset = ROUND_SECONDS
    token = await manager.access_token(creator)
    assert token != old.access_token
    new = await stored(manager, creator)
    assert new.access_token == token
    assert await manager.access_token(creator) == token  # fresh again: fast path
    counters = emulator.counters()
    assert counters["refresh_requests"] == 1
    assert counters["rotations"] == 1


async def test_fifty_concurrent_callers_share_one_refresh(
    emulator: EmulatorHandle, manager: TokenManager, clock: OffsetClock
) -> None:
    creator = await seed(emulator, manager, clock)
    clock.offset = ROUND_SECONDS
    tokens = await asyncio.gather(*(manager.access_token(creator) for _ in range(50)))
    assert len(set(tokens)) == 1
    assert tokens[0] == (await stored(manager, creator)).access_token
    assert emulator.counters()["refresh_requests"] == 1


async def test_aclose_lets_a_refresh_in_flight_commit(
    emulator: EmulatorHandle, manager: TokenManager, clock: OffsetClock
) -> None:
    creator = await seed(emulator, manager, clock)
    before = await stored(manager, creator)
    # The real store's commit, held back until the test lets it go: a slow round trip.
    entered, release = asyncio.Event(), asyncio.Event()
    commit = manager.store.commit_refresh

    async def slow_commit(*args: Any, **kwargs: Any) -> int:
        entered.set()
        await release.wait()
        result: int = await commit(*args, **kwargs)
        return result

    manager.store.commit_refresh = slow_commit  # type: ignore[method-assign]
    refreshing = asyncio.ensure_future(manager.refresh(creator, force=True))
    await asyncio.wait_for(entered.wait(), 10)
    closing = asyncio.ensure_future(manager.aclose())
    await asyncio.sleep(0.05)
    assert not closing.done()  # waiting for the commit, not abandoning it
    release.set()
    await asyncio.wait_for(closing, 10)
    assert refreshing.done()
    assert refreshing.result() is RefreshOutcome.REFRESHED
    after = await stored(manager, creator)
    assert after.access_token != before.access_token
    assert emulator.counters()["rotations"] == 1


async def test_rejected_token_forces_a_refresh(
    emulator: EmulatorHandle, manager: TokenManager, clock: OffsetClock
) -> None:
    creator = await seed(emulator, manager, clock)
    old = await stored(manager, creator)
    token = await manager.access_token(creator, rejected=old.access_token)
    assert token != old.access_token
    # Rejecting a token that is no longer the stored one does not refresh again.
    assert await manager.access_token(creator, rejected=old.access_token) == token
    assert emulator.counters()["refresh_requests"] == 1


async def test_newest_refresh_token_is_stored(
    emulator: EmulatorHandle, manager: TokenManager, clock: OffsetClock
) -> None:
    creator = await seed(emulator, manager, clock)
    seen = {(await stored(manager, creator)).refresh_token}
    for _ in range(3):
        assert await manager.refresh(creator, force=True) is RefreshOutcome.REFRESHED
        seen.add((await stored(manager, creator)).refresh_token)
    assert len(seen) == 4
    # Each stored token was the chain's newest: every presentation was a plain rotation.
    counters = emulator.counters()
    assert counters["rotations"] == 3
    assert counters["grace_reuses"] == 0
    assert counters["chain_breaks"] == 0


# --- a token response without refresh_token ---------------------------------------------------


@pytest.fixture
def non_rotating_server() -> Iterator[tuple[str, list[str]]]:
    """A token endpoint that answers every refresh without a ``refresh_token`` (no rotation).
    Yields its base URL and the refresh tokens it was shown."""
    presented: list[str] = []

    async def token(request: Request) -> JSONResponse:
        form = parse_qs((await request.body()).decode())
        presented.append(form["refresh_token"][0])
        body: dict[str, Any] = {
            "access_token": f"access-{len(presented)}",
            "token_type": "Bearer",
            "expires_in": 3600,
            "scope": "openid read:self",
        }
        return JSONResponse(body)

    app = Starlette(routes=[Route("/oauth2/token", token, methods=["POST"])])
    with serve_in_thread(app) as base_url:
        yield base_url, presented


async def test_response_without_refresh_token_keeps_the_old_one(
    setup: Setup,
    store: TokenStore,
    clock: OffsetClock,
    non_rotating_server: tuple[str, list[str]],
) -> None:
    base_url, presented = non_rotating_server
    original = TokenSet(
        access_token="access-0",
        expires_at=clock() - 1,
        refresh_token="ory_rt_keep-me",
        scopes=frozenset({"openid", "read:self"}),
    )
    await store.save("creator-1", original, expected_generation=0)
    other = Setup(setup.redis_url, base_url, setup.key)
    async with open_manager(other, clock, store=store) as manager:
        assert await manager.access_token("creator-1") == "access-1"
        kept = await stored(manager, "creator-1")
        assert kept.refresh_token == "ory_rt_keep-me"
        assert kept.scopes == original.scopes
        assert await manager.refresh("creator-1", force=True) is RefreshOutcome.REFRESHED
    assert presented == ["ory_rt_keep-me", "ory_rt_keep-me"]


# --- typed outcomes ---------------------------------------------------------------------------


async def test_invalid_grant_requires_reauthorization_and_fires_the_hook_once(
    setup: Setup, emulator: EmulatorHandle, store: TokenStore, clock: OffsetClock
) -> None:
    calls: list[tuple[str, str]] = []

    async def hook(creator: str, reason: str) -> None:
        await asyncio.sleep(0)
        calls.append((creator, reason))

    async with open_manager(setup, clock, store=store, on_reauthorization_required=hook) as manager:
        creator = await seed(emulator, manager, clock)
        emulator.control("DELETE", f"/creators/{creator}/consent")  # kills the chain
        clock.offset = ROUND_SECONDS

        async def call() -> ReauthorizationRequired:
            with pytest.raises(ReauthorizationRequired) as caught:
                await manager.access_token(creator)
            return caught.value

        errors = await asyncio.gather(*(call() for _ in range(20)))
        assert {(error.reason, error.creator) for error in errors} == {("invalid_grant", creator)}
        assert calls == [(creator, "invalid_grant")]
        assert await store.load(creator) is None
        mark = await store.reauthorization_mark(creator)
        assert mark is not None
        assert mark.reason == "invalid_grant"
        assert await store.due_for_keepalive(clock() + 10 * ROUND_SECONDS, 10) == []
        # Later callers are told at once, without another request or hook call.
        with pytest.raises(ReauthorizationRequired):
            await manager.access_token(creator)
        assert calls == [(creator, "invalid_grant")]
    assert emulator.counters()["refresh_requests"] == 1


async def test_reexchange_after_reauthorization_recovers(
    emulator: EmulatorHandle, manager: TokenManager, clock: OffsetClock
) -> None:
    creator = await seed(emulator, manager, clock)
    emulator.control("DELETE", f"/creators/{creator}/consent")
    with pytest.raises(ReauthorizationRequired):
        await manager.refresh(creator, force=True)
    # The creator approves again in Fanvue and reopens the app: a fresh chain.
    emulator.control("PUT", f"/creators/{creator}/consent")
    assert await seed(emulator, manager, clock) == creator
    assert await manager.store.reauthorization_mark(creator) is None
    assert await manager.refresh(creator, force=True) is RefreshOutcome.REFRESHED
    user = await manager.client(creator).get_current_user()
    assert user.uuid == creator
    assert emulator.counters()["chain_breaks"] == 0


async def test_invalid_client_raises_and_keeps_tokens(
    emulator: EmulatorHandle, manager: TokenManager, clock: OffsetClock
) -> None:
    creator = await seed(emulator, manager, clock)
    before = await manager.store.load(creator)
    emulator.control("PATCH", "/app", json={"client_secret": "changed-in-the-console"})
    with pytest.raises(ClientAuthenticationError):
        await manager.refresh(creator, force=True)
    assert await manager.store.load(creator) == before
    assert await manager.store.reauthorization_mark(creator) is None


async def test_server_error_is_transient_and_the_next_call_succeeds(
    emulator: EmulatorHandle, manager: TokenManager, clock: OffsetClock
) -> None:
    creator = await seed(emulator, manager, clock)
    before = await manager.store.load(creator)
    assert before is not None
    clock.offset = ROUND_SECONDS
    emulator.faults(fail_next={"token": 1})
    with pytest.raises(TransientError):
        await manager.access_token(creator)
    assert await manager.store.load(creator) == before
    token = await manager.access_token(creator)
    assert token != before.tokens.access_token
    assert emulator.counters()["rotations"] == 1


async def test_concurrent_refresh_rejection_is_retried_transparently(
    emulator: EmulatorHandle, manager: TokenManager, clock: OffsetClock
) -> None:
    creator = await seed(emulator, manager, clock)
    old = await stored(manager, creator)
    emulator.faults(reject_next_refresh=1)
    clock.offset = ROUND_SECONDS
    assert await manager.access_token(creator) != old.access_token
    counters = emulator.counters()
    assert counters["concurrent_rejections"] == 1
    assert counters["refresh_requests"] == 2
    assert counters["rotations"] == 1


async def test_api_client_refreshes_once_on_401_and_retries(
    emulator: EmulatorHandle, manager: TokenManager, clock: OffsetClock
) -> None:
    creator = await seed(emulator, manager, clock)
    old = await stored(manager, creator)
    api = manager.client(creator)
    assert (await api.get_current_user()).uuid == creator
    emulator.control("POST", f"/creators/{creator}/expire-access-tokens")
    user = await api.get_current_user()  # 401, one refresh, one retry
    assert user.uuid == creator
    assert (await stored(manager, creator)).access_token != old.access_token
    counters = emulator.counters()
    assert counters["refresh_requests"] == 1
    assert counters["calls"]["GET /users/me"] == 3
