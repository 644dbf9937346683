"""The platform's authorize-on-behalf endpoint (fault group ``platform``)."""

from __future__ import annotations

import json

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ._http import bearer_token, counted, error_response, injected_fault
from .state import EmulatorState, OAuthError

AUTHORIZE_ON_BEHALF_PATH = "/api/v1/app-integrations/authorize-on-behalf"


def platform_routes(state: EmulatorState) -> list[Route]:
    async def authorize_on_behalf(request: Request) -> Response:
        fault = await injected_fault(state.faults, "platform")
        if fault is not None:
            return fault
        try:
            body: object = json.loads(await request.body())
        except (ValueError, UnicodeDecodeError):
            body = None  # reported as invalid_request, after the session token is checked
        try:
            result = state.authorize_on_behalf(bearer_token(request), body)
        except OAuthError as exc:
            return error_response(exc)
        return JSONResponse(result)

    return [counted(state, AUTHORIZE_ON_BEHALF_PATH, authorize_on_behalf, ["POST"])]
