"""The one table from the error tree (``fanvue_embedded.errors``) to HTTP answers.

Every route, the ``authenticated`` wrapper, the webhook route, the OAuth routes and the app's
exception handler answer a ``FanvueError`` through ``fanvue_error_response``, so one failure
means one status everywhere. The body is ``{"error": <code>, "message": <generic text>}``:
the code is the row's public code, never the instance's (a ``WebhookVerificationError``'s
instance code says which check failed; Fanvue's own error code is upstream detail). What went
wrong in detail — the class, its code, Fanvue's status and error — goes to the server log.

Every class of ``fanvue_embedded.errors`` has its own row (a test walks the module); a
subclass defined elsewhere answers like its nearest listed ancestor.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ..errors import (
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
    StoreFull,
    StoreUnavailable,
    SubscriptionRequired,
    TooManyFailedAttempts,
    TransientError,
    UnauthorizedError,
    UpstreamServerError,
    UpstreamUnavailable,
    WebhookVerificationError,
)
from .responses import error_response

__all__ = [
    "DEFAULT_RETRY_AFTER",
    "ERROR_TABLE",
    "HTTPAnswer",
    "answer_for",
    "fanvue_error_handler",
    "fanvue_error_response",
]

logger = logging.getLogger("fanvue_embedded.app")

# Fanvue's 429 always names Retry-After; should one arrive without it, a minute is Fanvue's
# documented rate-limit window.
DEFAULT_RETRY_AFTER = 60


@dataclass(frozen=True, slots=True)
class HTTPAnswer:
    """One row: the status, the public ``error`` code, a generic message, the log level."""

    status: int
    error: str
    message: str
    log_level: int = logging.WARNING


_REJECTED = HTTPAnswer(502, "upstream_rejected", "Fanvue refused the request.")
_UPSTREAM_DOWN = HTTPAnswer(
    502, "upstream_unavailable", "Fanvue could not be reached; try again shortly."
)
_STORE_DOWN = HTTPAnswer(
    503, "store_unavailable", "The service's store is unavailable; try again shortly."
)
_SERVICE_DOWN = HTTPAnswer(
    503, "service_unavailable", "The service is temporarily unavailable; try again shortly."
)
_INTERNAL = HTTPAnswer(500, "internal_error", "The service failed.", logging.ERROR)

ERROR_TABLE: Mapping[type[FanvueError], HTTPAnswer] = MappingProxyType(
    {
        # Only a configuration fault is the service's own failure: 500, nothing more said.
        FanvueError: _INTERNAL,
        ConfigurationError: _INTERNAL,
        # Fanvue said no. What the creator can act on keeps its own code.
        RejectedError: _REJECTED,
        InvalidSessionToken: HTTPAnswer(
            401,
            "invalid_session_token",
            "The Fanvue session token is invalid or expired; reopen the app.",
            logging.INFO,
        ),
        ConsentRequired: HTTPAnswer(
            403,
            "consent_required",
            "Approve the app in Fanvue, then open it again.",
            logging.INFO,
        ),
        ReauthorizationRequired: HTTPAnswer(
            401,
            "reauthorization_required",
            "The app must be authorized again; reopen it from Fanvue.",
        ),
        # The app's scopes grew after the creator connected: only a new consent helps. 403 like
        # Fanvue's own answer for a missing scope, with a code the page turns into a re-consent.
        InsufficientScope: HTTPAnswer(
            403,
            "insufficient_scope",
            "The app needs permissions you have not granted yet; authorize it again.",
            logging.INFO,
        ),
        OAuthError: _REJECTED,
        # Wrong client id or secret: loud in the log, generic to the user.
        ClientAuthenticationError: HTTPAnswer(
            _REJECTED.status, _REJECTED.error, _REJECTED.message, logging.ERROR
        ),
        APIError: _REJECTED,
        BadRequestError: _REJECTED,
        UnauthorizedError: _REJECTED,
        ForbiddenError: _REJECTED,
        NotFoundError: _REJECTED,
        ConflictError: _REJECTED,
        APIVersionGoneError: HTTPAnswer(
            _REJECTED.status, _REJECTED.error, _REJECTED.message, logging.ERROR
        ),
        # Fanvue broke the protocol: to the user that is Fanvue being unavailable.
        ProtocolError: _UPSTREAM_DOWN,
        StateMismatchError: HTTPAnswer(
            _UPSTREAM_DOWN.status, _UPSTREAM_DOWN.error, _UPSTREAM_DOWN.message, logging.ERROR
        ),
        # Try again later.
        TransientError: _SERVICE_DOWN,
        UpstreamUnavailable: _UPSTREAM_DOWN,
        UpstreamServerError: _UPSTREAM_DOWN,
        ConcurrentRefreshError: _UPSTREAM_DOWN,
        RateLimitedError: HTTPAnswer(
            429, "rate_limited", "Fanvue's rate limit was reached; retry after the given delay."
        ),
        # Our own limit on failed session exchanges per client address (same code and header).
        TooManyFailedAttempts: HTTPAnswer(
            429,
            "rate_limited",
            "Too many failed attempts; retry after the given delay.",
            logging.INFO,
        ),
        RefreshInProgress: _SERVICE_DOWN,
        StoreUnavailable: HTTPAnswer(
            _STORE_DOWN.status, _STORE_DOWN.error, _STORE_DOWN.message, logging.ERROR
        ),
        # Redis at maxmemory (noeviction) refuses writes; the store layer logs that as an error
        # once a minute, so each request's answer is only an info line.
        StoreFull: HTTPAnswer(
            503, "store_full", "The service's store is full; try again later.", logging.INFO
        ),
        # Stored values unusable (a lost compare-and-set; a key missing on this replica).
        StoreError: _SERVICE_DOWN,
        GenerationConflict: _SERVICE_DOWN,
        DecryptionError: HTTPAnswer(
            _SERVICE_DOWN.status, _SERVICE_DOWN.error, _SERVICE_DOWN.message, logging.ERROR
        ),
        # Our own HTTP surface.
        AppSessionError: HTTPAnswer(
            401, "invalid_session", "The app session is missing, invalid or ended.", logging.INFO
        ),
        # No active plan for this app: 402, the page shows "subscribe to use this app".
        SubscriptionRequired: HTTPAnswer(
            402,
            "subscription_required",
            "An active subscription to this app is required.",
            logging.INFO,
        ),
        WebhookVerificationError: HTTPAnswer(
            401, "invalid_signature", "The webhook signature was not accepted.", logging.INFO
        ),
    }
)


def answer_for(error: FanvueError | type[FanvueError]) -> HTTPAnswer:
    """The row for an error (or error class): its class's, else its nearest listed ancestor's."""
    cls = error if isinstance(error, type) else type(error)
    for ancestor in cls.__mro__:
        answer = ERROR_TABLE.get(ancestor)
        if answer is not None:
            return answer
    return _INTERNAL  # unreachable: FanvueError itself is listed


def headers_for(exc: FanvueError) -> dict[str, str]:
    """Extra response headers: ``Retry-After`` (whole seconds) on a rate limit."""
    if isinstance(exc, RateLimitedError):
        seconds = DEFAULT_RETRY_AFTER if exc.retry_after is None else exc.retry_after
        return {"Retry-After": str(max(1, math.ceil(seconds)))}
    return {}


def _log(exc: FanvueError, answer: HTTPAnswer, where: str) -> None:
    # Codes and statuses only: messages may quote upstream text, and bodies never reach here.
    upstream = ""
    status = getattr(exc, "status_code", None)
    if isinstance(status, int):
        upstream += f" upstream_status={status}"
    error = getattr(exc, "error", None)
    if isinstance(error, str):
        upstream += f" upstream_error={error[:64]}"
    if isinstance(exc, ReauthorizationRequired):
        upstream += f" reason={exc.reason}"
    if isinstance(exc, InsufficientScope):
        upstream += f" missing={','.join(exc.missing)[:128]}"
    if isinstance(exc, SubscriptionRequired):
        upstream += f" subscription_status={exc.status[:32]}"
    logger.log(
        answer.log_level,
        "%s: %s (%s) answered %d %s%s",
        where,
        exc.code,
        type(exc).__name__,
        answer.status,
        answer.error,
        upstream,
    )


def fanvue_error_response(exc: FanvueError, where: str) -> JSONResponse:
    """The HTTP answer for ``exc`` (logged, with ``where`` naming the route)."""
    answer = answer_for(exc)
    _log(exc, answer, where)
    response = error_response(answer.status, answer.error, answer.message)
    response.headers.update(headers_for(exc))
    return response


async def fanvue_error_handler(request: Request, exc: Exception) -> Response:
    """Starlette exception handler: a ``FanvueError`` no route caught is never a 500."""
    assert isinstance(exc, FanvueError)
    return fanvue_error_response(exc, f"{request.method} {request.url.path}")
