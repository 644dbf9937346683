"""The OAuth 2.0 token endpoint (Ory Hydra) and the standard authorization URL.

Two layers, as STYLE.md §6 asks:

- a protocol core of pure functions — ``client_secret_basic``, ``build_code_grant``,
  ``build_refresh_grant``, ``parse_token_response`` — that tests can hit directly, and
- ``OAuthClient``, a thin adapter that sends those requests with httpx.

Client authentication is client_secret_basic exactly as RFC 6749 §2.3.1 defines it: the
client id and secret are each ``application/x-www-form-urlencoded`` *before* being joined
with ``:`` and base64-encoded; the secret is never put in the body.

Refresh here is one plain request. Coordinating refreshes across coroutines and processes
is the job of ``tokens.RefreshCoordinator``, never of this module.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote_plus

import httpx
from authlib.oauth2.rfc6749.parameters import prepare_grant_uri, prepare_token_request

from ._http import build_async_client, translate_transport_errors
from .config import Settings
from .errors import (
    ClientAuthenticationError,
    ConcurrentRefreshError,
    OAuthError,
    ProtocolError,
    RateLimitedError,
    ReauthorizationRequired,
    UpstreamServerError,
)
from .metrics import Metrics
from .models import Clock, TokenSet, system_clock
from .pkce import validate_code_verifier
from .values import REQUIRED_SCOPES, Secret

__all__ = [
    "OAuthClient",
    "TokenRequest",
    "build_code_grant",
    "build_refresh_grant",
    "client_secret_basic",
    "parse_token_response",
]

_FORM = "application/x-www-form-urlencoded"
# Hydra's answer when two requests present the same refresh token at once. It is the one
# invalid_request that is safe to retry (nothing was consumed).
_CONCURRENT_HINTS = ("concurrent", "please retry")


@dataclass(frozen=True, slots=True)
class TokenRequest:
    """A token-endpoint request, fully described, not yet sent. ``repr()`` hides the body."""

    url: str
    headers: Mapping[str, str] = field(repr=False)
    body: str = field(repr=False)


def client_secret_basic(client_id: str, client_secret: str) -> str:
    """The ``Authorization`` header value for client_secret_basic (RFC 6749 §2.3.1)."""
    user = quote_plus(client_id, safe="")
    password = quote_plus(client_secret, safe="")
    credentials = base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
    return f"Basic {credentials}"


def _token_request(
    token_endpoint: str, client_id: str, client_secret: str, body: str
) -> TokenRequest:
    return TokenRequest(
        url=token_endpoint,
        headers={
            "Authorization": client_secret_basic(client_id, client_secret),
            "Content-Type": _FORM,
            "Accept": "application/json",
        },
        body=body,
    )


def build_code_grant(
    *,
    token_endpoint: str,
    client_id: str,
    client_secret: str,
    code: str,
    code_verifier: str,
    redirect_uri: str,
) -> TokenRequest:
    """``grant_type=authorization_code`` with PKCE; redirect_uri must equal a registered URI."""
    if not code:
        raise ValueError("authorization code is empty")
    body = prepare_token_request(
        "authorization_code",
        redirect_uri=redirect_uri,
        code=code,
        code_verifier=validate_code_verifier(code_verifier),
    )
    return _token_request(token_endpoint, client_id, client_secret, str(body))


def build_refresh_grant(
    *, token_endpoint: str, client_id: str, client_secret: str, refresh_token: str
) -> TokenRequest:
    """``grant_type=refresh_token``. Scope is not sent: the grant keeps what was consented."""
    if not refresh_token:
        raise ValueError("refresh token is empty")
    body = prepare_token_request("refresh_token", refresh_token=refresh_token)
    return _token_request(token_endpoint, client_id, client_secret, str(body))


def _decode_json_object(body: bytes) -> dict[str, Any] | None:
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None
    return data if isinstance(data, dict) else None


def _error_from_response(status: int, data: dict[str, Any] | None) -> Exception:
    """Map a non-200 token-endpoint answer to our tree (RFC 6749 §5.2 + Hydra's habits)."""
    if status >= 500:
        return UpstreamServerError(f"token endpoint answered {status}", status_code=status)
    if status == 429:
        return RateLimitedError("token endpoint rate limited the client", retry_after=None)
    if data is None or not isinstance(data.get("error"), str):
        return ProtocolError(f"token endpoint answered {status} without an OAuth error body")
    error: str = data["error"]
    raw_description = data.get("error_description")
    description = raw_description if isinstance(raw_description, str) else None
    if error == "invalid_client":
        return ClientAuthenticationError(
            "the token endpoint rejected the client credentials (invalid_client): "
            "check OAUTH_CLIENT_ID and OAUTH_CLIENT_SECRET",
            error=error,
            description=description,
            status_code=status,
        )
    if error == "invalid_grant":
        return ReauthorizationRequired(
            "the grant was rejected (invalid_grant); the creator must authorize again",
            reason="invalid_grant",
        )
    if (
        error == "invalid_request"
        and description
        and any(hint in description.lower() for hint in _CONCURRENT_HINTS)
    ):
        return ConcurrentRefreshError("the token endpoint asked to retry a concurrent refresh")
    return OAuthError(
        f"token endpoint error: {error}", error=error, description=description, status_code=status
    )


def parse_token_response(status: int, body: bytes, *, now: float) -> TokenSet:
    """Validate a token-endpoint response strictly; return a ``TokenSet`` or raise.

    Nothing is returned from a response that breaks the protocol: a caller can never store
    half a token set.
    """
    data = _decode_json_object(body)
    if status != 200:
        raise _error_from_response(status, data)
    if data is None:
        raise ProtocolError("token response is not a JSON object")

    access_token = data.get("access_token")
    if not isinstance(access_token, str) or not access_token:
        raise ProtocolError("token response has no access_token")
    token_type = data.get("token_type")
    if not isinstance(token_type, str) or token_type.lower() != "bearer":
        raise ProtocolError("token response token_type is not bearer")
    expires_in = data.get("expires_in")
    # bool is an int subclass; "expires_in": true is not a lifetime.
    if isinstance(expires_in, bool) or not isinstance(expires_in, int | float) or expires_in <= 0:
        raise ProtocolError("token response expires_in is missing or not a positive number")
    scope = data.get("scope", "")
    if not isinstance(scope, str):
        raise ProtocolError("token response scope is not a string")
    refresh_token = data.get("refresh_token")
    if refresh_token is not None and (not isinstance(refresh_token, str) or not refresh_token):
        raise ProtocolError("token response refresh_token is not a non-empty string")
    id_token = data.get("id_token")
    if id_token is not None and (not isinstance(id_token, str) or not id_token):
        raise ProtocolError("token response id_token is not a non-empty string")

    return TokenSet(
        access_token=access_token,
        expires_at=now + float(expires_in),
        refresh_token=refresh_token,
        scopes=frozenset(scope.split()),
        id_token=id_token,
    )


class OAuthClient:
    """Talks to Fanvue's authorization server for one registered app.

    ``http`` may be shared; when omitted the client builds (and closes) its own.
    """

    def __init__(
        self,
        *,
        client_id: str,
        client_secret: Secret | str,
        issuer_base_url: str,
        redirect_uri: str,
        scopes: Sequence[str] = (),
        http: httpx.AsyncClient | None = None,
        clock: Clock = system_clock,
        metrics: Metrics | None = None,
    ) -> None:
        self.client_id = client_id
        self._client_secret = (
            client_secret if isinstance(client_secret, Secret) else Secret(client_secret)
        )
        self.issuer_base_url = issuer_base_url.rstrip("/")
        self.redirect_uri = redirect_uri
        self.scopes = tuple(dict.fromkeys([*REQUIRED_SCOPES, *scopes]))
        self._http = http or build_async_client()
        self._owns_http = http is None
        self._clock = clock
        self._metrics = metrics or Metrics()

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        http: httpx.AsyncClient | None = None,
        clock: Clock = system_clock,
        metrics: Metrics | None = None,
    ) -> OAuthClient:
        return cls(
            client_id=settings.client_id,
            client_secret=settings.client_secret,
            issuer_base_url=settings.issuer_base_url,
            redirect_uri=settings.redirect_uri,
            scopes=settings.scopes,
            http=http,
            clock=clock,
            metrics=metrics,
        )

    def __repr__(self) -> str:
        return (
            f"OAuthClient(client_id={self.client_id!r}, issuer_base_url={self.issuer_base_url!r})"
        )

    @property
    def token_endpoint(self) -> str:
        return f"{self.issuer_base_url}/oauth2/token"

    @property
    def authorization_endpoint(self) -> str:
        return f"{self.issuer_base_url}/oauth2/auth"

    def authorization_url(
        self,
        *,
        state: str,
        code_challenge: str,
        redirect_uri: str | None = None,
        scopes: Sequence[str] | None = None,
    ) -> str:
        """The URL to send a browser to for the standard (off-platform) flow. S256 always."""
        if not state:
            raise ValueError("state is required")
        if not code_challenge:
            raise ValueError("code_challenge is required")
        requested = (
            self.scopes if scopes is None else tuple(dict.fromkeys([*REQUIRED_SCOPES, *scopes]))
        )
        return str(
            prepare_grant_uri(
                self.authorization_endpoint,
                client_id=self.client_id,
                response_type="code",
                redirect_uri=redirect_uri or self.redirect_uri,
                scope=" ".join(requested),
                state=state,
                code_challenge=code_challenge,
                code_challenge_method="S256",
            )
        )

    async def exchange_code(
        self, code: str, code_verifier: str, redirect_uri: str | None = None
    ) -> TokenSet:
        """Trade an authorization code (+ its PKCE verifier) for a token set."""
        request = build_code_grant(
            token_endpoint=self.token_endpoint,
            client_id=self.client_id,
            client_secret=self._client_secret.get_secret_value(),
            code=code,
            code_verifier=code_verifier,
            redirect_uri=redirect_uri or self.redirect_uri,
        )
        return await self._send(request)

    async def refresh(self, refresh_token: str) -> TokenSet:
        """Present ``refresh_token`` once. The returned set carries the rotated refresh token
        (or none, when the server did not rotate — callers keep the old one then)."""
        request = build_refresh_grant(
            token_endpoint=self.token_endpoint,
            client_id=self.client_id,
            client_secret=self._client_secret.get_secret_value(),
            refresh_token=refresh_token,
        )
        return await self._send(request)

    async def _send(self, request: TokenRequest) -> TokenSet:
        # Expiry counts from when we asked, not when the answer arrived: never later than real.
        sent_at = self._clock()
        with self._metrics.observe_upstream("token"):
            async with translate_transport_errors("token endpoint"):
                response = await self._http.post(
                    request.url, content=request.body.encode(), headers=dict(request.headers)
                )
                body = await response.aread()
            return parse_token_response(response.status_code, body, now=sent_at)

    async def aclose(self) -> None:
        if self._owns_http:
            await self._http.aclose()
