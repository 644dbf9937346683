"""Fanvue's *authorize-on-behalf* call: iframe session token -> authorization code.

``POST {platform}/api/v1/app-integrations/authorize-on-behalf`` with the session token as a
bearer credential and an S256 PKCE challenge + state in a JSON body. The response's state
must equal ours. Pure request building / response parsing first, the httpx adapter last.
"""

from __future__ import annotations

import hmac
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from ._http import build_async_client, translate_transport_errors
from .errors import (
    ConsentRequired,
    InvalidSessionToken,
    OAuthError,
    ProtocolError,
    RateLimitedError,
    StateMismatchError,
    UpstreamServerError,
)
from .metrics import Metrics

__all__ = [
    "AUTHORIZE_ON_BEHALF_PATH",
    "PlatformClient",
    "PlatformRequest",
    "build_authorize_on_behalf",
    "parse_authorize_on_behalf",
    "validate_session_token",
]

AUTHORIZE_ON_BEHALF_PATH = "/api/v1/app-integrations/authorize-on-behalf"
_MAX_SESSION_TOKEN_LENGTH = 4096
# Session tokens are JWT-like: printable, no whitespace. Anything else is not worth a request.
_SESSION_TOKEN = re.compile(r"^[A-Za-z0-9\-._~+/=]+$")


@dataclass(frozen=True, slots=True)
class PlatformRequest:
    url: str
    headers: Mapping[str, str] = field(repr=False)
    body: bytes = field(repr=False)


def validate_session_token(session_token: object) -> str:
    """Reject obviously unusable session tokens before any network call."""
    if (
        not isinstance(session_token, str)
        or not session_token
        or len(session_token) > _MAX_SESSION_TOKEN_LENGTH
        or not _SESSION_TOKEN.fullmatch(session_token)
    ):
        raise InvalidSessionToken("the session token is missing or malformed")
    return session_token


def build_authorize_on_behalf(
    *, platform_url: str, session_token: str, code_challenge: str, state: str
) -> PlatformRequest:
    if not code_challenge or not state:
        raise ValueError("code_challenge and state are required")
    body = json.dumps(
        {"code_challenge": code_challenge, "code_challenge_method": "S256", "state": state}
    ).encode()
    return PlatformRequest(
        url=platform_url.rstrip("/") + AUTHORIZE_ON_BEHALF_PATH,
        headers={
            "Authorization": f"Bearer {validate_session_token(session_token)}",
            "Content-Type": "application/json",
            "Accept": "application/json",
        },
        body=body,
    )


def _json_object(body: bytes) -> dict[str, Any] | None:
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None
    return data if isinstance(data, dict) else None


def parse_authorize_on_behalf(status: int, body: bytes, *, expected_state: str) -> str:
    """Return the authorization code, or raise the error that explains the refusal."""
    data = _json_object(body)
    error = data.get("error") if data else None
    if status == 200:
        if data is None:
            raise ProtocolError("authorize-on-behalf response is not a JSON object")
        code = data.get("code")
        state = data.get("state")
        if not isinstance(code, str) or not code:
            raise ProtocolError("authorize-on-behalf response has no code")
        if not isinstance(state, str) or not hmac.compare_digest(
            state.encode(), expected_state.encode()
        ):
            raise StateMismatchError("authorize-on-behalf returned a different state")
        return code
    if status == 401 or error == "invalid_session_token":
        raise InvalidSessionToken("the session token is expired, used or invalid")
    if status == 403:
        raise ConsentRequired("the creator has not approved this app in Fanvue")
    if status == 429:
        raise RateLimitedError("authorize-on-behalf rate limited the app", retry_after=None)
    if status >= 500:
        raise UpstreamServerError(f"authorize-on-behalf answered {status}", status_code=status)
    if isinstance(error, str):
        raise OAuthError(f"authorize-on-behalf refused: {error}", error=error, status_code=status)
    raise ProtocolError(f"authorize-on-behalf answered {status} without an error body")


class PlatformClient:
    """Calls the Fanvue platform on behalf of the app (one per app; ``http`` may be shared)."""

    def __init__(
        self,
        *,
        platform_url: str,
        http: httpx.AsyncClient | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        self.platform_url = platform_url.rstrip("/")
        self._http = http or build_async_client()
        self._owns_http = http is None
        self._metrics = metrics or Metrics()

    def __repr__(self) -> str:
        return f"PlatformClient(platform_url={self.platform_url!r})"

    async def authorize_on_behalf(self, session_token: str, code_challenge: str, state: str) -> str:
        """Trade the iframe's session token for an authorization code (PKCE S256 + state)."""
        request = build_authorize_on_behalf(
            platform_url=self.platform_url,
            session_token=session_token,
            code_challenge=code_challenge,
            state=state,
        )
        with self._metrics.observe_upstream("authorize_on_behalf"):
            async with translate_transport_errors("authorize-on-behalf"):
                response = await self._http.post(
                    request.url, content=request.body, headers=dict(request.headers)
                )
                body = await response.aread()
            return parse_authorize_on_behalf(response.status_code, body, expected_state=state)

    async def aclose(self) -> None:
        if self._owns_http:
            await self._http.aclose()
