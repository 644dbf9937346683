"""Fanvue's error bodies, status by status (conventions.md "Error bodies by status").

There is no single envelope: 400 is ``{error, message}`` for the version header, ``{errors}``
for validation and ``{message}`` for a bad UUID; 401/403/429 are ``{error}``; 404/409 are
``{message}``; 410 is ``{error, message, nextVersion}``.
"""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    """Answer the call with ``status`` and ``body`` (plus ``headers``) instead of a result."""

    def __init__(self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None):
        super().__init__(f"{status} {body}")
        self.status = status
        self.body = body
        self.headers = dict(headers or {})


def unsupported_version(version: str | None) -> ApiError:
    shown = "missing" if version is None else f"{version!r} is not supported"
    return ApiError(
        400,
        {
            "error": "unsupported_api_version",
            "message": f"X-Fanvue-API-Version is {shown}; send a supported version",
        },
    )


def sunset_version(version: str, next_version: str) -> ApiError:
    return ApiError(
        410,
        {
            "error": "api_version_sunset",
            "message": f"API version {version} has been retired; migrate to {next_version}",
            "nextVersion": next_version,
        },
    )


def validation(*errors: str) -> ApiError:
    """400 ``{errors: [...]}``: each string names the parameter or field it is about."""
    return ApiError(400, {"errors": list(errors)})


def bad_request(message: str) -> ApiError:
    """400 ``{message}``: a malformed UUID path parameter, a contactability or content refusal."""
    return ApiError(400, {"message": message})


def unauthorized(reason: str = "unauthorized") -> ApiError:
    return ApiError(401, {"error": reason})


def forbidden(reason: str) -> ApiError:
    return ApiError(403, {"error": reason})


def not_found(message: str) -> ApiError:
    return ApiError(404, {"message": message})


def conflict(message: str) -> ApiError:
    return ApiError(409, {"message": message})


def rate_limited(headers: dict[str, str]) -> ApiError:
    return ApiError(429, {"error": "rate_limit_exceeded"}, headers)
