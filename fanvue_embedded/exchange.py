"""The session exchange: an iframe's session token in, a stored token set and a user out.

session token → fresh PKCE verifier + state → authorize-on-behalf (state checked) → code
exchange → ``GET /users/me`` → store under the creator's uuid → ``on_tokens`` hook.
Nothing is stored unless every step succeeded; errors keep their typed meaning so the HTTP
layer can map each to its documented answer.

The steps are public so a caller can run its own work next to them (the app's route checks
the failed-attempts limit while the code is requested, and writes the app session
concurrently with the commit): :meth:`SessionExchange.request_code` (authorize-on-behalf)
and :meth:`SessionExchange.redeem` (code exchange, user) make the upstream calls and store
nothing, :meth:`SessionExchange.authorize` is the two in a row, and
:meth:`SessionExchange.commit` stores and calls the hook.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import httpx

from .client import FanvueClient
from .metrics import Metrics
from .models import Clock, FanvueUser, TokenSet, system_clock
from .oauth import OAuthClient
from .pkce import code_challenge_s256, generate_code_verifier, generate_state
from .platform import PlatformClient, validate_session_token
from .store import TokenStore
from .values import DEFAULT_API_VERSION, DEFAULT_KEEPALIVE_INTERVAL

__all__ = [
    "DEFAULT_KEEPALIVE_INTERVAL",
    "AuthorizationCode",
    "Authorized",
    "ExchangeResult",
    "OnTokens",
    "SessionExchange",
]

logger = logging.getLogger("fanvue_embedded.exchange")

OnTokens = Callable[[TokenSet, FanvueUser], Awaitable[None] | None]
"""The port of the JS SDK's ``onTokens({tokens, user})``: called after the tokens are stored."""


@dataclass(frozen=True, slots=True)
class AuthorizationCode:
    """An authorization code from authorize-on-behalf and the PKCE verifier that redeems it
    (single use, short-lived; ``repr()`` hides both)."""

    code: str = field(repr=False)
    verifier: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class Authorized:
    """What the upstream steps produced: a token set and whose it is. Nothing is stored yet."""

    tokens: TokenSet
    user: FanvueUser


@dataclass(frozen=True, slots=True)
class ExchangeResult:
    tokens: TokenSet
    user: FanvueUser
    generation: int


class SessionExchange:
    """Runs the exchange for one registered app. Clients are shared, not owned."""

    def __init__(
        self,
        *,
        platform: PlatformClient,
        oauth: OAuthClient,
        store: TokenStore,
        api_base_url: str,
        api_version: str = DEFAULT_API_VERSION,
        http: httpx.AsyncClient | None = None,
        on_tokens: OnTokens | None = None,
        keepalive_interval: float = DEFAULT_KEEPALIVE_INTERVAL,
        clock: Clock = system_clock,
        metrics: Metrics | None = None,
    ) -> None:
        self._platform = platform
        self._oauth = oauth
        self._store = store
        self._api_base_url = api_base_url
        self._api_version = api_version
        self._http = http
        self._on_tokens = on_tokens
        self._keepalive_interval = keepalive_interval
        self._clock = clock
        self._metrics = metrics or Metrics()

    async def exchange(self, session_token: str) -> ExchangeResult:
        """The whole embedded exchange: :meth:`authorize`, then :meth:`commit`."""
        return await self.commit(await self.authorize(session_token))

    async def complete(
        self, code: str, code_verifier: str, redirect_uri: str | None = None
    ) -> ExchangeResult:
        """Code → tokens → user → store → hook: the standard flow's callback."""
        return await self.commit(await self.redeem(code, code_verifier, redirect_uri))

    async def authorize(self, session_token: str) -> Authorized:
        """Session token → authorize-on-behalf → code exchange → user. Stores nothing."""
        code = await self.request_code(session_token)
        return await self.redeem(code.code, code.verifier)

    async def request_code(self, session_token: str) -> AuthorizationCode:
        """Session token → fresh PKCE verifier + state → authorize-on-behalf (state checked)."""
        validate_session_token(session_token)
        verifier = generate_code_verifier()
        state = generate_state()
        code = await self._platform.authorize_on_behalf(
            session_token, code_challenge_s256(verifier), state
        )
        return AuthorizationCode(code, verifier)

    async def redeem(
        self, code: str, code_verifier: str, redirect_uri: str | None = None
    ) -> Authorized:
        """Code → tokens → user (``GET /users/me`` with the new access token). Stores nothing."""
        tokens = await self._oauth.exchange_code(code, code_verifier, redirect_uri)
        async with FanvueClient(
            tokens.access_token,
            api_base_url=self._api_base_url,
            api_version=self._api_version,
            http=self._http,
            metrics=self._metrics,
        ) as api:
            user = await api.get_current_user()
        return Authorized(tokens=tokens, user=user)

    async def commit(self, authorized: Authorized) -> ExchangeResult:
        """Store the set under the creator's uuid, then call ``on_tokens``."""
        tokens, user = authorized.tokens, authorized.user
        # A fresh exchange starts a new chain: it replaces whatever was stored (including a
        # dead chain's re-authorization mark). A refresh racing with it loses its
        # compare-and-set and re-reads, so the newest chain always wins.
        generation = await self._store.save(
            user.uuid,
            tokens,
            expected_generation=None,
            keepalive_at=self._clock() + self._keepalive_interval,
        )
        logger.info("stored tokens for a creator", extra={"creator": user.uuid})
        if self._on_tokens is not None:
            outcome = self._on_tokens(tokens, user)
            if inspect.isawaitable(outcome):
                await outcome
        return ExchangeResult(tokens=tokens, user=user, generation=generation)
