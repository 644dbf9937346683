"""The Fanvue API, called for one creator.

``FanvueClient`` sends ``X-Fanvue-API-Version`` on every call, maps every non-2xx answer to a
typed error carrying what Fanvue said (``api_responses``), waits out a short ``Retry-After`` on
429, and — when given a token *provider* rather than a fixed token — answers one 401 with one
forced refresh and one retry.

``call(operation_id, ...)`` reaches any of Fanvue's operations, checked against the spec
before anything is sent (``api_params``); ``paginate`` walks either list style to the end
(``paging``).

A provider is any ``async (rejected: str | None) -> str``: ``TokenManager.provider(creator)``
gives one backed by the refresh coordinator. When ``rejected`` is set, the provider must
return a token other than the rejected one (refreshing if nobody else has yet).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any, Protocol

import httpx

from ._http import build_async_client, translate_transport_errors
from .api_params import check_body, check_path_params, encode_query
from .api_responses import (
    RateLimit,
    decode_success,
    error_for,
    parse_retry_after,
    warn_if_deprecated,
)
from .budget import Bucket, RateBudget, Taken, bucket_for
from .errors import InsufficientScope, ProtocolError, RateLimitedError, StoreUnavailable
from .metrics import Metrics
from .models import FanvueUser, system_clock
from .paging import DEFAULT_MAX_PAGES, plan_for, walk
from .scopes import GrantedScopes, check_operation_scopes
from .spec import Operation, Spec, load_spec
from .values import DEFAULT_API_VERSION

__all__ = ["AccessTokenProvider", "FanvueClient", "RateLimit", "parse_retry_after"]

logger = logging.getLogger("fanvue_embedded.client")


_BUDGET_LOG_INTERVAL = 60.0
_budget_logged_at: float | None = None


def _log_budget_down() -> None:
    """Say once a minute that calls go out uncounted while the budget's Redis is down."""
    global _budget_logged_at
    now = time.monotonic()
    if _budget_logged_at is None or now - _budget_logged_at >= _BUDGET_LOG_INTERVAL:
        _budget_logged_at = now
        logger.warning("rate-limit budget unavailable (Redis down): calls go out uncounted")


async def _take_budget(budget: RateBudget, bucket: Bucket, method: str, path: str) -> Taken | None:
    try:
        return await budget.acquire(bucket, method=method, path=path)
    except StoreUnavailable:
        # The budget is advisory: without Redis the call still goes (Fanvue's 429 handling
        # remains), as tokens are still served from a held set meanwhile.
        _log_budget_down()
        return None


async def _sync_budget(
    budget: RateBudget,
    bucket: Bucket,
    rate_limit: RateLimit,
    retry_after: float | None,
    taken: Taken | None,
) -> None:
    try:
        await budget.observe(bucket, rate_limit, retry_after=retry_after, taken=taken)
    except StoreUnavailable:
        _log_budget_down()


class AccessTokenProvider(Protocol):
    async def __call__(self, *, rejected: str | None = None) -> str: ...


class FanvueClient:
    """The Fanvue API for one creator.

    ``access_token`` is a fixed token (no refresh possible) or an ``AccessTokenProvider``.
    ``max_retry_after`` bounds how long a 429 is waited out in-line (at most
    ``rate_limit_retries`` times); longer waits raise ``RateLimitedError`` for the caller to
    schedule. ``spec`` defaults to the packaged Fanvue spec (``load_spec()``).
    ``granted_scopes`` reads the creator's grant: spec-checked calls needing a scope outside
    it raise ``InsufficientScope`` before sending (``TokenManager.client`` passes it).

    ``budget`` (with ``acting_for``, the uuid of the user whose token this is) takes a token
    from the shared rate-limit budget before every request and re-syncs it from every
    response (``budget.py``); without it, nothing is counted on this side.
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
        spec: Spec | None = None,
        granted_scopes: GrantedScopes | None = None,
        budget: RateBudget | None = None,
        acting_for: str | None = None,
    ) -> None:
        if budget is not None and not acting_for:
            raise ValueError("a rate-limit budget needs acting_for (the token's user uuid)")
        self._budget = budget
        self._acting_for = acting_for or ""
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
        self.spec = spec or load_spec()
        self.last_rate_limit: RateLimit | None = None
        self._granted_scopes = granted_scopes
        self._granted: frozenset[str] | None = None

    @property
    def http(self) -> httpx.AsyncClient:
        """The httpx client requests go through (its transport, timeouts and limits)."""
        return self._http

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
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        json_body: Any = None,
    ) -> Any:
        """Send one API call as given (no spec check) and return its decoded body.

        JSON is parsed, ``text/plain`` is returned as text, 204 is ``None``. ``json`` is the
        request body, as in httpx (``json_body`` is its older name).
        """
        if json_body is not None:
            if json is not None:
                raise ValueError("pass the request body as json= or json_body=, not both")
            json = json_body
        if not path.startswith("/") or "?" in path or "#" in path:
            raise ValueError(f"path must start with '/' and carry no query, got {path!r}")
        return await self._execute(method.upper(), path, params, json)

    async def call(
        self,
        operation_id: str,
        *,
        path: Mapping[str, object] | None = None,
        params: Mapping[str, object] | None = None,
        json: Any = None,
    ) -> Any:
        """Call one of Fanvue's operations by ``operationId``, checked against the spec.

        ``path`` fills the path parameters (all required, URL-encoded); ``params`` is the query
        (``None`` values left out; booleans as ``"true"``/``"false"``, lists comma-separated);
        ``json`` the body. An unknown operation, parameter or field, a missing one, or a value
        outside the spec's type, bounds or allowed values raises ``ValueError`` naming it
        before anything is sent. Returns parsed JSON, text for ``text/plain`` answers (the
        upload part URL) and ``None`` for 204.
        """
        operation = self.spec.get(operation_id)
        concrete = check_path_params(operation, path or {})
        query = encode_query(operation, params)
        check_body(operation, json)
        await self._check_scopes(operation)
        return await self._execute(operation.method, concrete, query, json)

    async def _check_scopes(self, operation: Operation) -> None:
        """Scope drift: refuse what the creator's grant lacks before sending. The grant is
        read once per client; a miss is confirmed by a fresh read (a re-consent since)."""
        if self._granted_scopes is None or not operation.scopes:
            return
        if self._granted is None:
            self._granted = await self._granted_scopes()
        try:
            check_operation_scopes(operation, self._granted)
        except InsufficientScope:
            self._granted = await self._granted_scopes()
            check_operation_scopes(operation, self._granted)

    async def _execute(
        self, method: str, path: str, params: Mapping[str, Any] | None, json: Any
    ) -> Any:
        token = await self._token()
        refreshed = False
        rate_limited = 0
        while True:
            response = await self._send(method, path, token, params, json)
            status = response.status_code
            if 200 <= status < 300:
                warn_if_deprecated(response, self.api_version)
                return decode_success(response, method, path)
            if status == 401 and self._provider is not None and not refreshed:
                # One forced refresh, one retry: the token may have expired early or been
                # rotated out under us. A second 401 is a real refusal.
                refreshed = True
                token = await self._token(rejected=token)
                continue
            error = error_for(response, method, path, now=self._clock())
            warn_if_deprecated(response, self.api_version, error)
            if isinstance(error, RateLimitedError):
                retry_after = error.retry_after
                if (
                    retry_after is not None
                    and retry_after <= self._max_retry_after
                    and rate_limited < self._rate_limit_retries
                ):
                    rate_limited += 1
                    await self._sleep(retry_after)
                    continue
            raise error

    async def _send(
        self,
        method: str,
        path: str,
        token: str,
        params: Mapping[str, Any] | None,
        json: Any,
    ) -> httpx.Response:
        headers = {
            "Authorization": f"Bearer {token}",
            "X-Fanvue-API-Version": self.api_version,
            "Accept": "application/json",
        }
        budget = self._budget
        bucket = bucket_for(self._acting_for, path) if budget is not None else None
        taken = None
        if budget is not None and bucket is not None:
            taken = await _take_budget(budget, bucket, method, path)
        with self._metrics.observe_upstream("api"):
            async with translate_transport_errors(f"Fanvue API {method} {path}"):
                response = await self._http.request(
                    method,
                    self.api_base_url + path,
                    params=dict(params) if params else None,
                    json=json,
                    headers=headers,
                )
                await response.aread()
        rate_limit = RateLimit.from_headers(response.headers)
        self.last_rate_limit = rate_limit
        if budget is not None and bucket is not None:
            retry_after = None
            if response.status_code == 429:
                retry_after = parse_retry_after(
                    response.headers.get("Retry-After"), now=self._clock()
                )
            await _sync_budget(budget, bucket, rate_limit, retry_after, taken)
        return response

    async def get(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        """``GET path`` as given (no spec check); see :meth:`request`."""
        return await self.request("GET", path, params=params)

    async def get_current_user(self) -> FanvueUser:
        """``GET /users/me`` (scope ``read:self``)."""
        data = await self.call("getCurrentUser")
        try:
            return FanvueUser.from_api(data)
        except (KeyError, TypeError, AttributeError) as exc:
            raise ProtocolError("GET /users/me returned a malformed user") from exc

    async def paginate(
        self,
        path_or_operation_id: str,
        *,
        path: Mapping[str, object] | None = None,
        params: Mapping[str, object] | None = None,
        page_size: int | None = None,
        max_items: int | None = None,
        max_pages: int = DEFAULT_MAX_PAGES,
        **query: object,
    ) -> AsyncIterator[Any]:
        """Yield every item of a Fanvue list, fetching page after page to the end.

        The list is an ``operationId`` (``"listCreatorFollowers"``, with ``path=`` for its
        path parameters) or a concrete path (``"/followers"``). Its style — page/size with
        ``hasMore``, or cursor with ``nextCursor`` — and its size parameter (``size`` or
        ``limit``) come from the spec. ``page_size`` is checked against the spec's bounds
        (1-50); ``max_items`` stops early; filters go in ``params`` or as keywords. A server
        that loops (a cursor twice, a repeated page, more than ``max_pages``) raises
        ``ProtocolError``.
        """
        operation, concrete = self._list_operation(path_or_operation_id, path)
        await self._check_scopes(operation)
        plan = plan_for(operation)
        user_query = dict(params or {})
        user_query.update(query)
        encoded = encode_query(operation, user_query)
        encoded.update(plan.size_query(page_size))

        async def fetch(page_query: Mapping[str, str]) -> Any:
            return await self._execute("GET", concrete, page_query, None)

        pages = walk(
            fetch, plan, f"GET {concrete}", encoded, max_items=max_items, max_pages=max_pages
        )
        async with contextlib.aclosing(pages):
            async for items in pages:
                for item in items:
                    yield item

    def _list_operation(
        self, target: str, path: Mapping[str, object] | None
    ) -> tuple[Operation, str]:
        if not target.startswith("/"):
            operation = self.spec.get(target)
            return operation, check_path_params(operation, path or {})
        if path is not None:
            raise ValueError("path= fills an operationId's path parameters, not a concrete path")
        if "?" in target or "#" in target:
            raise ValueError(f"pass the query as params=, not in the path: {target!r}")
        resolved = self.spec.resolve("GET", target)
        if resolved is None:
            raise ValueError(f"no Fanvue operation serves GET {target}")
        return resolved[0], target

    async def aclose(self) -> None:
        if self._owns_http:
            await self._http.aclose()

    async def __aenter__(self) -> FanvueClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()
