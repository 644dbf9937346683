"""The service's own routes (DESIGN §5): session exchange, profile, logout, health, metrics."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from ..attempts import address_bucket
from ..errors import (
    AppSessionError,
    FanvueError,
    ProtocolError,
    RejectedError,
    StoreError,
    StoreUnavailable,
    TransientError,
)
from ..metrics import CONTENT_TYPE
from ..scopes import missing_scopes
from .auth import (
    CreatorContext,
    authenticated,
    clear_session_cookie,
    set_session_cookie,
    verify_request_session,
)
from .error_table import fanvue_error_response
from .json_body import BadRequest, read_json_object
from .openapi import PROFILE_REF, error_answer, json_answer, operation
from .responses import error_response, json_response
from .services import services_of
from .signin import authorize_checked, commit_sign_in
from .urls import app_path

__all__ = ["healthz", "logout", "me", "metrics", "readyz", "session_exchange"]

# Everything the exchange (and the standard flow's callback) can meet on the way to Fanvue and
# the store: refusals (401/403/502), protocol breaks (502), outages and rate limits (502/429/503).
EXCHANGE_ERRORS = (RejectedError, ProtocolError, TransientError, StoreError)
_INPUT_ERRORS = {
    "400": error_answer("invalid_request, invalid_json"),
    "413": error_answer("payload_too_large"),
    "415": error_answer("unsupported_media_type"),
}
_TOKEN_BODY = {
    "type": "object",
    "required": ["token"],
    "properties": {
        "token": {
            "type": "string",
            "minLength": 1,
            "description": "The ~60 s session token Fanvue appended to the embed URL.",
        }
    },
}
_SESSION_ANSWER = {
    "type": "object",
    "required": ["expiresAt", "creator"],
    "properties": {
        "session": {
            "type": "string",
            "description": "The app session (bearer mode; in cookie mode it is only in the cookie).",
        },
        "expiresAt": {"type": "integer", "description": "Unix seconds."},
        "creator": PROFILE_REF,
        "csrfToken": {"type": "string", "description": "Cookie mode only."},
        "missingScopes": {
            "type": "array",
            "items": {"type": "string"},
            "description": "Configured scopes the creator has not granted (they connected "
            "before the app's scopes grew).",
        },
        "reauthorizeUrl": {
            "type": "string",
            "description": "Where to grant them (the standard flow); only when some are missing.",
        },
    },
}


@operation(
    "Trade Fanvue's session token for an app session.",
    operation_id="exchangeSession",
    request_body={"required": True, "content": {"application/json": {"schema": _TOKEN_BODY}}},
    answers={"200": json_answer(_SESSION_ANSWER, "Signed in."), **_INPUT_ERRORS},
    errors=EXCHANGE_ERRORS,
)
async def session_exchange(request: Request) -> Response:
    """``POST /api/fanvue/session``: ``{"token"}`` → an app session and the creator."""
    services = services_of(request)
    try:
        body = await read_json_object(request)
    except BadRequest as exc:
        return error_response(exc.status_code, exc.error, exc.message)
    token = body.get("token")
    if not isinstance(token, str) or not token:
        return error_response(400, "invalid_request", "'token' must be a non-empty string")
    address = address_bucket(request.client.host if request.client else None)
    try:
        # The failed-attempts limit per address, then the token commit and the app session's
        # record written at once (signin.py).
        authorized = await authorize_checked(
            services.exchange, services.exchange_failures, token, address
        )
        result, issued = await commit_sign_in(services.exchange, services.sessions, authorized)
    except FanvueError as exc:
        # The one table decides: an unusable token 401, no consent 403, too many failures 429,
        # the store down 503, anything else Fanvue-side 502. The detail goes to our log only.
        services.metrics.session_exchanges.labels(exc.code).inc()
        return fanvue_error_response(exc, "POST /api/fanvue/session")
    services.metrics.session_exchanges.labels("ok").inc()
    content: dict[str, Any] = {"expiresAt": int(issued.expires_at)}
    cookie_name = services.settings.session_cookie_name
    if cookie_name:
        # Cookie mode: the session rides in the HttpOnly cookie only, out of scripts' reach.
        content["csrfToken"] = issued.csrf_token
    else:
        content["session"] = issued.token
    content["creator"] = result.user.public_profile()
    # Scope drift: the grant is the app's registered scopes at consent time; ours may be more.
    missing = missing_scopes(services.settings.scopes, result.tokens.scopes)
    content["missingScopes"] = list(missing)
    if missing:
        content["reauthorizeUrl"] = app_path(request, "/oauth/login")
    response = json_response(content)
    if cookie_name:
        set_session_cookie(response, cookie_name, issued, services.clock())
    return response


@authenticated
@operation(
    "The creator's profile, fetched live from the Fanvue API.",
    operation_id="currentCreator",
    answers={
        "200": json_answer(
            {
                "allOf": [
                    PROFILE_REF,
                    {"type": "object", "properties": {"isCreator": {"type": "boolean"}}},
                ]
            },
            "The profile.",
            headers={
                "X-Updated-Session": {
                    "description": "A renewed app session, sent past half the presented "
                    "one's life.",
                    "schema": {"type": "string"},
                }
            },
        )
    },
)
async def me(request: Request, ctx: CreatorContext) -> Response:
    """``GET /api/me``: the creator's profile, fetched live from the Fanvue API."""
    user = await ctx.api.get_current_user()
    return json_response({**user.public_profile(), "isCreator": user.is_creator})


@operation(
    "End the app session on the server.",
    operation_id="logout",
    secured=True,
    answers={
        "200": json_answer({"type": "object", "properties": {"ok": {"type": "boolean"}}}, "Ended.")
    },
    errors=(AppSessionError, StoreUnavailable),
)
async def logout(request: Request) -> Response:
    """``POST /api/fanvue/logout``: ends the app session server-side (idempotent)."""
    services = services_of(request)
    try:
        session = await verify_request_session(request)
        await services.sessions.end(session.session_id)
    except FanvueError as exc:  # no valid session 401, the store down 503
        return fanvue_error_response(exc, "POST /api/fanvue/logout")
    response = json_response({"ok": True})
    if services.settings.session_cookie_name:
        clear_session_cookie(response, services.settings.session_cookie_name)
    return response


@operation(
    "Liveness.", operation_id="healthz", answers={"200": json_answer({"type": "object"}, "Alive.")}
)
async def healthz(request: Request) -> Response:
    return json_response({"status": "ok"})


@operation(
    "Readiness: the store can be reached.",
    operation_id="readyz",
    answers={
        "200": json_answer({"type": "object"}, "Ready."),
        "503": json_answer({"type": "object"}, "The store is unreachable."),
    },
)
async def readyz(request: Request) -> Response:
    services = services_of(request)
    ready = await services.ready()  # store reachable and writable (cached ~1 s)
    if not ready:
        return json_response({"status": "unavailable", "store": "unreachable"}, 503)
    return json_response({"status": "ready"})


@operation(
    "Prometheus text exposition.",
    operation_id="metrics",
    answers={
        "200": {
            "description": "Metrics.",
            "content": {"text/plain": {"schema": {"type": "string"}}},
        }
    },
)
async def metrics(request: Request) -> Response:
    return Response(services_of(request).metrics.render(), media_type=CONTENT_TYPE)
