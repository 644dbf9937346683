"""One exception tree for the whole library.

Every error carries a stable machine ``code`` (a class attribute, overridable per
instance) that callers, logs and HTTP responses can rely on. Third-party errors
(httpx, redis, cryptography) are translated where they enter and chained with
``raise ... from exc``.

The tree keeps three kinds of failure apart, because callers must react to them
differently::

    FanvueError                              code
    ├── ConfigurationError                   configuration_error   (fix the settings)
    ├── RejectedError                        "Fanvue said no"
    │   ├── InvalidSessionToken              invalid_session_token (reopen the app)
    │   ├── ConsentRequired                  consent_required      (approve in Fanvue)
    │   ├── ReauthorizationRequired          reauthorization_required (chain is dead)
    │   ├── ClientAuthenticationError        invalid_client        (wrong id/secret: config)
    │   ├── InsufficientScope                insufficient_scope    (creator's grant lacks a scope)
    │   ├── OAuthError                       oauth_error           (any other OAuth error)
    │   └── APIError                         api_error             (Fanvue API 4xx)
    │       ├── BadRequestError              bad_request           (400)
    │       ├── UnauthorizedError            unauthorized          (401)
    │       ├── ForbiddenError               forbidden             (403: missing scope)
    │       ├── NotFoundError                not_found             (404)
    │       ├── ConflictError                conflict              (409: duplicate name)
    │       └── APIVersionGoneError          api_version_gone      (410: version sunset)
    ├── ProtocolError                        protocol_error        "Fanvue broke the protocol"
    │   └── StateMismatchError               state_mismatch
    ├── TransientError                       transient             retry later; nothing lost
    │   ├── UpstreamUnavailable              upstream_unavailable  (transport, timeout)
    │   ├── UpstreamServerError              upstream_error        (5xx)
    │   ├── ConcurrentRefreshError           concurrent_refresh    (Hydra: please retry)
    │   ├── RateLimitedError                 rate_limited          (429)
    │   │   └── TooManyFailedAttempts        too_many_failed_attempts (our exchange limit)
    │   ├── RefreshInProgress                refresh_in_progress   (another worker holds the lock)
    │   ├── UploadError (in uploads)         upload_failed         (a part failed every try)
    │   └── StoreUnavailable                 store_unavailable     (Redis down)
    │       └── StoreFull                    store_full            (Redis refuses writes: OOM)
    ├── StoreError                           store_error
    │   ├── GenerationConflict               generation_conflict   (compare-and-set lost)
    │   └── DecryptionError                  decryption_failed     (wrong key / tampered / moved)
    ├── AppSessionError                      invalid_session       (app session bad/expired/ended)
    ├── SubscriptionRequired                 subscription_required (no active app plan)
    └── WebhookVerificationError             invalid_signature     (webhook rejected)
"""

from __future__ import annotations

from collections.abc import Mapping

__all__ = [
    "APIDetails",
    "APIError",
    "APIVersionGoneError",
    "AppSessionError",
    "BadRequestError",
    "ClientAuthenticationError",
    "ConcurrentRefreshError",
    "ConfigurationError",
    "ConflictError",
    "ConsentRequired",
    "DecryptionError",
    "FanvueError",
    "ForbiddenError",
    "GenerationConflict",
    "InsufficientScope",
    "InvalidSessionToken",
    "NotFoundError",
    "OAuthError",
    "ProtocolError",
    "RateLimitedError",
    "ReauthorizationRequired",
    "RefreshInProgress",
    "RejectedError",
    "StateMismatchError",
    "StoreError",
    "StoreFull",
    "StoreUnavailable",
    "SubscriptionRequired",
    "TooManyFailedAttempts",
    "TransientError",
    "UnauthorizedError",
    "UpstreamServerError",
    "UpstreamUnavailable",
    "WebhookVerificationError",
]


class FanvueError(Exception):
    """Base of every error this library raises."""

    code: str = "fanvue_error"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.code!r}, message={self.message!r})"


class ConfigurationError(FanvueError, ValueError):
    """The settings are wrong; ``variable`` names the offending setting when known."""

    code = "configuration_error"

    def __init__(self, message: str, *, variable: str | None = None) -> None:
        super().__init__(message)
        self.variable = variable


# --- Fanvue said no -------------------------------------------------------------------


class RejectedError(FanvueError):
    """Fanvue understood the request and refused it. Retrying the same request won't help."""

    code = "rejected"


class InvalidSessionToken(RejectedError):
    """The iframe session token is missing, malformed, expired or already used."""

    code = "invalid_session_token"


class ConsentRequired(RejectedError):
    """The creator has not approved (or has revoked) the app's consent inside Fanvue."""

    code = "consent_required"


class ReauthorizationRequired(RejectedError):
    """The creator's refresh-token chain is dead; they must authorize the app again.

    ``reason`` says why (for example ``invalid_grant``, ``refresh_response_lost``,
    ``no_tokens``); ``creator`` names the creator when known.
    """

    code = "reauthorization_required"

    def __init__(self, message: str, *, reason: str, creator: str | None = None) -> None:
        super().__init__(message)
        self.reason = reason
        self.creator = creator


class InsufficientScope(RejectedError):
    """The creator's grant lacks a scope the operation needs: raised before anything is sent.

    The app's configuration asks for more than the creator consented to (the scopes grew after
    they connected): they must authorize the app again. ``missing`` names the scopes,
    ``operation_id`` the operation when known.
    """

    code = "insufficient_scope"

    def __init__(
        self, message: str, *, missing: tuple[str, ...], operation_id: str | None = None
    ) -> None:
        super().__init__(message)
        self.missing = missing
        self.operation_id = operation_id


class OAuthError(RejectedError):
    """An OAuth error response (RFC 6749 §5.2) not covered by a more specific class."""

    code = "oauth_error"

    def __init__(
        self,
        message: str,
        *,
        error: str,
        description: str | None = None,
        status_code: int | None = None,
    ) -> None:
        super().__init__(message)
        self.error = error
        self.description = description
        self.status_code = status_code


class ClientAuthenticationError(OAuthError):
    """``invalid_client``: the client id or secret is wrong. A configuration fault:
    never a reason to drop a creator's tokens."""

    code = "invalid_client"


class APIDetails:
    """What Fanvue said about a refused API call, shared by ``APIError`` and ``RateLimitedError``.

    ``error``, ``errors`` and ``next_version`` are Fanvue's own body fields (``nextVersion`` on
    410); ``method`` and ``path`` name the call (never the query string, never the token).
    ``rate_limit`` holds the raw rate-limit headers; ``limit``, ``remaining``, ``reset`` (unix
    seconds) and ``retry_after`` (seconds) are the same parsed, ``None`` where absent.
    """

    status_code: int
    error: str | None
    errors: list[str]
    next_version: str | None
    method: str | None
    path: str | None
    rate_limit: dict[str, str]
    retry_after: float | None

    def _set_details(
        self,
        *,
        status_code: int,
        error: str | None,
        errors: list[str] | None,
        next_version: str | None,
        method: str | None,
        path: str | None,
        rate_limit: Mapping[str, str] | None,
        retry_after: float | None,
    ) -> None:
        self.status_code = status_code
        self.error = error
        self.errors = list(errors or ())
        self.next_version = next_version
        self.method = method
        self.path = path
        self.rate_limit = dict(rate_limit or {})
        self.retry_after = retry_after

    def _header_int(self, name: str) -> int | None:
        value = self.rate_limit.get(name)
        try:
            return int(value) if value is not None else None
        except ValueError:
            return None

    @property
    def limit(self) -> int | None:
        """``X-RateLimit-Limit``: requests allowed per window."""
        return self._header_int("X-RateLimit-Limit")

    @property
    def remaining(self) -> int | None:
        """``X-RateLimit-Remaining``: requests left in this window."""
        return self._header_int("X-RateLimit-Remaining")

    @property
    def reset(self) -> int | None:
        """``X-RateLimit-Reset``: when the window refills (unix seconds)."""
        return self._header_int("X-RateLimit-Reset")


class APIError(APIDetails, RejectedError):
    """A 4xx answer from the Fanvue API.

    ``str()`` is Fanvue's ``message`` (or its ``errors`` joined, or its ``error``); the other
    fields are in :class:`APIDetails`.
    """

    code = "api_error"

    def __init__(
        self,
        message: str,
        *,
        status_code: int,
        error: str | None = None,
        errors: list[str] | None = None,
        next_version: str | None = None,
        method: str | None = None,
        path: str | None = None,
        rate_limit: Mapping[str, str] | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self._set_details(
            status_code=status_code,
            error=error,
            errors=errors,
            next_version=next_version,
            method=method,
            path=path,
            rate_limit=rate_limit,
            retry_after=retry_after,
        )

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(status_code={self.status_code}, method={self.method!r}, "
            f"path={self.path!r}, error={self.error!r}, message={self.message!r})"
        )


class BadRequestError(APIError):
    """400: an unsupported API version (``error``), invalid input (``errors``) or a refusal
    such as a bad UUID or an uncontactable fan (``message``)."""

    code = "bad_request"


class UnauthorizedError(APIError):
    code = "unauthorized"


class ForbiddenError(APIError):
    """403: usually a scope the app was not granted."""

    code = "forbidden"


class NotFoundError(APIError):
    code = "not_found"


class ConflictError(APIError):
    """409: the name or label is already taken (custom lists, collections, vault folders)."""

    code = "conflict"


class APIVersionGoneError(APIError):
    """410: the ``X-Fanvue-API-Version`` in use has been sunset; ``next_version`` names the
    version to move to when Fanvue says."""

    code = "api_version_gone"


# --- Fanvue broke the protocol -------------------------------------------------------


class ProtocolError(FanvueError):
    """A response that violates the protocol (malformed JSON, missing fields...).

    Nothing derived from such a response is ever stored.
    """

    code = "protocol_error"


class StateMismatchError(ProtocolError):
    """The ``state`` echoed back differs from the one sent."""

    code = "state_mismatch"


# --- Try again later ----------------------------------------------------------------


class TransientError(FanvueError):
    """A failure that may go away on retry; nothing stored was lost or changed."""

    code = "transient"


class UpstreamUnavailable(TransientError):
    """The request did not complete: connection failure, timeout, dropped response."""

    code = "upstream_unavailable"


class UpstreamServerError(TransientError):
    """Fanvue answered with a 5xx."""

    code = "upstream_error"

    def __init__(self, message: str, *, status_code: int) -> None:
        super().__init__(message)
        self.status_code = status_code


class ConcurrentRefreshError(TransientError):
    """Hydra refused a refresh because the same token is being refreshed concurrently."""

    code = "concurrent_refresh"


class RateLimitedError(APIDetails, TransientError):
    """429 from the Fanvue API; ``retry_after`` in seconds when Fanvue said.

    A transient error (wait and retry), carrying the same details as ``APIError``.
    """

    code = "rate_limited"

    def __init__(
        self,
        message: str,
        *,
        retry_after: float | None,
        rate_limit: Mapping[str, str] | None = None,
        error: str | None = None,
        method: str | None = None,
        path: str | None = None,
    ) -> None:
        super().__init__(message)
        self._set_details(
            status_code=429,
            error=error,
            errors=None,
            next_version=None,
            method=method,
            path=path,
            rate_limit=rate_limit,
            retry_after=retry_after,
        )


class TooManyFailedAttempts(RateLimitedError):
    """This client failed too many session exchanges recently; ``retry_after`` in seconds.

    Our own limit, not Fanvue's: it keeps junk tokens from spending upstream calls."""

    code = "too_many_failed_attempts"

    def __init__(self, message: str, *, retry_after: float) -> None:
        super().__init__(message, retry_after=retry_after)


class RefreshInProgress(TransientError):
    """Another worker is refreshing this creator and did not finish in time."""

    code = "refresh_in_progress"


class StoreUnavailable(TransientError):
    """The token store (Redis) could not be reached."""

    code = "store_unavailable"


class StoreFull(StoreUnavailable):
    """Redis answers but refuses writes: it reached ``maxmemory`` (with ``noeviction``).
    Nothing stored was lost; writes work again once memory is freed or the limit raised."""

    code = "store_full"


# --- Storage --------------------------------------------------------------------------


class StoreError(FanvueError):
    code = "store_error"


class GenerationConflict(StoreError):
    """A compare-and-set write lost: someone else wrote a newer generation first."""

    code = "generation_conflict"


class DecryptionError(StoreError):
    """A stored value could not be decrypted: unknown key id, tampering, or a value
    moved to another creator or purpose."""

    code = "decryption_failed"


# --- Our own HTTP surface -------------------------------------------------------------


class AppSessionError(FanvueError):
    """The app session presented by the page is missing, tampered with, expired or ended."""

    code = "invalid_session"


class SubscriptionRequired(FanvueError):
    """The creator has no active subscription to this app (Fanvue's App Store plan).

    ``status`` is Fanvue's ``status`` for them: ``none``, ``pending`` or ``cancelled``.
    """

    code = "subscription_required"

    def __init__(self, message: str, *, status: str) -> None:
        super().__init__(message)
        self.status = status


class WebhookVerificationError(FanvueError):
    """A webhook delivery failed verification; ``code`` says which check failed."""

    code = "invalid_signature"
