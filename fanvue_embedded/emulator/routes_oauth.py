"""Hydra's endpoints: ``GET /oauth2/auth`` (group ``auth``), ``POST /oauth2/token`` (``token``)."""

from __future__ import annotations

import asyncio
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from ._http import (
    counted,
    error_response,
    hold_response,
    injected_fault,
    issuer_of,
    unavailable,
)
from .state import EmulatorState, OAuthError

CONCURRENT_REFRESH = OAuthError(
    400, "invalid_request", "Multiple concurrent requests using the same token, please retry"
)


def _parse_form(body: bytes) -> dict[str, str]:
    """Form bodies parsed with the standard library; a repeated parameter is malformed."""
    try:
        pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=False)
    except (UnicodeDecodeError, ValueError) as exc:
        raise OAuthError(400, "invalid_request", "the body is not valid form data") from exc
    form: dict[str, str] = {}
    for key, value in pairs:
        if key in form:
            raise OAuthError(400, "invalid_request", f"{key} is repeated")
        form[key] = value
    return form


def oauth_routes(state: EmulatorState) -> list[Route]:
    in_flight: dict[str, int] = {}  # chain id -> refreshes being processed right now
    faults = state.faults

    async def authorize(request: Request) -> Response:
        fault = await injected_fault(faults, "auth")
        if fault is not None:
            return fault
        try:
            location = state.authorize_standard(dict(request.query_params))
        except OAuthError as exc:
            return error_response(exc)
        return RedirectResponse(location, status_code=302)

    async def token(request: Request) -> Response:
        fault = await injected_fault(faults, "token", delay=False)
        if fault is not None:
            return fault
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type != "application/x-www-form-urlencoded":
            return error_response(
                OAuthError(400, "invalid_request", "the body must be form-encoded")
            )
        try:
            form = _parse_form(await request.body())
        except OAuthError as exc:
            return error_response(exc)
        try:
            client_id = state.authenticate_client(request.headers.get("authorization"), form)
            if faults.take("malformed_token_response"):
                return Response("not json", media_type="application/json")
            grant_type = form.get("grant_type")
            if grant_type == "authorization_code":
                await _sleep_latency()
                return JSONResponse(
                    state.exchange_code(client_id, form, issuer_of(state, request)),
                    headers={"Cache-Control": "no-store"},
                )
            if grant_type == "refresh_token":
                return await refresh(request, client_id, form.get("refresh_token", ""))
            if not grant_type:
                raise OAuthError(400, "invalid_request", "grant_type is required")
            raise OAuthError(400, "unsupported_grant_type", f"{grant_type} is not supported")
        except OAuthError as exc:
            return error_response(exc)

    async def _sleep_latency() -> None:
        await asyncio.sleep(faults.latency_seconds("token"))

    async def refresh(request: Request, client_id: str, refresh_token: str) -> Response:
        state.bump("refresh_requests")
        chain_id = state.refresh_chain_id(refresh_token)
        concurrent = chain_id is not None and in_flight.get(chain_id, 0) > 0
        if faults.take("reject_next_refresh") or (concurrent and faults.reject_concurrent_refresh):
            state.bump("concurrent_rejections")
            raise CONCURRENT_REFRESH
        key = chain_id or ""
        in_flight[key] = in_flight.get(key, 0) + 1
        try:
            # The latency is spent while in flight, so overlapping refreshes can be observed.
            await _sleep_latency()
            response, rotated = state.refresh(client_id, refresh_token, issuer_of(state, request))
        finally:
            in_flight[key] -= 1
        if rotated and faults.take("drop_after_rotation"):
            state.bump("dropped_responses")
            await hold_response(request, faults, state.config.drop_hold_seconds)
            return unavailable()
        return JSONResponse(response, headers={"Cache-Control": "no-store"})

    return [
        counted(state, "/oauth2/auth", authorize, ["GET"]),
        counted(state, "/oauth2/token", token, ["POST"]),
    ]
