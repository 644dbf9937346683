"""The standard (off-platform) OAuth flow: ``/oauth/login`` and ``/oauth/callback``.

The PKCE verifier never leaves the server: it is kept in the ephemeral store under the
state for ten minutes and taken (read + deleted) once. A cookie binds the state to the
browser that started the login, so a callback link from someone else is refused.
"""

from __future__ import annotations

import hmac
import logging

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from ..errors import (
    FanvueError,
    ProtocolError,
    RejectedError,
    StoreError,
    StoreUnavailable,
    TransientError,
)
from ..pkce import code_challenge_s256, generate_code_verifier, generate_state
from .error_table import fanvue_error_response
from .openapi import PROFILE_REF, error_answer, json_answer, operation
from .responses import error_response, json_response
from .services import services_of
from .urls import app_path

__all__ = ["LOGIN_TTL", "STATE_COOKIE", "oauth_callback", "oauth_login"]

logger = logging.getLogger("fanvue_embedded.app")

LOGIN_TTL = 600.0
STATE_COOKIE = "fve_oauth_state"
_KEY_PREFIX = "oauth-login:"
_MAX_PARAM = 2048


@operation(
    "Start the standard (off-platform) OAuth flow.",
    operation_id="oauthLogin",
    answers={
        "302": {
            "description": "Redirect to the authorization server.",
            "headers": {"Location": {"schema": {"type": "string"}}},
        }
    },
    errors=(StoreUnavailable,),
)
async def oauth_login(request: Request) -> Response:
    services = services_of(request)
    verifier = generate_code_verifier()
    state = generate_state()
    try:
        await services.ephemeral.put(_KEY_PREFIX + state, verifier.encode(), LOGIN_TTL)
    except FanvueError as exc:  # the store down: 503, like every route
        return fanvue_error_response(exc, "GET /oauth/login")
    url = services.oauth.authorization_url(
        state=state, code_challenge=code_challenge_s256(verifier)
    )
    response = RedirectResponse(url, status_code=302, headers={"Cache-Control": "no-store"})
    response.set_cookie(
        STATE_COOKIE,
        state,
        max_age=int(LOGIN_TTL),
        path=app_path(request, "/oauth"),
        httponly=True,
        secure=request.url.scheme == "https",
        samesite="lax",
    )
    return response


@operation(
    "Finish the standard flow (state bound to the login cookie).",
    operation_id="oauthCallback",
    parameters=tuple(
        {"name": name, "in": "query", "schema": {"type": "string"}}
        for name in ("code", "state", "error", "error_description")
    ),
    answers={
        "200": json_answer(
            {
                "type": "object",
                "properties": {"status": {"type": "string"}, "creator": PROFILE_REF},
            },
            "Connected.",
        ),
        "400": error_answer("invalid_request, invalid_state, access_denied, authorization_failed"),
    },
    errors=(RejectedError, ProtocolError, TransientError, StoreError),
)
async def oauth_callback(request: Request) -> Response:
    services = services_of(request)
    params = request.query_params
    state = params.get("state", "")
    code = params.get("code", "")
    if len(state) > _MAX_PARAM or len(code) > _MAX_PARAM:
        return error_response(400, "invalid_request", "parameter too long")
    try:
        # Always spend the stored state, even on an error answer: one callback per login.
        verifier_raw = await services.ephemeral.take(_KEY_PREFIX + state) if state else None
    except FanvueError as exc:
        return fanvue_error_response(exc, "GET /oauth/callback")
    error = params.get("error")
    if error:
        reason = "access_denied" if error == "access_denied" else "authorization_failed"
        logger.info("standard flow ended with error=%s", error[:64])
        return error_response(400, reason, "the authorization was not granted")
    if not code or not state:
        return error_response(400, "invalid_request", "code and state are required")
    cookie_state = request.cookies.get(STATE_COOKIE, "")
    if verifier_raw is None or not hmac.compare_digest(cookie_state.encode(), state.encode()):
        return error_response(
            400, "invalid_state", f"start again from {app_path(request, '/oauth/login')}"
        )
    try:
        result = await services.exchange.complete(code, verifier_raw.decode())
    except FanvueError as exc:
        # The one table: a refused code (invalid_grant) is 401 reauthorization_required —
        # authorize again —, the store down 503, Fanvue down 502.
        return fanvue_error_response(exc, "GET /oauth/callback")
    response = json_response({"status": "connected", "creator": result.user.public_profile()})
    response.delete_cookie(STATE_COOKIE, path=app_path(request, "/oauth"))
    return response
