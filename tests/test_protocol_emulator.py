"""The protocol core against the emulator over a real socket: every client call and its errors."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from fanvue_embedded import errors
from fanvue_embedded._devdefaults import DEV_CLIENT_ID, DEV_CLIENT_SECRET, DEV_REDIRECT_URI
from fanvue_embedded.client import FanvueClient
from fanvue_embedded.oauth import OAuthClient
from fanvue_embedded.pkce import code_challenge_s256, generate_code_verifier, generate_state
from fanvue_embedded.platform import PlatformClient
from tests.support.emulator import EmulatorHandle
from tests.support.servers import free_port

pytestmark = pytest.mark.anyio

SCOPES = ("read:self", "read:fan", "read:chat")


@pytest.fixture
async def oauth(emulator: EmulatorHandle) -> AsyncIterator[OAuthClient]:
    client = OAuthClient(
        client_id=DEV_CLIENT_ID,
        client_secret=DEV_CLIENT_SECRET,
        issuer_base_url=emulator.base_url,
        redirect_uri=DEV_REDIRECT_URI,
        scopes=SCOPES,
    )
    yield client
    await client.aclose()


@pytest.fixture
async def platform(emulator: EmulatorHandle) -> AsyncIterator[PlatformClient]:
    client = PlatformClient(platform_url=emulator.base_url)
    yield client
    await client.aclose()


async def authorize(
    emulator: EmulatorHandle, platform: PlatformClient, creator: str = "luna.rivers"
) -> tuple[str, str]:
    verifier = generate_code_verifier()
    code = await platform.authorize_on_behalf(
        emulator.session_token(creator), code_challenge_s256(verifier), generate_state()
    )
    return code, verifier


async def test_full_embedded_flow(
    emulator: EmulatorHandle, oauth: OAuthClient, platform: PlatformClient
) -> None:
    code, verifier = await authorize(emulator, platform)
    # The dev secret is full of reserved characters: success proves RFC 6749 §2.3.1 encoding.
    tokens = await oauth.exchange_code(code, verifier)
    assert tokens.access_token.startswith("eyJ")
    assert tokens.refresh_token
    assert tokens.id_token
    assert {"openid", "offline_access", "read:self"} <= tokens.scopes
    async with FanvueClient(tokens.access_token, api_base_url=emulator.base_url) as api:
        user = await api.get_current_user()
    assert user.handle == "luna.rivers"
    assert user.uuid == emulator.creator_uuid()
    refreshed = await oauth.refresh(tokens.refresh_token)
    assert refreshed.refresh_token not in (None, tokens.refresh_token)
    assert refreshed.access_token != tokens.access_token
    counters = emulator.counters()
    assert counters["code_exchanges"] == 1
    assert counters["rotations"] == 1
    assert counters["chain_breaks"] == 0


async def test_wrong_client_secret_is_invalid_client(
    emulator: EmulatorHandle, platform: PlatformClient
) -> None:
    code, verifier = await authorize(emulator, platform)
    wrong = OAuthClient(
        client_id=DEV_CLIENT_ID,
        client_secret="dev-client-secret:not for/production%use",  # '+' decoded: not the same
        issuer_base_url=emulator.base_url,
        redirect_uri=DEV_REDIRECT_URI,
    )
    try:
        with pytest.raises(errors.ClientAuthenticationError) as info:
            await wrong.exchange_code(code, verifier)
    finally:
        await wrong.aclose()
    assert info.value.code == "invalid_client"
    assert emulator.counters()["invalid_client"] == 1


async def test_session_token_errors(emulator: EmulatorHandle, platform: PlatformClient) -> None:
    challenge = code_challenge_s256(generate_code_verifier())
    token = emulator.session_token()
    await platform.authorize_on_behalf(token, challenge, "state-1")
    with pytest.raises(errors.InvalidSessionToken):  # single-use
        await platform.authorize_on_behalf(token, challenge, "state-2")
    stale = emulator.session_token()
    emulator.advance(61)
    with pytest.raises(errors.InvalidSessionToken) as info:  # ~60 s lifetime
        await platform.authorize_on_behalf(stale, challenge, "state-3")
    assert info.value.code == "invalid_session_token"
    forged = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    with pytest.raises(errors.InvalidSessionToken):
        await platform.authorize_on_behalf(forged, challenge, "state-4")


async def test_consent_required(emulator: EmulatorHandle, platform: PlatformClient) -> None:
    with pytest.raises(errors.ConsentRequired) as info:
        await authorize(emulator, platform, creator="max.stone")
    assert info.value.code == "consent_required"
    uuid = emulator.creator_uuid("max.stone")
    emulator.control("PUT", f"/creators/{uuid}/consent")
    code, _ = await authorize(emulator, platform, creator="max.stone")
    assert code.startswith("ory_ac_")


async def test_code_is_single_use_and_pkce_checked(
    emulator: EmulatorHandle, oauth: OAuthClient, platform: PlatformClient
) -> None:
    code, verifier = await authorize(emulator, platform)
    with pytest.raises(errors.ReauthorizationRequired):
        await oauth.exchange_code(code, generate_code_verifier())  # wrong verifier
    code, verifier = await authorize(emulator, platform)
    await oauth.exchange_code(code, verifier)
    with pytest.raises(errors.ReauthorizationRequired) as info:
        await oauth.exchange_code(code, verifier)
    assert info.value.reason == "invalid_grant"


@pytest.mark.parametrize("mode", ["replay", "new-pair"])
async def test_rotation_grace_then_chain_break(
    emulator: EmulatorHandle, oauth: OAuthClient, platform: PlatformClient, mode: str
) -> None:
    emulator.settings(rotation_mode=mode)
    code, verifier = await authorize(emulator, platform)
    first = await oauth.exchange_code(code, verifier)
    assert first.refresh_token
    second = await oauth.refresh(first.refresh_token)
    emulator.advance(10)
    again = await oauth.refresh(first.refresh_token)  # inside the 30 s grace: accepted
    if mode == "replay":
        assert again.refresh_token == second.refresh_token
    else:
        assert again.refresh_token != second.refresh_token
    emulator.advance(31)
    with pytest.raises(errors.ReauthorizationRequired):
        await oauth.refresh(first.refresh_token)  # after the window: the chain dies
    newest = again.refresh_token
    assert newest
    with pytest.raises(errors.ReauthorizationRequired):
        await oauth.refresh(newest)  # ...including its newest token
    counters = emulator.counters()
    assert counters["grace_reuses"] == 1
    assert counters["chain_breaks"] == 1


async def test_retryable_and_protocol_errors(
    emulator: EmulatorHandle, oauth: OAuthClient, platform: PlatformClient
) -> None:
    code, verifier = await authorize(emulator, platform)
    tokens = await oauth.exchange_code(code, verifier)
    assert tokens.refresh_token
    emulator.faults(reject_next_refresh=1)
    with pytest.raises(errors.ConcurrentRefreshError) as concurrent:
        await oauth.refresh(tokens.refresh_token)
    assert isinstance(concurrent.value, errors.TransientError)
    emulator.faults(fail_next={"token": 1})
    with pytest.raises(errors.UpstreamServerError):
        await oauth.refresh(tokens.refresh_token)
    emulator.faults(malformed_token_response=1)
    with pytest.raises(errors.ProtocolError):
        await oauth.refresh(tokens.refresh_token)
    # None of those rotated: the original token still works.
    assert (await oauth.refresh(tokens.refresh_token)).access_token


async def test_unreachable_server_is_upstream_unavailable() -> None:
    port = free_port()
    oauth = OAuthClient(
        client_id="c",
        client_secret="x" * 20,
        issuer_base_url=f"http://127.0.0.1:{port}",
        redirect_uri=DEV_REDIRECT_URI,
    )
    platform = PlatformClient(platform_url=f"http://127.0.0.1:{port}")
    try:
        with pytest.raises(errors.UpstreamUnavailable):
            await oauth.refresh("ory_rt_x")
        with pytest.raises(errors.UpstreamUnavailable):
            await platform.authorize_on_behalf("eyJx", "c" * 43, "s")
    finally:
        await oauth.aclose()
        await platform.aclose()


async def fresh_tokens(
    emulator: EmulatorHandle, oauth: OAuthClient, platform: PlatformClient
) -> tuple[str, str]:
    code, verifier = await authorize(emulator, platform)
    tokens = await oauth.exchange_code(code, verifier)
    assert tokens.refresh_token
    return tokens.access_token, tokens.refresh_token


async def test_api_version_header_and_errors(
    emulator: EmulatorHandle, oauth: OAuthClient, platform: PlatformClient
) -> None:
    access, _ = await fresh_tokens(emulator, oauth, platform)
    async with FanvueClient(
        access, api_base_url=emulator.base_url, api_version="1999-01-01"
    ) as api:
        with pytest.raises(errors.BadRequestError):
            await api.get_current_user()
    async with FanvueClient(
        access, api_base_url=emulator.base_url, api_version="2024-01-01"
    ) as api:
        with pytest.raises(errors.APIVersionGoneError):
            await api.get_current_user()
    async with FanvueClient(access, api_base_url=emulator.base_url) as api:
        with pytest.raises(errors.NotFoundError):
            await api.get("/no-such-endpoint")
        emulator.control("POST", f"/creators/{emulator.creator_uuid()}/expire-access-tokens")
        with pytest.raises(errors.UnauthorizedError):
            await api.get_current_user()


async def test_401_triggers_one_refresh_and_retry(
    emulator: EmulatorHandle, oauth: OAuthClient, platform: PlatformClient
) -> None:
    access, refresh = await fresh_tokens(emulator, oauth, platform)
    current = {"access": access, "refresh": refresh}
    rejected_tokens: list[str | None] = []

    async def provider(*, rejected: str | None = None) -> str:
        rejected_tokens.append(rejected)
        if rejected is not None:
            fresh = await oauth.refresh(current["refresh"])
            assert fresh.refresh_token
            current.update(access=fresh.access_token, refresh=fresh.refresh_token)
        return current["access"]

    emulator.control("POST", f"/creators/{emulator.creator_uuid()}/expire-access-tokens")
    async with FanvueClient(provider, api_base_url=emulator.base_url) as api:
        user = await api.get_current_user()
    assert user.handle == "luna.rivers"
    assert rejected_tokens == [None, access]
    assert emulator.counters()["rotations"] == 1


async def test_pagination_to_the_end(
    emulator: EmulatorHandle, oauth: OAuthClient, platform: PlatformClient
) -> None:
    access, _ = await fresh_tokens(emulator, oauth, platform)
    async with FanvueClient(access, api_base_url=emulator.base_url) as api:
        # /insights/earnings is cursor-paginated ({data, nextCursor}, size param): 60 rows.
        rows = [item async for item in api.paginate("/insights/earnings", page_size=25)]
    assert len(rows) == 60
    assert len({row["transactionOrderId"] for row in rows}) == 60


async def test_rate_limit_waits_out_retry_after(
    emulator: EmulatorHandle, oauth: OAuthClient, platform: PlatformClient
) -> None:
    access, _ = await fresh_tokens(emulator, oauth, platform)
    emulator.settings(rate_limit=2, rate_window=5)
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        # Waiting is simulated by moving the emulator's clock: no real sleep in tests.
        waits.append(seconds)
        emulator.advance(seconds)

    async with FanvueClient(access, api_base_url=emulator.base_url, sleep=sleep) as api:
        for _ in range(3):
            await api.get_current_user()
        assert api.last_rate_limit is not None
        assert api.last_rate_limit.limit == 2
    assert len(waits) == 1
    assert 0 < waits[0] <= 5
    assert emulator.counters()["rate_limited"] == 1
    emulator.settings(rate_window=60)
    async with FanvueClient(
        access, api_base_url=emulator.base_url, sleep=sleep, max_retry_after=10
    ) as api:
        await api.get_current_user()  # the last call this window allows
        with pytest.raises(errors.RateLimitedError) as info:  # a 60 s wait is not waited out
            await api.get_current_user()
    assert len(waits) == 1
    assert info.value.rate_limit["X-RateLimit-Remaining"] == "0"
    assert info.value.retry_after is not None
    assert info.value.retry_after > 10


async def test_scope_missing_is_forbidden(
    emulator: EmulatorHandle, platform: PlatformClient
) -> None:
    emulator.control(
        "PATCH", "/app", json={"scopes": ["openid", "offline_access", "offline", "read:fan"]}
    )
    oauth = OAuthClient(
        client_id=DEV_CLIENT_ID,
        client_secret=DEV_CLIENT_SECRET,
        issuer_base_url=emulator.base_url,
        redirect_uri=DEV_REDIRECT_URI,
        scopes=("read:fan",),
    )
    try:
        access, _ = await fresh_tokens(emulator, oauth, platform)
    finally:
        await oauth.aclose()
    async with FanvueClient(access, api_base_url=emulator.base_url) as api:
        with pytest.raises(errors.ForbiddenError):
            await api.get_current_user()
        page = await api.get("/followers")
    assert isinstance(page["data"], list)


def test_httpx_is_not_mocked_here() -> None:
    # Guard against a future edit swapping in a mock transport for these tests.
    assert httpx.AsyncClient.__module__.startswith("httpx")
