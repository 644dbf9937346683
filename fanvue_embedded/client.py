"""The Fanvue API, called for one creator.

``FanvueClient`` sends ``X-Fanvue-API-Version`` on every call, maps every non-2xx answer to a
typed error, waits out a short ``Retry-After`` on 429, and — when given a token *provider*
rather than a fixed token — answers one 401 with one forced refresh and one retry.

A provider is any ``async (rejected: str | None) -> str``: ``TokenManager.provider(creator)``
gives one backed by the refresh coordinator. When ``rejected`` is set, the provider must
return a token other than the rejected one (refreshing if nobody else has yet).
"""

from __future__ import annotations

import asyncio
import email.utils
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import httpx

from ._http import build_async_client, translate_transport_errors
from .errors import (
    APIError,
    APIVersionGoneError,
    BadRequestError,
    ForbiddenError,
    NotFoundError,
    ProtocolError,
    RateLimitedError,
    UnauthorizedError,
    UpstreamServerError,
)
from .metrics import Metrics
from .models import FanvueUser, system_clock
from .values import DEFAULT_API_VERSION

__all__ = ["AccessTokenProvider", "FanvueClient", "RateLimit", "parse_retry_after"]

_RATE_LIMIT_HEADERS = (
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
    410: APIVersionGoneError,
}


class AccessTokenProvider(Protocol):
    async def __call__(self, *, rejected: str | None = None) -> str: ...


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


class FanvueClient:
    """The Fanvue API for one creator.

    ``access_token`` is a fixed token (no refresh possible) or an ``AccessTokenProvider``.
    ``max_retry_after`` bounds how long a 429 is waited out in-line (at most
    ``rate_limit_retries`` times); longer waits raise ``RateLimitedError`` for the caller to
    schedule.
    """

    def __init__(
        self,
        access_token: str | AccessTokenProvider,
        *,
        api_base_url: str,
        api_version: str = DEFAULT_API_VERSION,
        http: httpx.AsyncClient | None = None,
        max_retry_after: float = 10.0,
        rate_limit_retries: int = 2,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        clock: Callable[[], float] = system_clock,
        metrics: Metrics | None = None,
    ) -> None:
        self._provider: AccessTokenProvider | None = None
        self._fixed_token: str | None = None
        if isinstance(access_token, str):
            if not access_token:
                raise ValueError("access_token is empty")
            self._fixed_token = access_token
        else:
            self._provider = access_token
        self.api_base_url = api_base_url.rstrip("/")
        self.api_version = api_version
        self._http = http or build_async_client()
        self._owns_http = http is None
        self._max_retry_after = max_retry_after
        self._rate_limit_retries = rate_limit_retries
        self._sleep = sleep
        self._clock = clock
        self._metrics = metrics or Metrics()
        self.last_rate_limit: RateLimit | None = None

    def __repr__(self) -> str:
        return f"FanvueClient(api_base_url={self.api_base_url!r}, api_version={self.api_version!r})"

    async def _token(self, rejected: str | None = None) -> str:
        if self._provider is not None:
            return await self._provider(rejected=rejected)
        assert self._fixed_token is not None
        return self._fixed_token

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str | int] | None = None,
        json_body: Any = None,
    ) -> Any:
        """Send one API call and return its decoded JSON body (``None`` for 204)."""
        if not path.startswith("/"):
            raise ValueError(f"path must start with '/', got {path!r}")
        token = await self._token()
        refreshed = False
        rate_limited = 0
        while True:
            response = await self._send(method, path, token, params, json_body)
            status = response.status_code
            if status == 401 and self._provider is not None and not refreshed:
                # One forced refresh, one retry: the token may have expired early or been
                # rotated out under us. A second 401 is a real refusal.
                refreshed = True
                token = await self._token(rejected=token)
                continue
            if status == 429:
                retry_after = parse_retry_after(
                    response.headers.get("Retry-After"), now=self._clock()
                )
                if (
                    retry_after is not None
                    and retry_after <= self._max_retry_after
                    and rate_limited < self._rate_limit_retries
                ):
                    rate_limited += 1
                    await self._sleep(retry_after)
                    continue
                raise RateLimitedError(
                    "the Fanvue API rate limit was reached",
                    retry_after=retry_after,
                    rate_limit=self._rate_limit_headers(response),
                )
            return self._decode(response)

    async def _send(
        self,
        method: str,
        path: str,
        token: str,
        params: Mapping[str, str | int] | None,
        json_body: Any,
    ) -> httpx.Response:
        headers = {
            "Authorization": f"Bearer {token}",
            "X-Fanvue-API-Version": self.api_version,
            "Accept": "application/json",
        }
        with self._metrics.observe_upstream("api"):
            async with translate_transport_errors(f"Fanvue API {method} {path}"):
                response = await self._http.request(
                    method,
                    self.api_base_url + path,
                    params=dict(params) if params else None,
                    json=json_body,
                    headers=headers,
                )
                await response.aread()
        self.last_rate_limit = RateLimit.from_headers(response.headers)
        return response

    @staticmethod
    def _rate_limit_headers(response: httpx.Response) -> dict[str, str]:
        return {
            name: response.headers[name] for name in _RATE_LIMIT_HEADERS if name in response.headers
        }

    def _decode(self, response: httpx.Response) -> Any:
        status = response.status_code
        if status == 204:
            return None
        try:
            data = json.loads(response.content) if response.content else None
        except (ValueError, UnicodeDecodeError):
            data = None
        if 200 <= status < 300:
            if data is None:
                raise ProtocolError(f"Fanvue API answered {status} without a JSON body")
            return data
        if status >= 500:
            raise UpstreamServerError(f"Fanvue API answered {status}", status_code=status)
        error = data.get("error") if isinstance(data, dict) else None
        error_class = _STATUS_ERRORS.get(status, APIError)
        raise error_class(
            f"Fanvue API answered {status}" + (f" ({error})" if isinstance(error, str) else ""),
            status_code=status,
            error=error if isinstance(error, str) else None,
            rate_limit=self._rate_limit_headers(response),
        )

    async def get(self, path: str, params: Mapping[str, str | int] | None = None) -> Any:
        return await self.request("GET", path, params=params)

    async def get_current_user(self) -> FanvueUser:
        """``GET /users/me`` (scope ``read:self``)."""
        data = await self.get("/users/me")
        try:
            return FanvueUser.from_api(data)
        except (KeyError, TypeError, AttributeError) as exc:
            raise ProtocolError("GET /users/me returned a malformed user") from exc

    async def paginate(
        self,
        path: str,
        *,
        params: Mapping[str, str | int] | None = None,
        page_size: int | None = None,
    ) -> AsyncIterator[Any]:
        """Yield every item of a cursor-paginated list (``data`` + ``nextCursor``) to the end."""
        query: dict[str, str | int] = dict(params or {})
        if page_size is not None:
            query["size"] = page_size
        seen: set[str] = set()
        while True:
            page = await self.get(path, query)
            items = page.get("data") if isinstance(page, dict) else None
            if not isinstance(items, list):
                raise ProtocolError(f"GET {path} did not return a paginated list")
            for item in items:
                yield item
            cursor = page.get("nextCursor")
            if cursor is None:
                return
            if not isinstance(cursor, str) or not cursor or cursor in seen:
                # A repeated cursor would loop forever; a non-string one is not a cursor.
                raise ProtocolError(f"GET {path} returned an invalid nextCursor")
            seen.add(cursor)
            query["cursor"] = cursor

    async def aclose(self) -> None:
        if self._owns_http:
            await self._http.aclose()

    async def __aenter__(self) -> FanvueClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()
