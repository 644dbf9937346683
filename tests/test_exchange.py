"""fanvue_embedded.exchange: SessionExchange against the emulator over a real socket, storing
in real Redis. Nothing is stored unless every step succeeded; the hook sees what was stored."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from fanvue_embedded import errors
from fanvue_embedded.crypto import Keyring
from fanvue_embedded.exchange import DEFAULT_KEEPALIVE_INTERVAL, SessionExchange
from fanvue_embedded.models import FanvueUser, TokenSet
from fanvue_embedded.oauth import OAuthClient
from fanvue_embedded.platform import PlatformClient
from fanvue_embedded.store import RedisTokenStore
from tests.support.emulator import EmulatorHandle

pytestmark = pytest.mark.anyio

NOW = 1_800_000_000.0


@pytest.fixture
async def store(redis_url: str) -> AsyncIterator[RedisTokenStore]:
    store = RedisTokenStore.from_url(redis_url, Keyring.generate_ephemeral())
    yield store
    await store.aclose()


def make_exchange(
    emulator: EmulatorHandle,
    platform: PlatformClient,
    oauth: OAuthClient,
    store: RedisTokenStore,
    hooked: list[tuple[TokenSet, FanvueUser]] | None = None,
    *,
    async_hook: bool = False,
) -> SessionExchange:
    def hook(tokens: TokenSet, user: FanvueUser) -> None:
        assert hooked is not None
        hooked.append((tokens, user))

    async def async_hook_(tokens: TokenSet, user: FanvueUser) -> None:
        hook(tokens, user)

    return SessionExchange(
        platform=platform,
        oauth=oauth,
        store=store,
        api_base_url=emulator.base_url,
        on_tokens=None if hooked is None else (async_hook_ if async_hook else hook),
        clock=lambda: NOW,
    )


@pytest.mark.parametrize("async_hook", [False, True])
async def test_exchange_stores_the_chain_under_the_creator_and_calls_the_hook(
    emulator: EmulatorHandle,
    platform: PlatformClient,
    oauth: OAuthClient,
    store: RedisTokenStore,
    async_hook: bool,
) -> None:
    hooked: list[tuple[TokenSet, FanvueUser]] = []
    exchange = make_exchange(emulator, platform, oauth, store, hooked, async_hook=async_hook)
    result = await exchange.exchange(emulator.session_token("luna.rivers"))
    uuid = emulator.creator_uuid("luna.rivers")
    assert result.user.uuid == uuid
    assert result.user.handle == "luna.rivers"
    assert result.generation == 1
    stored = await store.load(uuid)
    assert stored is not None
    assert stored.tokens.refresh_token == result.tokens.refresh_token
    assert stored.tokens.access_token == result.tokens.access_token
    assert hooked == [(result.tokens, result.user)]
    # The first keepalive is one interval after the exchange (the clock given).
    assert await store.due_for_keepalive(NOW + DEFAULT_KEEPALIVE_INTERVAL - 1, 10) == []
    assert await store.due_for_keepalive(NOW + DEFAULT_KEEPALIVE_INTERVAL, 10) == [uuid]
    counters = emulator.counters()
    assert counters["authorize_on_behalf"] == 1
    assert counters["code_exchanges"] == 1
    assert counters["calls"]["GET /users/me"] == 1


async def test_a_new_exchange_replaces_the_chain_and_its_reauthorization_mark(
    emulator: EmulatorHandle, platform: PlatformClient, oauth: OAuthClient, store: RedisTokenStore
) -> None:
    exchange = make_exchange(emulator, platform, oauth, store)
    first = await exchange.exchange(emulator.session_token())
    uuid = first.user.uuid
    assert await store.mark_reauthorization_required(
        uuid, reason="invalid_grant", now=NOW, expected_generation=first.generation
    )
    assert await store.load(uuid) is None
    second = await exchange.exchange(emulator.session_token())
    assert second.generation > first.generation
    assert second.tokens.refresh_token != first.tokens.refresh_token
    stored = await store.load(uuid)
    assert stored is not None
    assert stored.tokens.refresh_token == second.tokens.refresh_token
    assert await store.reauthorization_mark(uuid) is None


async def test_creators_are_kept_apart(
    emulator: EmulatorHandle, platform: PlatformClient, oauth: OAuthClient, store: RedisTokenStore
) -> None:
    emulator.control("PUT", f"/creators/{emulator.creator_uuid('max.stone')}/consent")
    exchange = make_exchange(emulator, platform, oauth, store)
    luna = await exchange.exchange(emulator.session_token("luna.rivers"))
    max_ = await exchange.exchange(emulator.session_token("max.stone"))
    assert luna.user.uuid != max_.user.uuid
    luna_stored = await store.load(luna.user.uuid)
    max_stored = await store.load(max_.user.uuid)
    assert luna_stored is not None
    assert max_stored is not None
    assert luna_stored.tokens.refresh_token == luna.tokens.refresh_token
    assert max_stored.tokens.refresh_token == max_.tokens.refresh_token


async def test_malformed_session_token_fails_before_any_call(
    emulator: EmulatorHandle, platform: PlatformClient, oauth: OAuthClient, store: RedisTokenStore
) -> None:
    hooked: list[tuple[TokenSet, FanvueUser]] = []
    exchange = make_exchange(emulator, platform, oauth, store, hooked)
    with pytest.raises(errors.InvalidSessionToken):
        await exchange.exchange("not a token")
    assert set(emulator.counters()["calls"]) == {"GET /_emulator/counters"}  # only this call
    assert hooked == []


@pytest.mark.parametrize(
    ("faults", "expected"),
    [
        ({"fail_next": {"platform": 1}}, errors.UpstreamServerError),
        ({"fail_next": {"token": 1}}, errors.UpstreamServerError),
        ({"malformed_token_response": 1}, errors.ProtocolError),
        ({"fail_next": {"api": 1}}, errors.UpstreamServerError),
    ],
    ids=["authorize-on-behalf", "code-exchange", "token-response", "users-me"],
)
async def test_nothing_is_stored_unless_every_step_succeeded(
    emulator: EmulatorHandle,
    platform: PlatformClient,
    oauth: OAuthClient,
    store: RedisTokenStore,
    faults: dict[str, object],
    expected: type[Exception],
) -> None:
    hooked: list[tuple[TokenSet, FanvueUser]] = []
    exchange = make_exchange(emulator, platform, oauth, store, hooked)
    emulator.faults(**faults)
    with pytest.raises(expected):
        await exchange.exchange(emulator.session_token())
    assert await store.load(emulator.creator_uuid()) is None
    assert [creator async for creator in store.iter_creators()] == []
    assert hooked == []


async def test_consent_refusal_keeps_its_typed_meaning(
    emulator: EmulatorHandle, platform: PlatformClient, oauth: OAuthClient, store: RedisTokenStore
) -> None:
    exchange = make_exchange(emulator, platform, oauth, store)
    with pytest.raises(errors.ConsentRequired):
        await exchange.exchange(emulator.session_token("max.stone"))
    assert await store.load(emulator.creator_uuid("max.stone")) is None
