"""The public API is deliberate: adding or removing a name must be a visible change here."""

from __future__ import annotations

import subprocess
import sys

import fanvue_embedded

FROZEN = {
    "APIError", "APIVersionGoneError", "AppSessionError", "AppSessionManager", "BadRequestError",
    "ClientAuthenticationError", "ConcurrentRefreshError", "ConfigurationError", "ConflictError",
    "ConsentRequired",
    "DecryptionError", "ExchangeResult", "FanvueClient", "FanvueError", "FanvueUser",
    "ForbiddenError", "GenerationConflict", "InvalidSessionToken", "Keyring", "MemoryTokenStore",
    "NotFoundError", "OAuthClient", "OAuthError", "PlatformClient", "ProtocolError", "RateLimit",
    "RateLimitedError", "ReauthorizationRequired", "RedisTokenStore", "RefreshInProgress",
    "RefreshOutcome", "RejectedError", "Secret", "SessionExchange", "Settings",
    "StateMismatchError", "StoreError", "StoreUnavailable", "TokenManager", "TokenSet",
    "TokenStore", "TransientError", "UnauthorizedError", "UpstreamServerError",
    "UpstreamUnavailable", "WebhookVerificationError", "__version__", "code_challenge_s256",
    "create_app", "generate_code_verifier", "generate_state", "KeepaliveWorker",
    "WebhookEvent", "WebhookRegistry", "parse_event", "verify_signature",
    "InsufficientScope", "SubscriptionRequired",
}  # fmt: skip


def test_all_is_frozen_and_importable() -> None:
    assert set(fanvue_embedded.__all__) == FROZEN
    assert len(fanvue_embedded.__all__) == len(FROZEN)
    for name in fanvue_embedded.__all__:
        assert getattr(fanvue_embedded, name) is not None


def test_error_codes_are_stable_and_unique_per_class() -> None:
    errors = [
        getattr(fanvue_embedded, name)
        for name in fanvue_embedded.__all__
        if isinstance(getattr(fanvue_embedded, name), type)
        and issubclass(getattr(fanvue_embedded, name), fanvue_embedded.FanvueError)
    ]
    codes = [error.code for error in errors]
    assert all(code and code.islower() for code in codes)
    assert len(codes) == len(set(codes))


def test_protocol_core_does_not_import_starlette() -> None:
    code = "import sys, fanvue_embedded; print('starlette' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"
