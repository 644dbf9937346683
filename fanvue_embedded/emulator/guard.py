"""Keep web pages away from the emulator: its control API has no authentication, so a page the
developer happens to visit must not be able to drive it.

Three checks, before any route runs (pure ASGI, so it also covers the dashboard and the API):

1. ``Host`` must name the emulator: ``localhost``, ``127.0.0.1`` or ``[::1]`` (any port), the
   host of the configured issuer, or one of ``allowed_hosts``. Otherwise 421: a page on
   ``evil.example`` that re-binds its DNS name to 127.0.0.1 still sends ``Host: evil.example``.
2. A state-changing control request (``/_emulator/*`` with POST, PUT, PATCH or DELETE) must come
   from no page at all (no ``Origin``: curl, tests, the app's server) or from the emulator's
   own origin (the dashboard), the issuer's, or one of ``allowed_origins``. Otherwise 403.
3. Such a request must say ``Content-Type: application/json``. Otherwise 415: a cross-site
   form or ``text/plain`` fetch is sent without a CORS preflight; a JSON one is not, and the
   emulator answers no preflight.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from urllib.parse import urlsplit

from starlette.types import ASGIApp, Receive, Scope, Send

LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "[::1]", "::1"})
CONTROL_PREFIX = "/_emulator/"
STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def host_name(host: str) -> str:
    """``Host`` without its port, lower case (``[::1]:80`` → ``[::1]``)."""
    host = host.strip().lower()
    if host.startswith("["):
        return host.split("]", 1)[0] + "]"
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def _origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


class RequestGuard:
    """The ASGI middleware; ``issuer`` is the emulator's public URL, if configured."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        issuer: str | None = None,
        allowed_hosts: Iterable[str] = (),
        allowed_origins: Iterable[str] = (),
    ) -> None:
        self.app = app
        hosts = set(LOOPBACK_NAMES) | {host_name(h) for h in allowed_hosts}
        origins = {_origin_of(o) for o in allowed_origins}
        if issuer:
            hosts.add(host_name(urlsplit(issuer).netloc))
            origins.add(_origin_of(issuer))
        self.hosts = frozenset(hosts)
        self.origins = frozenset(origins)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        refusal = self._refusal(scope, headers)
        if refusal is None:
            await self.app(scope, receive, send)
            return
        status, error, description = refusal
        body = json.dumps({"error": error, "error_description": description}).encode()
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})

    def _refusal(self, scope: Scope, headers: dict[str, str]) -> tuple[int, str, str] | None:
        host = headers.get("host")
        if host is not None and host_name(host) not in self.hosts:
            return (
                421,
                "misdirected_request",
                "this Host is not the emulator's (allow it with --allowed-host)",
            )
        if scope["method"] not in STATE_CHANGING or not scope["path"].startswith(CONTROL_PREFIX):
            return None
        origin = headers.get("origin")
        if origin is not None:
            own = f"{scope.get('scheme', 'http')}://{host}".lower() if host else None
            if origin.lower() != own and _origin_of(origin) not in self.origins:
                return (
                    403,
                    "forbidden_origin",
                    "control calls are refused from other origins (allow one with "
                    "--allowed-origin)",
                )
        media_type = headers.get("content-type", "").split(";", 1)[0].strip().lower()
        if media_type != "application/json":
            return (
                415,
                "unsupported_media_type",
                "state-changing control calls need Content-Type: application/json",
            )
        return None
