"""The composition root: builds the components one app, worker or CLI run needs from ``Settings``.

This is the only place that picks a store: Redis when ``REDIS_URL`` is set, the in-process
memory store otherwise — which is refused in production mode unless the caller passes a
store explicitly (a library user who knows what they are doing).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import httpx

from ._http import build_async_client
from ._redis import redis_from_url
from .attempts import FailureLimiter
from .config import Settings
from .crypto import Keyring
from .ephemeral import EphemeralStore, MemoryEphemeralStore, RedisEphemeralStore
from .errors import ConfigurationError
from .exchange import OnTokens, SessionExchange
from .metrics import Metrics
from .models import Clock, system_clock
from .oauth import OAuthClient
from .platform import PlatformClient
from .sessions import AppSessionManager
from .store import MemoryTokenStore, RedisTokenStore, TokenStore
from .tokens import OnReauthorizationRequired, TokenManager

__all__ = ["Services", "build_services"]


@dataclass(slots=True)
class Services:
    """Everything one app (or worker, or CLI run) uses, built once; nothing here is global.

    ``aclose`` closes what :func:`build_services` made: the HTTP client only when it built it
    (a client passed in stays the caller's); the stores close the Redis clients they own.
    """

    settings: Settings
    http: httpx.AsyncClient
    oauth: OAuthClient
    platform: PlatformClient
    store: TokenStore
    ephemeral: EphemeralStore
    sessions: AppSessionManager
    exchange: SessionExchange
    tokens: TokenManager
    exchange_failures: FailureLimiter
    clock: Clock
    metrics: Metrics
    owns_http: bool = field(default=False, repr=False)

    async def aclose(self) -> None:
        await self.store.aclose()
        await self.ephemeral.aclose()
        if self.owns_http:
            await self.http.aclose()


def _keyring(settings: Settings) -> Keyring:
    if settings.token_encryption_keys:
        return Keyring(settings.token_encryption_keys)
    # Development without keys: a random key that lives as long as the process (memory store).
    return Keyring.generate_ephemeral()


def build_services(
    settings: Settings,
    *,
    store: TokenStore | None = None,
    ephemeral: EphemeralStore | None = None,
    on_tokens: OnTokens | None = None,
    on_reauthorization_required: OnReauthorizationRequired | None = None,
    http: httpx.AsyncClient | None = None,
    clock: Clock = system_clock,
) -> Services:
    if store is None or ephemeral is None:
        if settings.redis_url is not None:
            redis = redis_from_url(settings.redis_url.get_secret_value())
            # One client for both stores; exactly one of them owns (closes) it.
            if store is None:
                store = RedisTokenStore(redis, _keyring(settings), close_client=True)
                ephemeral = ephemeral or RedisEphemeralStore(redis)
            else:
                ephemeral = RedisEphemeralStore(redis, close_client=True)
        elif settings.development:
            store = store or MemoryTokenStore(_keyring(settings), clock=clock)
            ephemeral = ephemeral or MemoryEphemeralStore(clock=clock)
        else:
            raise ConfigurationError(
                "REDIS_URL is not set: the in-process memory store loses every creator's tokens "
                "on restart and is not shared between processes, so it is refused in production "
                "mode. Set REDIS_URL (or FANVUE_EMBEDDED_MODE=development for local work).",
                variable="REDIS_URL",
            )
    owns_http = http is None
    http = http or build_async_client()
    metrics = Metrics()
    oauth = OAuthClient.from_settings(settings, http=http, clock=clock, metrics=metrics)
    platform = PlatformClient(platform_url=settings.platform_url, http=http, metrics=metrics)
    tokens = TokenManager(
        store=store,
        oauth=oauth,
        api_base_url=settings.api_base_url,
        api_version=settings.api_version,
        http=http,
        leeway=settings.refresh_leeway,
        on_reauthorization_required=on_reauthorization_required,
        clock=clock,
        metrics=metrics,
    )
    return Services(
        settings=settings,
        http=http,
        oauth=oauth,
        platform=platform,
        store=store,
        ephemeral=ephemeral,
        sessions=AppSessionManager(
            secret=settings.session_secret,
            store=ephemeral,
            ttl=settings.session_ttl,
            max_age=settings.session_max_age,
            clock=clock,
        ),
        exchange=SessionExchange(
            platform=platform,
            oauth=oauth,
            store=store,
            api_base_url=settings.api_base_url,
            api_version=settings.api_version,
            http=http,
            on_tokens=on_tokens,
            clock=clock,
            metrics=metrics,
        ),
        tokens=tokens,
        exchange_failures=FailureLimiter(
            ephemeral,
            limit=settings.exchange_failure_limit,
            window=settings.exchange_failure_window,
            name="exchange-failures",
        ),
        clock=clock,
        metrics=metrics,
        owns_http=owns_http,
    )
