"""The service's own routes (DESIGN §5): session exchange, profile, logout, health, metrics."""

from __future__ import annotations

import json
import logging
from typing import Any

from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response

from ..errors import (
    AppSessionError,
    ConsentRequired,
    FanvueError,
    InvalidSessionToken,
    StoreUnavailable,
)
from ..metrics import CONTENT_TYPE
from .auth import (
    CreatorContext,
    authenticated,
    clear_session_cookie,
    set_session_cookie,
    verify_request_session,
)
from .responses import error_response, json_response
from .services import services_of

__all__ = ["healthz", "logout", "me", "metrics", "readyz", "session_exchange"]

logger = logging.getLogger("fanvue_embedded.app")

MAX_JSON_BODY = 8 * 1024


class BadRequest(Exception):
    def __init__(self, status_code: int, error: str, detail: str) -> None:
        super().__init__(detail)
        self.status_code = status_code
        self.error = error
        self.detail = detail


async def read_json_object(request: Request, limit: int = MAX_JSON_BODY) -> dict[str, Any]:
    """The request body as a JSON object, bounded in size; ``BadRequest`` otherwise."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/json":
        raise BadRequest(415, "unsupported_media_type", "send application/json")
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > limit):
        raise BadRequest(413, "payload_too_large", f"the body is limited to {limit} bytes")
    body = bytearray()
    try:
        async for chunk in request.stream():
            body.extend(chunk)
            if len(body) > limit:
                raise BadRequest(413, "payload_too_large", f"the body is limited to {limit} bytes")
    except ClientDisconnect as exc:
        raise BadRequest(400, "invalid_request", "the request body was cut off") from exc
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadRequest(400, "invalid_request", "the body is not valid JSON") from exc
    if not isinstance(data, dict):
        raise BadRequest(400, "invalid_request", "the body must be a JSON object")
    return data


async def session_exchange(request: Request) -> Response:
    """``POST /api/fanvue/session``: ``{"token"}`` → an app session and the creator."""
    services = services_of(request)
    try:
        body = await read_json_object(request)
    except BadRequest as exc:
        return error_response(exc.status_code, exc.error, exc.detail)
    token = body.get("token")
    if not isinstance(token, str) or not token:
        return error_response(400, "invalid_request", "'token' must be a non-empty string")
    try:
        result = await services.exchange.exchange(token)
        issued = await services.sessions.issue(result.user.uuid)
    except InvalidSessionToken:
        services.metrics.session_exchanges.labels("invalid_session_token").inc()
        return error_response(401, "invalid_session_token")
    except ConsentRequired:
        services.metrics.session_exchanges.labels("consent_required").inc()
        return error_response(403, "consent_required")
    except StoreUnavailable:
        services.metrics.session_exchanges.labels("store_unavailable").inc()
        logger.exception("session exchange: token store unavailable")
        return error_response(503, "service_unavailable")
    except FanvueError as exc:
        # Anything else Fanvue-side (refusals, protocol breaks, outages, invalid_client) is
        # not the creator's fault; the detail goes to our log only.
        services.metrics.session_exchanges.labels(exc.code).inc()
        log = logger.error if exc.code in ("invalid_client", "state_mismatch") else logger.warning
        log("session exchange failed: %s (%s)", exc.code, type(exc).__name__)
        return error_response(502, "upstream_unavailable")
    services.metrics.session_exchanges.labels("ok").inc()
    content: dict[str, Any] = {
        "session": issued.token,
        "expiresAt": int(issued.expires_at),
        "creator": result.user.public_profile(),
    }
    cookie_name = services.settings.session_cookie_name
    if cookie_name:
        content["csrfToken"] = issued.csrf_token
    response = json_response(content)
    if cookie_name:
        set_session_cookie(response, cookie_name, issued, services.clock())
    return response


@authenticated
async def me(request: Request, ctx: CreatorContext) -> Response:
    """``GET /api/me``: the creator's profile, fetched live from the Fanvue API."""
    user = await ctx.api.get_current_user()
    return json_response({**user.public_profile(), "isCreator": user.is_creator})


async def logout(request: Request) -> Response:
    """``POST /api/fanvue/logout``: ends the app session server-side (idempotent)."""
    services = services_of(request)
    try:
        session = await verify_request_session(request)
    except AppSessionError:
        return error_response(401, "invalid_session")
    await services.sessions.end(session.session_id)
    response = json_response({"ok": True})
    if services.settings.session_cookie_name:
        clear_session_cookie(response, services.settings.session_cookie_name)
    return response


async def healthz(request: Request) -> Response:
    return json_response({"status": "ok"})


async def readyz(request: Request) -> Response:
    services = services_of(request)
    ready = await services.ready()  # store reachable and writable (cached ~1 s)
    if not ready:
        return json_response({"status": "unavailable", "store": "unreachable"}, 503)
    return json_response({"status": "ready"})


async def metrics(request: Request) -> Response:
    return Response(services_of(request).metrics.render(), media_type=CONTENT_TYPE)
