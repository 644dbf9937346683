"""fanvue_embedded.app.signin: the token commit and the app session's record are written at once,
and the sequential order's guarantees hold: no app session unless the tokens were stored and the
hook returned; tokens stored without a session only when the session write itself failed.

Real Redis for whatever works; for whatever must fail, a Redis that is not there (a closed port)
or one at ``maxmemory`` with ``noeviction`` (it answers, and refuses every write).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
import redis

from fanvue_embedded import errors
from fanvue_embedded.app.signin import commit_sign_in
from fanvue_embedded.crypto import Keyring
from fanvue_embedded.ephemeral import RedisEphemeralStore
from fanvue_embedded.exchange import OnTokens, SessionExchange
from fanvue_embedded.models import FanvueUser, TokenSet
from fanvue_embedded.oauth import OAuthClient
from fanvue_embedded.platform import PlatformClient
from fanvue_embedded.sessions import AppSessionManager
from fanvue_embedded.store import RedisTokenStore
from tests.support.emulator import EmulatorHandle
from tests.support.redis_server import run_redis_server
from tests.support.redis_topology import sync_client
from tests.support.servers import free_port

pytestmark = pytest.mark.anyio

SECRET = "a-session-secret-of-at-least-32-characters"


def session_records(redis_url: str) -> list[bytes]:
    """The app-session records in Redis (every master of a cluster)."""
    raw = sync_client(redis_url)
    try:
        return list(raw.scan_iter(match="fve:e:session:*"))
    finally:
        raw.close()


@pytest.fixture
def dead_url() -> str:
    return f"redis://127.0.0.1:{free_port()}"


@pytest.fixture
async def live_tokens(redis_url: str) -> AsyncIterator[RedisTokenStore]:
    store = RedisTokenStore.from_url(redis_url, Keyring.generate_ephemeral())
    yield store
    await store.aclose()


@pytest.fixture
async def dead_tokens(dead_url: str) -> AsyncIterator[RedisTokenStore]:
    store = RedisTokenStore.from_url(dead_url, Keyring.generate_ephemeral())
    yield store
    await store.aclose()


@pytest.fixture
def full_url() -> Iterator[str]:
    """A Redis that refuses every write: ``maxmemory`` below what it already uses."""
    with run_redis_server("--maxmemory-policy", "noeviction") as (url, _proc):
        with redis.Redis.from_url(url) as client:
            client.config_set("maxmemory", 1)
            with pytest.raises(redis.exceptions.OutOfMemoryError):
                client.set("probe", b"x")
        yield url


@pytest.fixture
async def live_sessions(redis_url: str) -> AsyncIterator[AppSessionManager]:
    store = RedisEphemeralStore.from_url(redis_url)
    yield AppSessionManager(secret=SECRET, store=store)
    await store.aclose()


@pytest.fixture
async def full_sessions(full_url: str) -> AsyncIterator[AppSessionManager]:
    store = RedisEphemeralStore.from_url(full_url)
    yield AppSessionManager(secret=SECRET, store=store)
    await store.aclose()


def make_exchange(
    emulator: EmulatorHandle,
    platform: PlatformClient,
    oauth: OAuthClient,
    store: RedisTokenStore,
    on_tokens: OnTokens | None = None,
) -> SessionExchange:
    return SessionExchange(
        platform=platform,
        oauth=oauth,
        store=store,
        api_base_url=emulator.base_url,
        on_tokens=on_tokens,
    )


async def test_both_writes_succeed_and_the_session_is_valid(
    emulator: EmulatorHandle,
    platform: PlatformClient,
    oauth: OAuthClient,
    live_tokens: RedisTokenStore,
    live_sessions: AppSessionManager,
) -> None:
    hooked: list[str] = []
    exchange = make_exchange(
        emulator, platform, oauth, live_tokens, lambda tokens, user: hooked.append(user.uuid)
    )
    authorized = await exchange.authorize(emulator.session_token())
    result, issued = await commit_sign_in(exchange, live_sessions, authorized)
    uuid = emulator.creator_uuid()
    assert result.user.uuid == issued.creator == uuid
    assert hooked == [uuid]
    stored = await live_tokens.load(uuid)
    assert stored is not None
    assert stored.generation == result.generation
    assert stored.tokens.refresh_token == authorized.tokens.refresh_token
    session = await live_sessions.verify(issued.token)
    assert session.creator == uuid


async def test_a_failed_token_commit_leaves_no_app_session(
    emulator: EmulatorHandle,
    platform: PlatformClient,
    oauth: OAuthClient,
    dead_tokens: RedisTokenStore,
    live_sessions: AppSessionManager,
    redis_url: str,
) -> None:
    hooked: list[str] = []
    exchange = make_exchange(
        emulator, platform, oauth, dead_tokens, lambda tokens, user: hooked.append(user.uuid)
    )
    authorized = await exchange.authorize(emulator.session_token())
    with pytest.raises(errors.StoreUnavailable):
        await commit_sign_in(exchange, live_sessions, authorized)
    # The record written next to the failed commit was deleted again; the hook never ran.
    assert session_records(redis_url) == []
    assert hooked == []


async def test_a_failing_hook_leaves_no_app_session(
    emulator: EmulatorHandle,
    platform: PlatformClient,
    oauth: OAuthClient,
    live_tokens: RedisTokenStore,
    live_sessions: AppSessionManager,
    redis_url: str,
) -> None:
    def refuse(tokens: TokenSet, user: FanvueUser) -> None:
        raise RuntimeError("the application's hook failed")

    exchange = make_exchange(emulator, platform, oauth, live_tokens, refuse)
    authorized = await exchange.authorize(emulator.session_token())
    with pytest.raises(RuntimeError, match="hook failed"):
        await commit_sign_in(exchange, live_sessions, authorized)
    # As when the session came second: the tokens were stored before the hook ran, no session.
    assert await live_tokens.load(authorized.user.uuid) is not None
    assert session_records(redis_url) == []


async def test_a_failed_session_write_keeps_the_stored_tokens(
    emulator: EmulatorHandle,
    platform: PlatformClient,
    oauth: OAuthClient,
    live_tokens: RedisTokenStore,
    full_sessions: AppSessionManager,
    full_url: str,
) -> None:
    exchange = make_exchange(emulator, platform, oauth, live_tokens)
    authorized = await exchange.authorize(emulator.session_token())
    with pytest.raises(errors.StoreFull):
        await commit_sign_in(exchange, full_sessions, authorized)
    # The chain is stored (the next open signs in again over it); only the session is missing.
    stored = await live_tokens.load(authorized.user.uuid)
    assert stored is not None
    assert stored.tokens.refresh_token == authorized.tokens.refresh_token
    assert session_records(full_url) == []


async def test_when_both_writes_fail_the_commits_error_is_the_answer(
    emulator: EmulatorHandle,
    platform: PlatformClient,
    oauth: OAuthClient,
    dead_tokens: RedisTokenStore,
    full_sessions: AppSessionManager,
) -> None:
    exchange = make_exchange(emulator, platform, oauth, dead_tokens)
    authorized = await exchange.authorize(emulator.session_token())
    with pytest.raises(errors.StoreUnavailable) as raised:
        await commit_sign_in(exchange, full_sessions, authorized)
    # The token store's outage, not the session store's refusal (StoreFull).
    assert type(raised.value) is errors.StoreUnavailable
