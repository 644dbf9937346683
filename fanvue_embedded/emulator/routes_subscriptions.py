"""Fanvue's webhook subscriptions API, on behalf of a creator (fault group ``api``).

Documented (api.fanvue.com/docs/checkout/configuring; absent from the OpenAPI spec): scope
``read:creator``; ``POST /webhooks/subscriptions`` creates a subscription and its answer
carries ``signingSecret``, shown only this once; ``GET /webhooks/subscriptions`` lists the
subscriptions this OAuth client created. A subscription delivers only its types.

ASSUMED (Fanvue documents none of it; the same choices as ``fanvue_embedded.webhooks``): the
request body ``{"url", "events"}``; a subscription is ``{"uuid", "url", "events"}``; the list
answer is ``{"data": [...]}``; a creator's token lists the subscriptions its client made for
that creator only; App Store types cannot be subscribed to (they reach the app unasked).
The checks run in the API's order: version header, token, rate limit, scope, body.
"""

from __future__ import annotations

import functools
import json
from typing import Any
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ._http import api_unavailable, injected_fault
from .api import errors
from .routes_api import authenticate, check_version
from .state import EmulatorState
from .webhook_samples import SAMPLE_TYPES

PATH = "/webhooks/subscriptions"
SCOPE = "read:creator"
SUBSCRIBABLE = tuple(t for t in SAMPLE_TYPES if not t.startswith("app."))
MAX_URL = 2048


def _body(raw: bytes, content_type: str) -> tuple[str, tuple[str, ...]]:
    if content_type.split(";")[0].strip().lower() != "application/json":
        raise errors.validation("the body must be JSON (Content-Type: application/json)")
    try:
        body: Any = json.loads(raw or b"{}")
    except (ValueError, UnicodeDecodeError):
        raise errors.validation("the body must be valid JSON") from None
    if not isinstance(body, dict):
        raise errors.validation("the body must be a JSON object")
    problems = []
    url = body.get("url")
    parts = urlsplit(url) if isinstance(url, str) else None
    if parts is None or parts.scheme not in ("http", "https") or not parts.netloc:
        problems.append("url must be a URL address")
    elif len(str(url)) > MAX_URL:
        problems.append(f"url must be shorter than or equal to {MAX_URL} characters")
    events = body.get("events")
    if not isinstance(events, list) or not events:
        problems.append("events must contain at least 1 elements")
    elif any(event not in SUBSCRIBABLE for event in events):
        problems.append(
            f"each value in events must be one of the following values: {', '.join(SUBSCRIBABLE)}"
        )
    if problems or not isinstance(events, list):
        raise errors.validation(*problems)
    return str(url), tuple(dict.fromkeys(str(event) for event in events))


def subscription_routes(state: EmulatorState) -> list[Route]:
    async def serve(request: Request) -> Response:
        fault = await injected_fault(
            state.faults, "api", answer=functools.partial(api_unavailable, request.url.path)
        )
        if fault is not None:
            return fault
        state.count_call(f"{request.method} {PATH}")
        headers: dict[str, str] = {}
        try:
            check_version(state, request)
            caller, client_id, scopes = authenticate(state, request)
            allowed, headers = state.take_rate_limit(f"{client_id}:{caller}")
            if not allowed:
                raise errors.rate_limited(headers)
            if SCOPE not in scopes:
                raise errors.forbidden(f"insufficient scope: {SCOPE} required")
            if request.method == "GET":
                mine = state.webhook_subscriptions_for(caller, client_id)
                return JSONResponse({"data": [s.api_view() for s in mine]}, headers=headers)
            url, events = _body(await request.body(), request.headers.get("content-type", ""))
            created = state.add_webhook_subscription(client_id, caller, url, events)
        except errors.ApiError as exc:
            return JSONResponse(
                exc.body, status_code=exc.status, headers={**headers, **exc.headers}
            )
        answer = {**created.api_view(), "signingSecret": created.signing_secret}
        return JSONResponse(answer, status_code=201, headers=headers)

    return [Route(PATH, serve, methods=["GET", "POST"])]
