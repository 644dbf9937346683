"""The throughput baseline: a bare Starlette route making the same upstream call as ``/api/me``.

No app session, no token lookup: a fixed access token (``BENCH_ACCESS_TOKEN``) and one
``GET /users/me`` through an httpx client with the same limits the library's clients use.
With ``BENCH_TRANSPORT=library`` the client gets the library's transport (``_transport``: the
cheaper pool probe), so the app can also be compared like for like.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from fanvue_embedded._http import KEEPALIVE_EXPIRY, shared_tls_context
from fanvue_embedded._transport import build_transport

PROFILE_FIELDS = ("uuid", "handle", "displayName", "avatarUrl", "isCreator")


def create_bare_app() -> Starlette:
    api_base_url = os.environ["API_BASE_URL"].rstrip("/")
    token = os.environ["BENCH_ACCESS_TOKEN"]
    limits = httpx.Limits(
        max_connections=100, max_keepalive_connections=20, keepalive_expiry=KEEPALIVE_EXPIRY
    )
    transport = None
    if os.environ.get("BENCH_TRANSPORT") == "library":
        transport = build_transport(verify=shared_tls_context(), limits=limits)
    http = httpx.AsyncClient(
        timeout=httpx.Timeout(10.0, connect=5.0),
        follow_redirects=False,
        limits=limits,
        transport=transport,
        trust_env=False,
    )
    headers = {
        "Authorization": f"Bearer {token}",
        "X-Fanvue-API-Version": "2025-06-26",
        "Accept": "application/json",
    }

    async def me(request: Request) -> Response:
        upstream = await http.get(f"{api_base_url}/users/me", headers=headers)
        if upstream.status_code != 200:
            return JSONResponse({"error": "upstream_unavailable"}, status_code=502)
        data = upstream.json()
        return JSONResponse({name: data.get(name) for name in PROFILE_FIELDS})

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await http.aclose()

    return Starlette(routes=[Route("/bare/me", me, methods=["GET"])], lifespan=lifespan)
