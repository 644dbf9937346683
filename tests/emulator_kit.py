"""Raw-httpx helpers for the emulator conformance tests (no client module of ours is used)."""

from __future__ import annotations

import base64
import hashlib
import secrets
from typing import Any
from urllib.parse import quote_plus

import httpx

from fanvue_embedded._devdefaults import DEV_CLIENT_ID, DEV_CLIENT_SECRET, DEV_REDIRECT_URI
from fanvue_embedded.emulator import Emulator

AOB = "/api/v1/app-integrations/authorize-on-behalf"
VERSION = {"X-Fanvue-API-Version": "2025-06-26"}
LUNA = "luna.rivers"
MAX = "max.stone"


def client_for(emulator: Emulator) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=emulator), base_url="http://localhost"
    )


def basic(
    client_id: str = DEV_CLIENT_ID, secret: str = DEV_CLIENT_SECRET, *, encode: bool = True
) -> dict[str, str]:
    """client_secret_basic; ``encode=False`` is the common mistake of skipping form-encoding."""
    if encode:
        client_id, secret = quote_plus(client_id), quote_plus(secret)
    raw = f"{client_id}:{secret}".encode()
    return {"Authorization": "Basic " + base64.b64encode(raw).decode()}


def pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def authorize_on_behalf(
    client: httpx.AsyncClient, session_token: str, challenge: str, state: str = "st-123"
) -> httpx.Response:
    body = {"code_challenge": challenge, "code_challenge_method": "S256", "state": state}
    return await client.post(AOB, headers=bearer(session_token), json=body)


async def code_for(
    client: httpx.AsyncClient, emulator: Emulator, creator: str = LUNA
) -> tuple[str, str]:
    """A fresh authorize-on-behalf code and its verifier."""
    verifier, challenge = pkce()
    response = await authorize_on_behalf(client, emulator.session_token(creator), challenge)
    assert response.status_code == 200, response.text
    return response.json()["code"], verifier


async def exchange(
    client: httpx.AsyncClient,
    code: str,
    verifier: str,
    redirect_uri: str = DEV_REDIRECT_URI,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": redirect_uri,
        "code_verifier": verifier,
    }
    return await client.post("/oauth2/token", data=form, headers=headers or basic())


async def tokens_for(
    client: httpx.AsyncClient, emulator: Emulator, creator: str = LUNA
) -> dict[str, Any]:
    code, verifier = await code_for(client, emulator, creator)
    response = await exchange(client, code, verifier)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def refresh(client: httpx.AsyncClient, refresh_token: str) -> httpx.Response:
    form = {"grant_type": "refresh_token", "refresh_token": refresh_token}
    return await client.post("/oauth2/token", data=form, headers=basic())


async def api_get(
    client: httpx.AsyncClient, path: str, access_token: str, **params: Any
) -> httpx.Response:
    return await client.get(path, headers={**VERSION, **bearer(access_token)}, params=params)


JSON = {"Content-Type": "application/json"}
"""State-changing control calls must be JSON (the emulator refuses others: ``guard.py``)."""
