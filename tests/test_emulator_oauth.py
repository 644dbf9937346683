"""Emulator conformance: Hydra's token endpoint, rotation, and the standard flow (DESIGN §1)."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from fanvue_embedded._devdefaults import DEV_CLIENT_ID, DEV_CLIENT_SECRET, DEV_REDIRECT_URI
from fanvue_embedded.emulator import Emulator, EmulatorConfig
from fanvue_embedded.emulator.tokens import verify_jwt
from tests.emulator_kit import (
    JSON,
    LUNA,
    api_get,
    basic,
    client_for,
    code_for,
    exchange,
    pkce,
    refresh,
    tokens_for,
)

pytestmark = pytest.mark.anyio
OTHER_URI = "http://127.0.0.1:9000/other"


@pytest.fixture
def emu() -> Emulator:
    return Emulator(EmulatorConfig(redirect_uris=(DEV_REDIRECT_URI, OTHER_URI)))


@pytest.fixture
async def client(emu: Emulator) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(emu) as c:
        yield c


# -- client authentication -------------------------------------------------------------


def test_dev_secret_has_reserved_characters() -> None:
    # The encoded and raw Basic headers only differ because of these characters.
    assert basic(encode=True) != basic(encode=False)


async def test_code_exchange_returns_the_full_token_set(
    client: httpx.AsyncClient, emu: Emulator
) -> None:
    body = await tokens_for(client, emu)
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 3600
    assert body["refresh_token"].startswith("ory_rt_")
    assert body["access_token"].startswith("eyJ")
    assert set(body["scope"].split()) >= {"openid", "offline_access", "offline", "read:self"}
    claims = verify_jwt(emu.config.signing_key, body["access_token"])
    assert claims["sub"] == emu.creator(LUNA).uuid
    assert claims["client_id"] == DEV_CLIENT_ID
    assert "read:self" in claims["scp"]
    assert verify_jwt(emu.config.signing_key, body["id_token"])["aud"] == [DEV_CLIENT_ID]
    assert emu.counters["code_exchanges"] == 1


async def test_raw_unencoded_basic_credentials_are_rejected(
    client: httpx.AsyncClient, emu: Emulator
) -> None:
    code, verifier = await code_for(client, emu)
    response = await exchange(client, code, verifier, headers=basic(encode=False))
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"
    assert response.headers["WWW-Authenticate"].startswith("Basic")
    # The code was not consumed by the refused request.
    assert (await exchange(client, code, verifier)).status_code == 200


@pytest.mark.parametrize(
    "headers",
    [
        {},
        basic(secret="wrong"),
        basic(client_id="someone-else"),
        {"Authorization": "Basic !!!notbase64"},
        {"Authorization": "Basic " + base64.b64encode(b"no-colon").decode()},
        {"Authorization": "Bearer abc"},
    ],
)
async def test_wrong_client_credentials_are_401(
    client: httpx.AsyncClient, emu: Emulator, headers: dict[str, str]
) -> None:
    code, verifier = await code_for(client, emu)
    form = {"grant_type": "authorization_code", "code": code, "code_verifier": verifier}
    response = await client.post("/oauth2/token", data=form, headers=headers)
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"
    assert emu.counters["invalid_client"] == 1


async def test_client_secret_post_is_rejected(client: httpx.AsyncClient, emu: Emulator) -> None:
    code, verifier = await code_for(client, emu)
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": DEV_REDIRECT_URI,
        "code_verifier": verifier,
        "client_id": DEV_CLIENT_ID,
        "client_secret": DEV_CLIENT_SECRET,
    }
    response = await client.post("/oauth2/token", data=form, headers=basic())
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"


async def test_token_endpoint_wants_a_form(client: httpx.AsyncClient, emu: Emulator) -> None:
    response = await client.post(
        "/oauth2/token", json={"grant_type": "refresh_token"}, headers=basic()
    )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


async def test_unknown_grant_type(client: httpx.AsyncClient) -> None:
    response = await client.post("/oauth2/token", data={"grant_type": "password"}, headers=basic())
    assert response.status_code == 400
    assert response.json()["error"] == "unsupported_grant_type"


# -- authorization codes ---------------------------------------------------------------


async def test_code_is_single_use(client: httpx.AsyncClient, emu: Emulator) -> None:
    code, verifier = await code_for(client, emu)
    assert (await exchange(client, code, verifier)).status_code == 200
    again = await exchange(client, code, verifier)
    assert again.status_code == 400
    assert again.json()["error"] == "invalid_grant"


async def test_code_expires(client: httpx.AsyncClient, emu: Emulator) -> None:
    code, verifier = await code_for(client, emu)
    emu.advance_clock(61)
    response = await exchange(client, code, verifier)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"


async def test_pkce_mismatch_is_invalid_grant(client: httpx.AsyncClient, emu: Emulator) -> None:
    code, _verifier = await code_for(client, emu)
    other_verifier, _ = pkce()
    response = await exchange(client, code, other_verifier)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"


async def test_unknown_code_is_invalid_grant(client: httpx.AsyncClient) -> None:
    response = await exchange(client, "ory_ac_nope", pkce()[0])
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"


@pytest.mark.parametrize("uri", [DEV_REDIRECT_URI + "/", "http://evil.test/cb", ""])
async def test_aob_code_needs_a_registered_redirect_uri(
    client: httpx.AsyncClient, emu: Emulator, uri: str
) -> None:
    code, verifier = await code_for(client, emu)
    response = await exchange(client, code, verifier, redirect_uri=uri)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"


async def test_aob_code_accepts_any_registered_redirect_uri(
    client: httpx.AsyncClient, emu: Emulator
) -> None:
    code, verifier = await code_for(client, emu)
    assert (await exchange(client, code, verifier, redirect_uri=OTHER_URI)).status_code == 200


# -- standard flow ---------------------------------------------------------------------


def _auth_params(challenge: str, **overrides: str) -> dict[str, str]:
    params = {
        "client_id": DEV_CLIENT_ID,
        "redirect_uri": DEV_REDIRECT_URI,
        "response_type": "code",
        "scope": "openid offline_access read:self",
        "state": "std-state",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    return {**params, **overrides}


def _query(response: httpx.Response) -> dict[str, str]:
    assert response.status_code == 302
    return {k: v[0] for k, v in parse_qs(urlsplit(response.headers["location"]).query).items()}


async def test_standard_flow_approves_and_binds_the_redirect_uri(
    client: httpx.AsyncClient,
) -> None:
    verifier, challenge = pkce()
    response = await client.get("/oauth2/auth", params=_auth_params(challenge))
    assert response.headers["location"].startswith(DEV_REDIRECT_URI + "?")
    query = _query(response)
    assert query["state"] == "std-state"
    wrong = await exchange(client, query["code"], verifier, redirect_uri=OTHER_URI)
    assert wrong.json()["error"] == "invalid_grant"
    ok = await exchange(client, query["code"], verifier)
    assert ok.status_code == 200
    assert ok.json()["scope"] == "openid offline_access read:self"


async def test_standard_flow_deny(client: httpx.AsyncClient) -> None:
    await client.patch("/_emulator/settings", json={"standard_flow_decision": "deny"})
    response = await client.get("/oauth2/auth", params=_auth_params(pkce()[1]))
    assert _query(response) == {"error": "access_denied", "state": "std-state"}


async def test_standard_flow_scope_beyond_registration(client: httpx.AsyncClient) -> None:
    params = _auth_params(pkce()[1], scope="openid write:agency")
    assert _query(await client.get("/oauth2/auth", params=params))["error"] == "invalid_scope"


@pytest.mark.parametrize(
    "override",
    [{"client_id": "nobody"}, {"redirect_uri": "http://evil.test/cb"}],
)
async def test_standard_flow_never_redirects_to_unregistered(
    client: httpx.AsyncClient, override: dict[str, str]
) -> None:
    response = await client.get("/oauth2/auth", params=_auth_params(pkce()[1], **override))
    assert response.status_code == 400
    assert "location" not in response.headers


# -- refresh rotation ------------------------------------------------------------------


async def test_rotation_kills_the_old_token_after_grace(
    client: httpx.AsyncClient, emu: Emulator
) -> None:
    first = await tokens_for(client, emu)
    rotated = await refresh(client, first["refresh_token"])
    assert rotated.status_code == 200
    new = rotated.json()
    assert new["refresh_token"] != first["refresh_token"]
    assert new["scope"] == first["scope"]
    emu.advance_clock(31)
    reused = await refresh(client, first["refresh_token"])
    assert reused.status_code == 400
    assert reused.json()["error"] == "invalid_grant"
    # The whole chain is dead: the newest token is refused too.
    current = await refresh(client, new["refresh_token"])
    assert current.json()["error"] == "invalid_grant"
    counters = emu.counters
    assert counters["chain_breaks"] == 1
    assert counters["chain_breaks_by_cause"] == {"reuse_after_grace": 1}
    assert counters["rotations"] == 1
    assert counters["refresh_requests"] == 3


async def test_replay_mode_returns_the_first_response(
    client: httpx.AsyncClient, emu: Emulator
) -> None:
    first = await tokens_for(client, emu)
    rotated = (await refresh(client, first["refresh_token"])).json()
    emu.advance_clock(29)
    replayed = await refresh(client, first["refresh_token"])
    assert replayed.status_code == 200
    assert replayed.json() == rotated
    assert emu.counters["grace_reuses"] == 1
    # The chain is intact: the successor still rotates.
    assert (await refresh(client, rotated["refresh_token"])).status_code == 200


async def test_new_pair_mode_issues_another_valid_pair(
    client: httpx.AsyncClient, emu: Emulator
) -> None:
    await client.patch("/_emulator/settings", json={"rotation_mode": "new-pair"})
    first = await tokens_for(client, emu)
    rotated = (await refresh(client, first["refresh_token"])).json()
    second = await refresh(client, first["refresh_token"])
    assert second.status_code == 200
    sibling = second.json()
    assert sibling["refresh_token"] not in (rotated["refresh_token"], first["refresh_token"])
    assert emu.counters["grace_reuses"] == 1
    # Both successors are valid (documented choice: siblings until used).
    assert (await refresh(client, sibling["refresh_token"])).status_code == 200
    assert (await refresh(client, rotated["refresh_token"])).status_code == 200


async def test_grace_window_follows_settings(client: httpx.AsyncClient, emu: Emulator) -> None:
    await client.patch("/_emulator/settings", json={"grace_seconds": 5})
    first = await tokens_for(client, emu)
    await refresh(client, first["refresh_token"])
    emu.advance_clock(6)
    assert (await refresh(client, first["refresh_token"])).json()["error"] == "invalid_grant"


async def test_unknown_refresh_token_is_invalid_grant(client: httpx.AsyncClient) -> None:
    response = await refresh(client, "ory_rt_unknown")
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"


async def test_refresh_token_expires(client: httpx.AsyncClient, emu: Emulator) -> None:
    first = await tokens_for(client, emu)
    emu.advance_clock(emu.config.refresh_token_ttl + 1)
    assert (await refresh(client, first["refresh_token"])).json()["error"] == "invalid_grant"


async def test_revoking_consent_kills_the_chain(client: httpx.AsyncClient, emu: Emulator) -> None:
    first = await tokens_for(client, emu)
    luna = emu.creator(LUNA).uuid
    assert (
        await client.delete(f"/_emulator/creators/{luna}/consent", headers=JSON)
    ).status_code == 200
    response = await refresh(client, first["refresh_token"])
    assert response.json()["error"] == "invalid_grant"
    assert emu.counters["chain_breaks_by_cause"] == {"consent_revoked": 1}
    # Access tokens are JWTs and are not revoked: the held one keeps working until it expires.
    assert (await api_get(client, "/users/me", first["access_token"])).status_code == 200


async def test_refreshed_access_token_works(client: httpx.AsyncClient, emu: Emulator) -> None:
    first = await tokens_for(client, emu)
    emu.advance_clock(3601)
    assert (await api_get(client, "/users/me", first["access_token"])).status_code == 401
    new = (await refresh(client, first["refresh_token"])).json()
    assert (await api_get(client, "/users/me", new["access_token"])).status_code == 200
