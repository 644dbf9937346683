"""fanvue_embedded.oauth: building token requests, parsing answers strictly, and OAuthClient
against the emulator's token endpoint over a real socket."""

from __future__ import annotations

import base64
import json
from urllib.parse import parse_qs, unquote_plus, urlsplit

import httpx
import pytest

from fanvue_embedded import errors
from fanvue_embedded._devdefaults import DEV_CLIENT_ID, DEV_CLIENT_SECRET, DEV_REDIRECT_URI
from fanvue_embedded.client import FanvueClient
from fanvue_embedded.oauth import (
    OAuthClient,
    build_code_grant,
    build_refresh_grant,
    client_secret_basic,
    parse_token_response,
)
from fanvue_embedded.pkce import generate_code_verifier
from fanvue_embedded.platform import PlatformClient
from tests.support.emulator import EmulatorHandle
from tests.support.protocol import authorize
from tests.support.servers import free_port

pytestmark = pytest.mark.anyio

RESERVED = "s3cr:et/with+reserved&chars=%20 space?#[]@!$'()*,;é"
VERIFIER = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"


# --- requests and answers (pure) -------------------------------------------------------------


def test_client_secret_basic_form_encodes_before_base64() -> None:
    header = client_secret_basic("my client:id", RESERVED)
    scheme, _, encoded = header.partition(" ")
    assert scheme == "Basic"
    decoded = base64.b64decode(encoded).decode()
    user, _, password = decoded.partition(":")
    # Exactly one unencoded colon separates the two parts; each part round-trips.
    assert decoded.count(":") == 1
    assert unquote_plus(user) == "my client:id"
    assert unquote_plus(password) == RESERVED
    assert " " not in decoded
    assert password.startswith("s3cr%3Aet%2Fwith%2Breserved%26chars%3D%2520+space")


def test_code_grant_request_carries_pkce_and_no_secret_in_body() -> None:
    request = build_code_grant(
        token_endpoint="https://auth.example/oauth2/token",
        client_id="cid",
        client_secret=RESERVED,
        code="ory_ac_abc",
        code_verifier=VERIFIER,
        redirect_uri="https://app.example/cb",
    )
    form = parse_qs(request.body)
    assert form == {
        "grant_type": ["authorization_code"],
        "code": ["ory_ac_abc"],
        "redirect_uri": ["https://app.example/cb"],
        "code_verifier": [VERIFIER],
    }
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert "secret" not in request.body
    assert "client_id" not in request.body
    assert RESERVED not in repr(request)
    assert "ory_ac_abc" not in repr(request)


def test_refresh_grant_request() -> None:
    request = build_refresh_grant(
        token_endpoint="https://auth.example/oauth2/token",
        client_id="cid",
        client_secret="x" * 20,
        refresh_token="ory_rt_1",
    )
    assert parse_qs(request.body) == {
        "grant_type": ["refresh_token"],
        "refresh_token": ["ory_rt_1"],
    }
    with pytest.raises(ValueError, match="empty"):
        build_refresh_grant(
            token_endpoint="https://a/t", client_id="c", client_secret="s", refresh_token=""
        )


def good_body(**changes: object) -> bytes:
    body: dict[str, object] = {
        "access_token": "eyJ.access",
        "token_type": "Bearer",
        "expires_in": 3600,
        "scope": "openid offline_access read:self",
        "refresh_token": "ory_rt_new",
        "id_token": "eyJ.id",
    }
    for key, value in changes.items():
        if value is None:
            body.pop(key, None)
        else:
            body[key] = value
    return json.dumps(body).encode()


def test_parse_token_response_success() -> None:
    tokens = parse_token_response(200, good_body(), now=1000.0)
    assert tokens.access_token == "eyJ.access"
    assert tokens.refresh_token == "ory_rt_new"
    assert tokens.expires_at == 4600.0
    assert tokens.scopes == frozenset({"openid", "offline_access", "read:self"})
    assert tokens.id_token == "eyJ.id"
    assert not tokens.is_expired(60, now=4539.0)
    assert tokens.is_expired(60, now=4541.0)
    assert tokens.has_scope("read:self")


def test_token_response_without_refresh_token_is_accepted() -> None:
    tokens = parse_token_response(200, good_body(refresh_token=None), now=0.0)
    assert tokens.refresh_token is None


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[1, 2]",
        good_body(access_token=None),
        good_body(access_token=""),
        good_body(token_type="mac"),
        good_body(token_type=None),
        good_body(expires_in=0),
        good_body(expires_in=-5),
        good_body(expires_in="3600"),
        good_body(expires_in=True),
        good_body(refresh_token=""),
        good_body(scope=["read:self"]),
    ],
)
def test_malformed_token_response_is_a_protocol_error(body: bytes) -> None:
    with pytest.raises(errors.ProtocolError):
        parse_token_response(200, body, now=0.0)


@pytest.mark.parametrize(
    ("status", "body", "expected", "code"),
    [
        (
            400,
            {"error": "invalid_grant"},
            errors.ReauthorizationRequired,
            "reauthorization_required",
        ),
        (401, {"error": "invalid_client"}, errors.ClientAuthenticationError, "invalid_client"),
        (
            400,
            {
                "error": "invalid_request",
                "error_description": "Multiple concurrent requests using the same token, please retry",
            },
            errors.ConcurrentRefreshError,
            "concurrent_refresh",
        ),
        (400, {"error": "invalid_request"}, errors.OAuthError, "oauth_error"),
        (500, {"error": "server_error"}, errors.UpstreamServerError, "upstream_error"),
        (503, None, errors.UpstreamServerError, "upstream_error"),
        (429, None, errors.RateLimitedError, "rate_limited"),
        (400, None, errors.ProtocolError, "protocol_error"),
    ],
)
def test_token_error_mapping(
    status: int, body: dict[str, str] | None, expected: type[Exception], code: str
) -> None:
    raw = json.dumps(body).encode() if body is not None else b"<html>oops</html>"
    with pytest.raises(expected) as info:
        parse_token_response(status, raw, now=0.0)
    assert isinstance(info.value, errors.FanvueError)
    assert info.value.code == code


async def test_authorization_url_is_s256_with_required_scopes() -> None:
    client = OAuthClient(
        client_id="cid",
        client_secret="x" * 20,
        issuer_base_url="https://auth.example/",
        redirect_uri="https://app.example/cb",
        scopes=("read:self",),
    )
    try:
        url = client.authorization_url(state="st", code_challenge="ch")
    finally:
        await client.aclose()
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == "https://auth.example/oauth2/auth"
    query = parse_qs(parts.query)
    assert query["scope"] == ["openid offline_access offline read:self"]
    assert query["code_challenge_method"] == ["S256"]
    assert query["response_type"] == ["code"]
    assert query["state"] == ["st"]
    assert query["redirect_uri"] == ["https://app.example/cb"]
    assert "x" * 20 not in url


# --- against the emulator ------------------------------------------------------------------


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


async def test_unreachable_token_endpoint_is_upstream_unavailable() -> None:
    oauth = OAuthClient(
        client_id="c",
        client_secret="x" * 20,
        issuer_base_url=f"http://127.0.0.1:{free_port()}",
        redirect_uri=DEV_REDIRECT_URI,
    )
    try:
        with pytest.raises(errors.UpstreamUnavailable):
            await oauth.refresh("ory_rt_x")
    finally:
        await oauth.aclose()


async def test_redirect_uri_must_match_the_authorization(
    emulator: EmulatorHandle, oauth: OAuthClient, platform: PlatformClient
) -> None:
    code, verifier = await authorize(emulator, platform)
    with pytest.raises(errors.ReauthorizationRequired):
        await oauth.exchange_code(code, verifier, redirect_uri="https://elsewhere.example/cb")
    assert emulator.counters()["code_exchanges"] == 0


async def test_empty_grants_are_refused_before_any_call(
    emulator: EmulatorHandle, oauth: OAuthClient
) -> None:
    with pytest.raises(ValueError, match="empty"):
        await oauth.exchange_code("", VERIFIER)
    with pytest.raises(ValueError, match="empty"):
        await oauth.refresh("")
    assert set(emulator.counters()["calls"]) == {"GET /_emulator/counters"}  # only this call


async def test_authorization_url_adds_required_scopes_and_checks_its_arguments(
    oauth: OAuthClient,
) -> None:
    url = oauth.authorization_url(state="st", code_challenge="ch", scopes=["read:chat"])
    query = parse_qs(urlsplit(url).query)
    assert query["scope"] == ["openid offline_access offline read:chat"]
    assert query["client_id"] == [DEV_CLIENT_ID]
    with pytest.raises(ValueError, match="state"):
        oauth.authorization_url(state="", code_challenge="ch")
    with pytest.raises(ValueError, match="code_challenge"):
        oauth.authorization_url(state="st", code_challenge="")


async def test_repr_hides_the_secret_and_a_shared_http_client_stays_open(
    emulator: EmulatorHandle,
) -> None:
    async with httpx.AsyncClient() as http:
        oauth = OAuthClient(
            client_id=DEV_CLIENT_ID,
            client_secret=DEV_CLIENT_SECRET,
            issuer_base_url=emulator.base_url + "/",
            redirect_uri=DEV_REDIRECT_URI,
            http=http,
        )
        assert DEV_CLIENT_SECRET not in repr(oauth)
        assert oauth.token_endpoint == f"{emulator.base_url}/oauth2/token"
        await oauth.aclose()
        assert not http.is_closed
