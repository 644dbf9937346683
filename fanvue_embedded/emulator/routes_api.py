"""The Fanvue API: ``/users/me``, ``/followers``, ``/chats`` (fault group ``api``).

Order of checks: version header (400/410), bearer token (401), rate limit (429), scope
(403). Every response after authentication carries the rate-limit headers.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from . import catalog
from ._http import counted, error_response, injected_fault
from .records import Creator
from .state import EmulatorState, OAuthError

VERSION_HEADER = "X-Fanvue-API-Version"
Handler = Callable[[Request, Creator], dict[str, Any]]


def _me(request: Request, creator: Creator) -> dict[str, Any]:
    return creator.profile()


def _paged(items: Callable[[str], list[dict[str, Any]]]) -> Handler:
    def handler(request: Request, creator: Creator) -> dict[str, Any]:
        params = request.query_params
        try:
            return catalog.paginate(items(creator.uuid), params.get("cursor"), params.get("size"))
        except catalog.PageError as exc:
            raise OAuthError(400, "invalid_request", str(exc)) from exc

    return handler


def api_routes(state: EmulatorState) -> list[Route]:
    def endpoint(scope: str, handler: Handler) -> Callable[[Request], Any]:
        async def serve(request: Request) -> Response:
            fault = await injected_fault(state.faults, "api")
            if fault is not None:
                return fault
            headers: dict[str, str] = {}
            try:
                version = request.headers.get(VERSION_HEADER)
                if version in state.config.sunset_versions:
                    raise OAuthError(410, "api_version_sunset", f"API version {version} is sunset")
                if version not in state.config.api_versions:
                    raise OAuthError(400, "invalid_api_version", f"send a valid {VERSION_HEADER}")
                creator, claims = state.authenticate_access(request.headers.get("authorization"))
                allowed, headers = state.take_rate_limit(creator.uuid, str(claims.get("client_id")))
                if not allowed:
                    raise OAuthError(429, "rate_limited", "too many requests")
                if scope not in claims.get("scp", []):
                    raise OAuthError(403, "insufficient_scope", f"this call needs {scope}")
                body = handler(request, creator)
            except OAuthError as exc:
                response = error_response(exc)
                response.headers.update(headers)
                return response
            return JSONResponse(body, headers=headers)

        return serve

    return [
        counted(state, "/users/me", endpoint("read:self", _me), ["GET"]),
        counted(state, "/followers", endpoint("read:fan", _paged(catalog.followers)), ["GET"]),
        counted(state, "/chats", endpoint("read:chat", _paged(catalog.chats)), ["GET"]),
    ]
