"""Emulator conformance: session tokens and authorize-on-behalf (DESIGN §1)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from fanvue_embedded.emulator import Emulator
from fanvue_embedded.emulator.tokens import s256, sign_jwt, verify_jwt
from tests.emulator_kit import AOB, JSON, LUNA, MAX, authorize_on_behalf, bearer, client_for, pkce

pytestmark = pytest.mark.anyio


@pytest.fixture
def emu() -> Emulator:
    return Emulator()


@pytest.fixture
async def client(emu: Emulator) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(emu) as c:
        yield c


def test_s256_matches_rfc7636_vector() -> None:
    verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
    assert s256(verifier) == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"


def test_session_token_is_a_signed_jwt(emu: Emulator) -> None:
    token = emu.session_token(LUNA)
    assert token.startswith("eyJ")
    claims = verify_jwt(emu.config.signing_key, token)
    assert claims["sub"] == emu.creator(LUNA).uuid
    assert claims["exp"] - claims["iat"] == pytest.approx(60)


async def test_aob_returns_code_and_same_state(client: httpx.AsyncClient, emu: Emulator) -> None:
    _, challenge = pkce()
    response = await authorize_on_behalf(client, emu.session_token(LUNA), challenge, "s-42")
    assert response.status_code == 200
    assert response.json()["state"] == "s-42"
    assert response.json()["code"].startswith("ory_ac_")
    assert emu.counters["authorize_on_behalf"] == 1


async def test_session_token_is_single_use(client: httpx.AsyncClient, emu: Emulator) -> None:
    token = emu.session_token(LUNA)
    _, challenge = pkce()
    assert (await authorize_on_behalf(client, token, challenge)).status_code == 200
    again = await authorize_on_behalf(client, token, challenge)
    assert again.status_code == 401
    assert again.json()["error"] == "invalid_session_token"


async def test_session_token_expires(client: httpx.AsyncClient, emu: Emulator) -> None:
    token = emu.session_token(LUNA)
    emu.advance_clock(61)
    _, challenge = pkce()
    response = await authorize_on_behalf(client, token, challenge)
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_session_token"


@pytest.mark.parametrize("mangle", ["missing", "garbage", "bad-signature", "other-key"])
async def test_bad_session_tokens_are_401(
    client: httpx.AsyncClient, emu: Emulator, mangle: str
) -> None:
    token = emu.session_token(LUNA)
    header, payload, signature = token.split(".")
    headers = {
        "missing": {},
        "garbage": bearer("not-a-token"),
        "bad-signature": bearer(f"{header}.{payload}.{signature[::-1]}"),
        "other-key": bearer(sign_jwt(b"k" * 32, verify_jwt(emu.config.signing_key, token))),
    }[mangle]
    _, challenge = pkce()
    body = {"code_challenge": challenge, "code_challenge_method": "S256", "state": "s"}
    response = await client.post(AOB, headers=headers, json=body)
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_session_token"


@pytest.mark.parametrize(
    "body",
    [
        ["not", "an", "object"],
        {"code_challenge_method": "plain", "state": "s"},
        {"code_challenge_method": "S256", "code_challenge": "short", "state": "s"},
        {"code_challenge_method": "S256", "code_challenge": "a" * 42 + "!", "state": "s"},
        {"code_challenge_method": "S256", "code_challenge": "a" * 43, "state": ""},
        {"code_challenge_method": "S256", "code_challenge": "a" * 43},
    ],
)
async def test_malformed_aob_bodies_are_400_and_keep_the_token(
    client: httpx.AsyncClient, emu: Emulator, body: object
) -> None:
    token = emu.session_token(LUNA)
    response = await client.post(AOB, headers=bearer(token), json=body)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"
    # Refused requests do not consume the single-use token.
    _, challenge = pkce()
    assert (await authorize_on_behalf(client, token, challenge)).status_code == 200


async def test_non_json_body_is_400(client: httpx.AsyncClient, emu: Emulator) -> None:
    response = await client.post(AOB, headers=bearer(emu.session_token(LUNA)), content=b"{nope")
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


async def test_consent_required(client: httpx.AsyncClient, emu: Emulator) -> None:
    token = emu.session_token(MAX)
    _, challenge = pkce()
    response = await authorize_on_behalf(client, token, challenge)
    assert response.status_code == 403
    assert response.json()["error"] == "consent_required"
    # Granting consent in the platform makes the same (unconsumed) token work.
    await client.put(f"/_emulator/creators/{emu.creator(MAX).uuid}/consent", headers=JSON)
    assert (await authorize_on_behalf(client, token, challenge)).status_code == 200
