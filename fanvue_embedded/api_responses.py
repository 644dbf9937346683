"""Turn a Fanvue API response into a value or into the typed error carrying what Fanvue said.

Fanvue has no single error envelope; by status it answers (spec, ``conventions.md``)::

    400  {error, message} (unsupported version) | {errors: [...]} (validation) | {message}
    401, 403  {error}        404, 409  {message}        410  {error, message, nextVersion?}
    429  {error} + Retry-After        502, 503  {message}

Every field found is kept on the exception. A 410, or a ``Deprecation`` / ``Sunset`` header on
any answer, logs one warning per process and version naming the version to move to.
"""

from __future__ import annotations

import email.utils
import json
import logging
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from .errors import (
    APIError,
    APIVersionGoneError,
    BadRequestError,
    ConflictError,
    FanvueError,
    ForbiddenError,
    NotFoundError,
    ProtocolError,
    RateLimitedError,
    UnauthorizedError,
    UpstreamServerError,
)

__all__ = [
    "RATE_LIMIT_HEADERS",
    "RateLimit",
    "decode_success",
    "error_for",
    "parse_retry_after",
    "warn_if_deprecated",
]

logger = logging.getLogger("fanvue_embedded.client")

RATE_LIMIT_HEADERS = (
    "X-RateLimit-Limit",
    "X-RateLimit-Remaining",
    "X-RateLimit-Reset",
    "Retry-After",
)
_STATUS_ERRORS: Mapping[int, type[APIError]] = {
    400: BadRequestError,
    401: UnauthorizedError,
    403: ForbiddenError,
    404: NotFoundError,
    409: ConflictError,
    410: APIVersionGoneError,
}


@dataclass(frozen=True, slots=True)
class RateLimit:
    """The rate-limit headers of the last response (None where absent or unparsable)."""

    limit: int | None
    remaining: int | None
    reset: int | None

    @classmethod
    def from_headers(cls, headers: httpx.Headers) -> RateLimit:
        def number(name: str) -> int | None:
            value = headers.get(name)
            try:
                return int(value) if value is not None else None
            except ValueError:
                return None

        return cls(
            number("X-RateLimit-Limit"),
            number("X-RateLimit-Remaining"),
            number("X-RateLimit-Reset"),
        )


def parse_retry_after(value: str | None, *, now: float) -> float | None:
    """``Retry-After`` as seconds from now: delta-seconds or an HTTP-date (RFC 9110 §10.2.3)."""
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - now)


def decode_success(response: httpx.Response, method: str, path: str) -> Any:
    """A 2xx body: parsed JSON, text for ``text/plain`` (the upload part URL), ``None`` for 204."""
    status = response.status_code
    if status == 204:
        return None
    content_type = response.headers.get("content-type", "")
    if content_type.startswith("text/plain"):
        return response.text
    try:
        return json.loads(response.content)
    except (ValueError, UnicodeDecodeError):
        raise ProtocolError(
            f"Fanvue API {method} {path} answered {status} without a JSON body"
        ) from None


def error_for(response: httpx.Response, method: str, path: str, *, now: float) -> FanvueError:
    """The typed error for a non-2xx answer, keeping every field Fanvue sent."""
    status = response.status_code
    body = _json_object(response)
    message = _string(body.get("message"))
    error = _string(body.get("error"))
    errors = _string_list(body.get("errors"))
    rate_limit = {
        name: response.headers[name] for name in RATE_LIMIT_HEADERS if name in response.headers
    }
    text = message or "; ".join(errors) or error or f"Fanvue API answered {status}"
    if status >= 500:
        return UpstreamServerError(text, status_code=status)
    retry_after = parse_retry_after(response.headers.get("Retry-After"), now=now)
    if status == 429:
        return RateLimitedError(
            message or error or "the Fanvue API rate limit was reached",
            retry_after=retry_after,
            rate_limit=rate_limit,
            error=error,
            method=method,
            path=path,
        )
    error_class = _STATUS_ERRORS.get(status, APIError)
    return error_class(
        text,
        status_code=status,
        error=error,
        errors=errors,
        next_version=_string(body.get("nextVersion")),
        method=method,
        path=path,
        rate_limit=rate_limit,
        retry_after=retry_after,
    )


def _json_object(response: httpx.Response) -> dict[str, Any]:
    try:
        data = json.loads(response.content) if response.content else None
    except (ValueError, UnicodeDecodeError):
        return {}
    return data if isinstance(data, dict) else {}


def _string(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _string_list(value: object) -> list[str]:
    if not isinstance(value, list):
        return []
    return [item if isinstance(item, str) else json.dumps(item, sort_keys=True) for item in value]


# --- version deprecation ----------------------------------------------------------------------

_warned: set[str] = set()
_warned_lock = threading.Lock()


def warn_if_deprecated(
    response: httpx.Response, api_version: str, error: FanvueError | None = None
) -> None:
    """Log once per process and version when Fanvue retired (410) or deprecates
    (``Deprecation`` / ``Sunset`` headers) ``api_version``."""
    next_version = error.next_version if isinstance(error, APIVersionGoneError) else None
    retired = isinstance(error, APIVersionGoneError)
    deprecation = response.headers.get("Deprecation")
    sunset = response.headers.get("Sunset")
    if not retired and deprecation is None and sunset is None:
        return
    key = ("retired:" if retired else "deprecated:") + api_version
    with _warned_lock:
        if key in _warned:
            return
        _warned.add(key)
    move_to = f"move to X-Fanvue-API-Version {next_version}" if next_version else None
    if retired:
        logger.warning(
            "Fanvue API version %s is retired (410); %s",
            api_version,
            move_to or "Fanvue named no successor: see its API changelog",
        )
    else:
        logger.warning(
            "Fanvue API version %s is deprecated (Deprecation: %s, Sunset: %s); "
            "move to a newer X-Fanvue-API-Version before the sunset date",
            api_version,
            deprecation or "-",
            sunset or "-",
        )


def reset_deprecation_warnings() -> None:
    """Forget which versions were warned about (for tests)."""
    with _warned_lock:
        _warned.clear()
