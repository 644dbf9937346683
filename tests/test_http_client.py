"""The library's httpx client defaults (``fanvue_embedded._http``)."""

from __future__ import annotations

import httpx
import pytest
import uvicorn

from fanvue_embedded._http import KEEPALIVE_EXPIRY, build_async_client


def _pool_expiry(client: httpx.AsyncClient) -> float | None:
    transport = client._transport  # the pool settings are not public
    assert isinstance(transport, httpx.AsyncHTTPTransport)
    expiry: float | None = transport._pool._keepalive_expiry
    return expiry


@pytest.mark.anyio
async def test_idle_connections_expire_before_a_uvicorn_server_closes_them() -> None:
    # A pooled connection reused just as the server closes it fails the request
    # ("Server disconnected without sending a response"): ours must expire first.
    server_idle_timeout = uvicorn.Config(app="unused:app").timeout_keep_alive
    async with build_async_client() as client:
        assert _pool_expiry(client) == KEEPALIVE_EXPIRY
    assert server_idle_timeout > KEEPALIVE_EXPIRY
