"""Sending a signed delivery, as Fanvue would (tests, tools, forwarding)."""

from __future__ import annotations

import time
from collections.abc import Mapping

import httpx

from .._http import build_async_client, translate_transport_errors
from .signature import SIGNATURE_HEADER, sign

__all__ = ["send_webhook"]


async def send_webhook(
    url: str,
    body: bytes,
    secret: str,
    http: httpx.AsyncClient | None = None,
    *,
    timestamp: int | None = None,
    headers: Mapping[str, str] | None = None,
) -> httpx.Response:
    """Sign ``body`` with ``secret`` and POST it to ``url``. Transport failures raise
    ``UpstreamUnavailable``; any HTTP answer is returned for the caller to judge."""
    stamp = int(time.time()) if timestamp is None else timestamp
    sent = {
        "Content-Type": "application/json",
        **(headers or {}),
        SIGNATURE_HEADER: sign(body, secret, stamp),
    }
    client = http or build_async_client()
    try:
        async with translate_transport_errors("webhook receiver"):
            return await client.post(url, content=body, headers=sent)
    finally:
        if http is None:
            await client.aclose()
