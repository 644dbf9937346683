"""The Fanvue API: all operations of the published spec behind one dispatcher (fault group ``api``).

Order of checks, each with Fanvue's own error body: route (404 ``{message}``), version header
(400 ``{error, message}`` / 410 ``{error, message, nextVersion}``), bearer token (401
``{error}``), rate limit (429 ``{error}`` + ``Retry-After``), scopes (403 ``{error}``), path
parameters, query and body (400), agency access (403/404), then the operation's handler. Every
response after authentication carries ``X-RateLimit-Limit/-Remaining/-Reset``.
"""

from __future__ import annotations

import functools
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from fanvue_embedded.spec import Operation, load_spec

from ._http import api_unavailable, injected_fault
from .api import errors, params
from .api.call import Call
from .api.table import HANDLERS
from .deliveries import Deliveries
from .state import EmulatorState, OAuthError

VERSION_HEADER = "X-Fanvue-API-Version"
METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]
CREATOR_PARAM = "creatorUserUuid"


def _error(exc: errors.ApiError, headers: dict[str, str]) -> Response:
    return JSONResponse(exc.body, status_code=exc.status, headers={**headers, **exc.headers})


def _success(operation: Operation, body: Any, headers: dict[str, str]) -> Response:
    status = operation.response.status
    if status == 204:
        return Response(status_code=204, headers=headers)
    if operation.response.content_type == "text/plain":
        return PlainTextResponse(str(body), status_code=status, headers=headers)
    return JSONResponse(body, status_code=status, headers=headers)


def check_version(state: EmulatorState, request: Request) -> None:
    """The version header: 400 when missing or unknown, 410 when retired."""
    version = request.headers.get(VERSION_HEADER)
    settings = state.settings
    if version is not None and version in settings.retired_api_versions:
        raise errors.sunset_version(version, settings.api_versions[-1])
    if version not in settings.api_versions:
        raise errors.unsupported_version(version)


def authenticate(state: EmulatorState, request: Request) -> tuple[str, str, tuple[str, ...]]:
    """(creator uuid, client id, scopes) of the bearer token; 401 ``{error}`` otherwise."""
    try:
        creator, claims = state.authenticate_access(request.headers.get("authorization"))
    except OAuthError as exc:
        raise errors.unauthorized(exc.description) from exc
    scopes = claims.get("scp", [])
    return creator.uuid, str(claims.get("client_id")), tuple(map(str, scopes))


def api_routes(state: EmulatorState, deliveries: Deliveries) -> list[Route]:
    spec = load_spec()

    def agency_world(operation: Operation, caller: str, path: dict[str, Any]) -> str:
        """The uuid of the world the call acts on (the managed creator's for mirrors)."""
        if not operation.agency:
            return caller
        if not state.worlds.is_agency(caller):
            raise errors.forbidden("agency access required")
        target = path.get(CREATOR_PARAM)
        if target is None:
            return caller
        if not state.worlds.manages(caller, str(target)):
            if 404 in operation.errors:
                raise errors.not_found("Creator not found")
            raise errors.forbidden("creator is not managed by this agency")
        return str(target)

    async def serve(request: Request) -> Response:
        fault = await injected_fault(
            state.faults, "api", answer=functools.partial(api_unavailable, request.url.path)
        )
        if fault is not None:
            return fault
        raw_path = request.scope.get("raw_path") or request.url.path.encode()
        path_text = raw_path.decode("latin-1").split("?", 1)[0]
        found = spec.resolve(request.method, path_text)
        if found is None:
            return JSONResponse(
                {"message": f"Cannot {request.method} {request.url.path}"}, status_code=404
            )
        operation, raw_params = found
        state.count_call(f"{operation.method} {operation.path}")
        headers: dict[str, str] = {}
        try:
            check_version(state, request)
            caller, client_id, scopes = authenticate(state, request)
            bucket = f"{client_id}:{caller}"
            if CREATOR_PARAM in raw_params:
                bucket += f":{raw_params[CREATOR_PARAM]}"
            allowed, headers = state.take_rate_limit(bucket)
            if not allowed:
                raise errors.rate_limited(headers)
            missing = [scope for scope in operation.scopes if scope not in scopes]
            if missing:
                raise errors.forbidden(f"insufficient scope: {' '.join(missing)} required")
            path = params.path_params(operation, raw_params)
            query = params.query_params(operation, list(request.query_params.multi_items()))
            body = params.json_body(
                operation, await request.body(), request.headers.get("content-type", "")
            )
            with state.worlds.lock:
                target = agency_world(operation, caller, path)
                call = Call(
                    operation=operation,
                    path=path,
                    query=query,
                    body=body,
                    caller=caller,
                    worlds=state.worlds,
                    world=state.worlds.world(target),
                    base_url=str(request.base_url).rstrip("/"),
                    settings=state.settings,
                )
                result = HANDLERS[operation.operation_id](call)
        except errors.ApiError as exc:
            return _error(exc, headers)
        finally:
            deliveries.send_queued()  # e.g. message.read after a chat was read
        return _success(operation, result, headers)

    return [Route("/{path:path}", serve, methods=METHODS)]
