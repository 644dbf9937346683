"""The control API under ``/_emulator/`` — JSON in and out, no authentication (dev only).

=========================================================  =====================================
``GET /_emulator/app``                                      the registered app (secret masked)
``PATCH /_emulator/app``                                    client_id, client_secret (write-only),
                                                            redirect_uris, scopes, app_url,
                                                            webhook_url, webhook_secret,
                                                            webhook_events (null: every type)
``GET|PATCH /_emulator/settings``                           grace_seconds, rotation_mode,
                                                            access_token_ttl, refresh_token_ttl,
                                                            session_token_ttl, code_ttl,
                                                            rate_limit, rate_window,
                                                            standard_flow_creator (uuid|handle),
                                                            standard_flow_decision,
                                                            api_versions, retired_api_versions,
                                                            upload_ready_seconds,
                                                            webhook_retries, webhook_backoff
``GET /_emulator/creators``                                 list, each with its ``consent`` flag
``POST /_emulator/creators``                                {handle, displayName?, consent?} → 201
``PUT|DELETE /_emulator/creators/{uuid}/consent``           grant / revoke (revoking kills chains)
``POST /_emulator/creators/{uuid}/expire-access-tokens``    make held access tokens fail with 401
``POST /_emulator/session-tokens``                          {creator: uuid|handle, ttl?} →
                                                            {token, expiresAt (unix seconds)}
``GET|POST /_emulator/clock``                               {now, offset}; POST {advance: s >= 0}
``GET|PATCH|DELETE /_emulator/faults``                      see ``faults.py``; DELETE = all off
``GET|DELETE /_emulator/counters``                          read / zero the counters
``POST /_emulator/reset``                                   everything back to the start state
``GET|DELETE /_emulator/webhooks``                          the last 50 deliveries / clear them
``POST /_emulator/webhooks``                                {type, timestamp?, retries?, backoff?}:
                                                            send the documented sample of a type,
                                                            signed, to the app's webhook_url;
                                                            retried on non-2xx (see webhooks.py)
=========================================================  =====================================

Events from the emulator's own state (a fan's message, a checkout payment...) are sent by the
calls in ``routes_activity.py``; every state-changing call needs ``Content-Type:
application/json`` (``guard.py``).

Errors: ``{"error", "field", "error_description"}`` with 400 (malformed or unknown field), 404
(unknown creator), 409 (conflict) or 422 (bad value).
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from . import _validate as v
from ._http import counted
from .config import BASE_SCOPES, ROTATION_MODES
from .faults import FaultError
from .records import Creator
from .state import EmulatorState
from .webhooks import SAMPLE_TYPES, send_sample

PREFIX = "/_emulator"
HANDLE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
Endpoint = Callable[[Request], Awaitable[Response]]


def control_routes(state: EmulatorState) -> list[Route]:
    def creator_from_path(request: Request) -> Creator:
        found = state.find_creator(request.path_params["uuid"])
        if found is None:
            raise v.FieldError(404, "uuid", "no such creator")
        return found

    async def get_app(request: Request) -> Response:
        return JSONResponse(state.app.public_view())

    async def patch_app(request: Request) -> Response:
        body = await v.json_object(
            request,
            allowed=(
                "client_id",
                "client_secret",
                "redirect_uris",
                "scopes",
                "app_url",
                "webhook_url",
                "webhook_secret",
                "webhook_events",
            ),
        )
        changes: dict[str, Any] = {}
        if "webhook_events" in body:
            events = body["webhook_events"]
            if events is not None:
                events = v.text_list("webhook_events", events, allow_empty=True)
                for name in events:
                    v.choice("webhook_events", name, SAMPLE_TYPES)
            changes["webhook_events"] = events
        for name in ("client_id", "client_secret", "webhook_secret"):
            if name in body:
                changes[name] = v.required_text(name, body[name])
        for name in ("app_url", "webhook_url"):
            if name in body:
                changes[name] = v.text(name, body[name], optional=True)
        if "redirect_uris" in body:
            changes["redirect_uris"] = v.text_list("redirect_uris", body["redirect_uris"])
        if "scopes" in body:
            scopes = v.text_list("scopes", body["scopes"], allow_empty=True)
            changes["scopes"] = tuple(dict.fromkeys((*BASE_SCOPES, *scopes)))
        return JSONResponse(state.update_app(**changes).public_view())

    async def get_settings(request: Request) -> Response:
        return JSONResponse(state.settings.view())

    async def patch_settings(request: Request) -> Response:
        numbers = {
            "grace_seconds": (0, False),
            "access_token_ttl": (1, True),
            "refresh_token_ttl": (1, True),
            "session_token_ttl": (1, True),
            "code_ttl": (1, True),
            "rate_limit": (1, True),
            "rate_window": (1, True),
            "upload_ready_seconds": (0, False),
            "webhook_retries": (0, True),
            "webhook_backoff": (0, False),
        }
        versions = ("api_versions", "retired_api_versions")
        body = await v.json_object(
            request,
            allowed=(
                *numbers,
                *versions,
                "rotation_mode",
                "standard_flow_creator",
                "standard_flow_decision",
            ),
        )
        changes: dict[str, Any] = {}
        for name, (minimum, integer) in numbers.items():
            if name in body:
                changes[name] = v.number(name, body[name], minimum=minimum, integer=integer)
        if changes.get("webhook_retries", 0) > 10 or changes.get("webhook_backoff", 0) > 60:
            raise v.FieldError(422, "webhook_retries", "at most 10 retries, backoff at most 60 s")
        for name in versions:
            if name in body:
                changes[name] = v.text_list(name, body[name], allow_empty=name != "api_versions")
        if "rotation_mode" in body:
            changes["rotation_mode"] = v.choice(
                "rotation_mode", body["rotation_mode"], ROTATION_MODES
            )
        if "standard_flow_decision" in body:
            changes["standard_flow_decision"] = v.choice(
                "standard_flow_decision", body["standard_flow_decision"], ("approve", "deny")
            )
        if "standard_flow_creator" in body:
            ref = v.required_text("standard_flow_creator", body["standard_flow_creator"])
            found = state.find_creator(ref)
            if found is None:
                raise v.FieldError(422, "standard_flow_creator", "no such creator")
            changes["standard_flow_creator"] = found.uuid
        return JSONResponse(state.update_settings(**changes).view())

    async def list_creators(request: Request) -> Response:
        return JSONResponse([c.control_view() for c in list(state.creators.values())])

    async def add_creator(request: Request) -> Response:
        body = await v.json_object(request, allowed=("handle", "displayName", "consent"))
        handle = v.required_text("handle", body.get("handle"))
        if not HANDLE.match(handle):
            raise v.FieldError(422, "handle", "handle must be lower-case letters, digits, . _ -")
        display_name = v.text("displayName", body.get("displayName"), optional=True)
        consent = v.boolean("consent", body.get("consent", False))
        try:
            creator = state.add_creator(handle, display_name, consent)
        except ValueError as exc:
            raise v.FieldError(409, "handle", str(exc)) from exc
        return JSONResponse(creator.control_view(), status_code=201)

    async def grant_consent(request: Request) -> Response:
        creator = creator_from_path(request)
        return JSONResponse(state.set_consent(creator.uuid, True).control_view())

    async def revoke_consent(request: Request) -> Response:
        creator = creator_from_path(request)
        return JSONResponse(state.set_consent(creator.uuid, False).control_view())

    async def expire_access_tokens(request: Request) -> Response:
        creator = creator_from_path(request)
        return JSONResponse({"expired": state.expire_access_tokens(creator.uuid)})

    async def session_token(request: Request) -> Response:
        body = await v.json_object(request, allowed=("creator", "ttl"))
        ref = v.required_text("creator", body.get("creator"))
        creator = state.find_creator(ref)
        if creator is None:
            raise v.FieldError(404, "creator", "no such creator")
        ttl = v.number("ttl", body["ttl"], minimum=0) if body.get("ttl") is not None else None
        token, expires_at = state.issue_session_token(creator.uuid, ttl)
        return JSONResponse({"token": token, "expiresAt": expires_at})

    async def get_clock(request: Request) -> Response:
        return JSONResponse({"now": state.now(), "offset": state.offset})

    async def advance_clock(request: Request) -> Response:
        body = await v.json_object(request, allowed=("advance",))
        state.advance_clock(v.number("advance", body.get("advance"), minimum=0))
        return await get_clock(request)

    async def get_faults(request: Request) -> Response:
        return JSONResponse(state.faults.view())

    async def patch_faults(request: Request) -> Response:
        body = await v.json_object(request)
        try:
            state.faults.patch(body)
        except FaultError as exc:
            status = 400 if exc.field in body and str(exc).startswith("unknown fault") else 422
            raise v.FieldError(status, exc.field, str(exc)) from exc
        return JSONResponse(state.faults.view())

    async def clear_faults(request: Request) -> Response:
        state.faults.reset()
        return JSONResponse(state.faults.view())

    async def get_counters(request: Request) -> Response:
        return JSONResponse(state.counters.as_dict())

    async def reset_counters(request: Request) -> Response:
        state.reset_counters()
        return JSONResponse(state.counters.as_dict())

    async def reset(request: Request) -> Response:
        state.reset()
        return JSONResponse({"reset": True})

    async def webhook(request: Request) -> Response:
        body = await v.json_object(request, allowed=("type", "timestamp", "retries", "backoff"))
        event_type = v.choice("type", body.get("type"), SAMPLE_TYPES)
        timestamp = body.get("timestamp")
        fixed = v.number("timestamp", timestamp) if timestamp is not None else None
        retries = int(v.number("retries", body.get("retries", 2), integer=True))
        backoff = v.number("backoff", body.get("backoff", 0.5))
        if retries > 10 or backoff > 60:
            raise v.FieldError(422, "retries", "at most 10 retries, backoff at most 60 s")
        url = state.app.webhook_url
        if not url:
            raise v.FieldError(
                409, "webhook_url", "the app has no webhook_url; PATCH /_emulator/app"
            )
        record: dict[str, Any] = {"type": event_type, "url": url, "at": int(state.now())}
        delivery = await send_sample(
            url,
            state.app.webhook_secret,
            event_type,
            now=(lambda: fixed) if fixed is not None else state.now,
            retries=retries,
            backoff=backoff,
        )
        state.record_webhook_delivery({**record, **delivery})
        if delivery["error"] == "unreachable":
            return JSONResponse(
                {"error": "webhook_delivery_failed", "error_description": f"{url} unreachable"},
                status_code=502,
            )
        return JSONResponse(delivery)

    async def webhook_history(request: Request) -> Response:
        return JSONResponse({"deliveries": list(state.webhook_deliveries)})

    async def clear_webhook_history(request: Request) -> Response:
        state.webhook_deliveries.clear()
        return JSONResponse({"deliveries": []})

    def guarded(endpoint: Endpoint) -> Endpoint:
        async def run(request: Request) -> Response:
            try:
                return await endpoint(request)
            except v.FieldError as exc:
                return exc.response()

        return run

    table: list[tuple[str, str, Endpoint]] = [
        ("GET", "/app", get_app),
        ("PATCH", "/app", patch_app),
        ("GET", "/settings", get_settings),
        ("PATCH", "/settings", patch_settings),
        ("GET", "/creators", list_creators),
        ("POST", "/creators", add_creator),
        ("PUT", "/creators/{uuid}/consent", grant_consent),
        ("DELETE", "/creators/{uuid}/consent", revoke_consent),
        ("POST", "/creators/{uuid}/expire-access-tokens", expire_access_tokens),
        ("POST", "/session-tokens", session_token),
        ("GET", "/clock", get_clock),
        ("POST", "/clock", advance_clock),
        ("GET", "/faults", get_faults),
        ("PATCH", "/faults", patch_faults),
        ("DELETE", "/faults", clear_faults),
        ("GET", "/counters", get_counters),
        ("DELETE", "/counters", reset_counters),
        ("POST", "/reset", reset),
        ("POST", "/webhooks", webhook),
        ("GET", "/webhooks", webhook_history),
        ("DELETE", "/webhooks", clear_webhook_history),
    ]
    # One Route per path with a method dispatcher, so a wrong method is a 405, not a 404.
    by_path: dict[str, dict[str, Endpoint]] = {}
    for method, path, endpoint in table:
        by_path.setdefault(PREFIX + path, {})[method] = guarded(endpoint)

    def dispatcher(methods: dict[str, Endpoint]) -> Endpoint:
        async def dispatch(request: Request) -> Response:
            # Starlette adds HEAD to every GET route; answer it as the GET.
            endpoint = methods.get(request.method) or methods["GET"]
            return await endpoint(request)

        return dispatch

    return [
        counted(state, path, dispatcher(methods), list(methods))
        for path, methods in by_path.items()
    ]
