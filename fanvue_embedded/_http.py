"""The one place httpx clients are built, and where httpx errors become ours.

Every outbound call has a timeout (httpx's default is kept as a floor, never ``None``),
redirects are not followed (an OAuth endpoint that redirects is misconfigured), and a
transport failure surfaces as ``UpstreamUnavailable`` chained to the httpx error.
"""

from __future__ import annotations

import functools
import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx

from ._transport import build_transport
from ._version import __version__
from .errors import UpstreamUnavailable

__all__ = [
    "DEFAULT_TIMEOUT",
    "KEEPALIVE_EXPIRY",
    "USER_AGENT",
    "build_async_client",
    "shared_tls_context",
    "translate_transport_errors",
]

DEFAULT_TIMEOUT = httpx.Timeout(10.0, connect=5.0)
USER_AGENT = f"fanvue-embedded/{__version__}"
KEEPALIVE_EXPIRY = 4.0
"""Seconds an idle pooled connection is kept. Below the 5 s idle timeout of common servers
(uvicorn's default, which the emulator uses): a connection the server is closing at the moment
it is reused fails the request ("Server disconnected without sending a response")."""


@functools.cache
def shared_tls_context() -> ssl.SSLContext:
    """httpx's own verifying context (certifi's CA bundle), built once per process and shared
    by every client: loading the bundle costs ~30 ms of CPU, which each new client would
    otherwise pay again (a webhook send, a ``check``, every app a process creates)."""
    return httpx.create_ssl_context(trust_env=False)


def build_async_client(
    *,
    timeout: httpx.Timeout | float = DEFAULT_TIMEOUT,
    transport: httpx.AsyncBaseTransport | None = None,
    max_connections: int = 100,
) -> httpx.AsyncClient:
    """An ``httpx.AsyncClient`` with our defaults (``_transport``: httpx's transport with a
    cheaper pool probe, unless ``transport`` is given). The caller owns and closes it."""
    if transport is None:
        limits = httpx.Limits(
            max_connections=max_connections,
            max_keepalive_connections=20,
            keepalive_expiry=KEEPALIVE_EXPIRY,
        )
        transport = build_transport(verify=shared_tls_context(), limits=limits)
    return httpx.AsyncClient(
        timeout=timeout,
        transport=transport,
        follow_redirects=False,
        headers={"User-Agent": USER_AGENT},
        trust_env=False,
    )


@asynccontextmanager
async def translate_transport_errors(what: str) -> AsyncIterator[None]:
    """Turn httpx transport failures (connect, timeout, dropped response) into ours.

    ``what`` names the call in the message, e.g. ``"token endpoint"``; the URL is not
    included because some carry secrets in their query.
    """
    try:
        yield
    except httpx.TimeoutException as exc:
        raise UpstreamUnavailable(f"{what} timed out") from exc
    except httpx.TransportError as exc:
        raise UpstreamUnavailable(f"{what} could not be reached ({type(exc).__name__})") from exc
