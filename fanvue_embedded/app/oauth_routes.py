"""The standard (off-platform) OAuth flow: ``/oauth/login`` and ``/oauth/callback``.

``/oauth/login`` stores nothing: the ``state`` and the PKCE verifier travel in a sealed,
short-lived cookie (``login_state``) bound to the browser that started the login, so an
unauthenticated request cannot grow the store. The callback requires the query's ``state`` to
match the cookie's and clears the cookie on every answer: one callback per login (and Fanvue
accepts each authorization code once).
"""

from __future__ import annotations

import hmac
import logging

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from ..errors import FanvueError, ProtocolError, RejectedError, StoreError, TransientError
from ..pkce import code_challenge_s256, generate_code_verifier, generate_state
from .error_table import fanvue_error_response
from .login_state import LOGIN_TTL, LoginState, open_login_state, seal_login_state
from .openapi import PROFILE_REF, error_answer, json_answer, operation
from .responses import error_response, json_response
from .services import services_of
from .urls import app_path

__all__ = ["LOGIN_TTL", "STATE_COOKIE", "oauth_callback", "oauth_login"]

logger = logging.getLogger("fanvue_embedded.app")

STATE_COOKIE = "fve_oauth_state"
_MAX_PARAM = 2048


def _clear_login_cookie(request: Request, response: Response) -> Response:
    response.delete_cookie(
        STATE_COOKIE,
        path=app_path(request, "/oauth"),
        secure=request.url.scheme == "https",
        httponly=True,
        samesite="lax",
    )
    return response


@operation(
    "Start the standard (off-platform) OAuth flow.",
    operation_id="oauthLogin",
    answers={
        "302": {
            "description": "Redirect to the authorization server.",
            "headers": {"Location": {"schema": {"type": "string"}}},
        }
    },
)
async def oauth_login(request: Request) -> Response:
    services = services_of(request)
    verifier = generate_code_verifier()
    state = generate_state()
    sealed = seal_login_state(
        LoginState(state=state, verifier=verifier, expires_at=services.clock() + LOGIN_TTL),
        services.settings.session_secret.get_secret_value(),
    )
    url = services.oauth.authorization_url(
        state=state, code_challenge=code_challenge_s256(verifier)
    )
    response = RedirectResponse(url, status_code=302, headers={"Cache-Control": "no-store"})
    response.set_cookie(
        STATE_COOKIE,
        sealed,
        max_age=int(LOGIN_TTL),
        path=app_path(request, "/oauth"),
        httponly=True,
        secure=request.url.scheme == "https",  # plain http only in local development
        # Lax: the top-level redirect back from the authorization server carries it.
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
    # Whatever the answer, the login cookie is spent: one callback per login.
    return _clear_login_cookie(request, await _finish_login(request))


async def _finish_login(request: Request) -> Response:
    services = services_of(request)
    params = request.query_params
    state = params.get("state", "")
    code = params.get("code", "")
    if len(state) > _MAX_PARAM or len(code) > _MAX_PARAM:
        return error_response(400, "invalid_request", "parameter too long")
    error = params.get("error")
    if error:
        reason = "access_denied" if error == "access_denied" else "authorization_failed"
        logger.info("standard flow ended with error=%s", error[:64])
        return error_response(400, reason, "the authorization was not granted")
    if not code or not state:
        return error_response(400, "invalid_request", "code and state are required")
    login = open_login_state(
        request.cookies.get(STATE_COOKIE, ""),
        services.settings.session_secret.get_secret_value(),
        services.clock(),
    )
    if login is None or not hmac.compare_digest(login.state.encode(), state.encode()):
        return error_response(
            400, "invalid_state", f"start again from {app_path(request, '/oauth/login')}"
        )
    try:
        result = await services.exchange.complete(code, login.verifier)
    except FanvueError as exc:
        # The one table: a refused code (invalid_grant) is 401 reauthorization_required —
        # authorize again —, the store down 503, Fanvue down 502.
        return fanvue_error_response(exc, "GET /oauth/callback")
    return json_response({"status": "connected", "creator": result.user.public_profile()})
