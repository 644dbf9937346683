"""fanvue-embedded: build Fanvue embedded apps in Python.

The public API is what ``__all__`` lists (a test freezes it). ``create_app`` is imported
lazily so that library users who only need the protocol core do not import Starlette.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._version import __version__
from .client import FanvueClient, RateLimit
from .config import Secret, Settings
from .crypto import Keyring
from .errors import (
    APIError,
    APIVersionGoneError,
    AppSessionError,
    BadRequestError,
    ClientAuthenticationError,
    ConcurrentRefreshError,
    ConfigurationError,
    ConflictError,
    ConsentRequired,
    DecryptionError,
    FanvueError,
    ForbiddenError,
    GenerationConflict,
    InsufficientScope,
    InvalidSessionToken,
    NotFoundError,
    OAuthError,
    ProtocolError,
    RateLimitedError,
    ReauthorizationRequired,
    RefreshInProgress,
    RejectedError,
    StateMismatchError,
    StoreError,
    StoreUnavailable,
    SubscriptionRequired,
    TransientError,
    UnauthorizedError,
    UpstreamServerError,
    UpstreamUnavailable,
    WebhookVerificationError,
)
from .exchange import ExchangeResult, SessionExchange
from .models import FanvueUser, TokenSet
from .oauth import OAuthClient
from .pkce import code_challenge_s256, generate_code_verifier, generate_state
from .platform import PlatformClient
from .sessions import AppSessionManager
from .store import MemoryTokenStore, RedisTokenStore, TokenStore
from .tokens import RefreshOutcome, TokenManager
from .webhooks import WebhookEvent, WebhookRegistry, parse_event, verify_signature
from .worker import KeepaliveWorker

if TYPE_CHECKING:
    from .app import create_app

__all__ = [
    "APIError",
    "APIVersionGoneError",
    "AppSessionError",
    "AppSessionManager",
    "BadRequestError",
    "ClientAuthenticationError",
    "ConcurrentRefreshError",
    "ConfigurationError",
    "ConflictError",
    "ConsentRequired",
    "DecryptionError",
    "ExchangeResult",
    "FanvueClient",
    "FanvueError",
    "FanvueUser",
    "ForbiddenError",
    "GenerationConflict",
    "InsufficientScope",
    "InvalidSessionToken",
    "KeepaliveWorker",
    "Keyring",
    "MemoryTokenStore",
    "NotFoundError",
    "OAuthClient",
    "OAuthError",
    "PlatformClient",
    "ProtocolError",
    "RateLimit",
    "RateLimitedError",
    "ReauthorizationRequired",
    "RedisTokenStore",
    "RefreshInProgress",
    "RefreshOutcome",
    "RejectedError",
    "Secret",
    "SessionExchange",
    "Settings",
    "StateMismatchError",
    "StoreError",
    "StoreUnavailable",
    "SubscriptionRequired",
    "TokenManager",
    "TokenSet",
    "TokenStore",
    "TransientError",
    "UnauthorizedError",
    "UpstreamServerError",
    "UpstreamUnavailable",
    "WebhookEvent",
    "WebhookRegistry",
    "WebhookVerificationError",
    "__version__",
    "code_challenge_s256",
    "create_app",
    "generate_code_verifier",
    "generate_state",
    "parse_event",
    "verify_signature",
]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from .app import create_app

        return create_app
    raise AttributeError(f"module 'fanvue_embedded' has no attribute {name!r}")
