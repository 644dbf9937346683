"""A hand-written OpenAPI 3.0 description of the service's routes, served at ``/openapi.json``.

Written by hand rather than derived from the handlers because the handlers read raw requests
(bounded JSON bodies, bearer or cookie sessions): the document states the contract of
DESIGN §5, and the security suite fuzzes the running app against it. Only the operations the
app actually routes are listed, so an app built without an optional route (webhooks) does not
advertise it.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..config import Settings
from .responses import json_response
from .services import services_of

__all__ = ["OPENAPI_PATH", "openapi_document", "openapi_json"]

OPENAPI_PATH = "/openapi.json"
_ERROR_REF = {"$ref": "#/components/schemas/Error"}
_PROFILE_REF = {"$ref": "#/components/schemas/CreatorProfile"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _error(description: str) -> dict[str, Any]:
    return _json(_ERROR_REF, description)


def _updated_session_header() -> dict[str, Any]:
    return {
        "X-Updated-Session": {
            "description": "A renewed app session, sent once the presented one is past half its life.",
            "schema": {"type": "string"},
        }
    }


def _components(settings: Settings) -> dict[str, Any]:
    schemes: dict[str, Any] = {
        "bearerSession": {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "app session (<base64 JSON>.<HMAC-SHA256>)",
            "description": "The app session from POST /api/fanvue/session. No Fanvue token.",
        }
    }
    if settings.session_cookie_name:
        schemes["cookieSession"] = {
            "type": "apiKey",
            "in": "cookie",
            "name": settings.session_cookie_name,
            "description": "Cookie mode; unsafe methods also need the X-CSRF-Token header.",
        }
    profile_fields = ("uuid", "handle", "displayName", "avatarUrl")
    return {
        "securitySchemes": schemes,
        "schemas": {
            "Error": {
                "type": "object",
                "required": ["error"],
                "properties": {
                    "error": {"type": "string", "description": "A stable machine code."},
                    "detail": {"type": "string", "description": "A hint for humans."},
                },
            },
            "CreatorProfile": {
                "type": "object",
                "required": list(profile_fields),
                "properties": {
                    "uuid": {"type": "string"},
                    "handle": {"type": "string"},
                    "displayName": {"type": "string", "nullable": True},
                    "avatarUrl": {"type": "string", "nullable": True},
                },
            },
            "SessionRequest": {
                "type": "object",
                "required": ["token"],
                "properties": {
                    "token": {
                        "type": "string",
                        "minLength": 1,
                        "description": "The ~60 s session token Fanvue appended to the embed URL.",
                    }
                },
            },
            "SessionResponse": {
                "type": "object",
                "required": ["session", "expiresAt", "creator"],
                "properties": {
                    "session": {"type": "string", "description": "The app session."},
                    "expiresAt": {"type": "integer", "description": "Unix seconds."},
                    "creator": _PROFILE_REF,
                    "csrfToken": {"type": "string", "description": "Cookie mode only."},
                },
            },
        },
    }


def _security(settings: Settings) -> list[dict[str, list[str]]]:
    requirements: list[dict[str, list[str]]] = [{"bearerSession": []}]
    if settings.session_cookie_name:
        requirements.append({"cookieSession": []})
    return requirements


def _operations(settings: Settings) -> dict[str, dict[str, Any]]:
    security = _security(settings)
    embed = settings.embed_path.rstrip("/") or "/"
    text = {"type": "string"}
    return {
        embed: {
            "get": {
                "operationId": "embedPage",
                "summary": "The iframe page Fanvue embeds (CSP frame-ancestors, no-referrer).",
                "parameters": [
                    {"name": "token", "in": "query", "schema": text},
                    {"name": "theme", "in": "query", "schema": text},
                ],
                "responses": {
                    "200": {"description": "The page.", "content": {"text/html": {"schema": text}}}
                },
            }
        },
        "/api/fanvue/session": {
            "post": {
                "operationId": "exchangeSession",
                "summary": "Trade Fanvue's session token for an app session.",
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {"$ref": "#/components/schemas/SessionRequest"}
                        }
                    },
                },
                "responses": {
                    "200": _json({"$ref": "#/components/schemas/SessionResponse"}, "Signed in."),
                    "400": _error("invalid_request"),
                    "401": _error("invalid_session_token: the creator must reopen the app"),
                    "403": _error("consent_required"),
                    "413": _error("payload_too_large"),
                    "415": _error("unsupported_media_type"),
                    "502": _error("upstream_unavailable"),
                    "503": _error("service_unavailable"),
                },
            }
        },
        "/api/fanvue/logout": {
            "post": {
                "operationId": "logout",
                "summary": "End the app session on the server.",
                "security": security,
                "responses": {
                    "200": _json(
                        {"type": "object", "properties": {"ok": {"type": "boolean"}}}, "Ended."
                    ),
                    "401": _error("invalid_session"),
                },
            }
        },
        "/api/me": {
            "get": {
                "operationId": "currentCreator",
                "summary": "The creator's profile, fetched live from the Fanvue API.",
                "security": security,
                "responses": {
                    "200": {
                        **_json(
                            {
                                "allOf": [
                                    _PROFILE_REF,
                                    {
                                        "type": "object",
                                        "properties": {"isCreator": {"type": "boolean"}},
                                    },
                                ]
                            },
                            "The profile.",
                        ),
                        "headers": _updated_session_header(),
                    },
                    "401": _error("invalid_session or reauthorization_required"),
                    "502": _error("upstream_unavailable"),
                    "503": _error("service_unavailable"),
                },
            }
        },
        "/oauth/login": {
            "get": {
                "operationId": "oauthLogin",
                "summary": "Start the standard (off-platform) OAuth flow.",
                "responses": {
                    "302": {
                        "description": "Redirect to the authorization server.",
                        "headers": {"Location": {"schema": text}},
                    }
                },
            }
        },
        "/oauth/callback": {
            "get": {
                "operationId": "oauthCallback",
                "summary": "Finish the standard flow (state bound to the login cookie).",
                "parameters": [
                    {"name": name, "in": "query", "schema": text}
                    for name in ("code", "state", "error", "error_description")
                ],
                "responses": {
                    "200": _json(
                        {
                            "type": "object",
                            "properties": {"status": text, "creator": _PROFILE_REF},
                        },
                        "Connected.",
                    ),
                    "400": _error("invalid_request, invalid_state, invalid_grant, access_denied"),
                    "502": _error("upstream_unavailable"),
                },
            }
        },
        "/webhooks/fanvue": {
            "post": {
                "operationId": "fanvueWebhook",
                "summary": "A signed Fanvue event (X-Fanvue-Signature: t=<unix>,v0=<hex HMAC>).",
                "parameters": [
                    {"name": "X-Fanvue-Signature", "in": "header", "required": True, "schema": text}
                ],
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": {"type": "object"}}},
                },
                "responses": {
                    "200": {"description": "Accepted (or a duplicate, ignored)."},
                    "400": _error("invalid_request"),
                    "401": _error("invalid_signature"),
                    "413": _error("payload_too_large"),
                    "415": _error("unsupported_media_type"),
                },
            }
        },
        "/healthz": {
            "get": {
                "operationId": "healthz",
                "summary": "Liveness.",
                "responses": {"200": _json({"type": "object"}, "Alive.")},
            }
        },
        "/readyz": {
            "get": {
                "operationId": "readyz",
                "summary": "Readiness: the store can be reached.",
                "responses": {
                    "200": _json({"type": "object"}, "Ready."),
                    "503": _json({"type": "object"}, "The store is unreachable."),
                },
            }
        },
        "/metrics": {
            "get": {
                "operationId": "metrics",
                "summary": "Prometheus text exposition.",
                "responses": {
                    "200": {"description": "Metrics.", "content": {"text/plain": {"schema": text}}}
                },
            }
        },
        OPENAPI_PATH: {
            "get": {
                "operationId": "openapi",
                "summary": "This document.",
                "responses": {"200": _json({"type": "object"}, "OpenAPI 3.0 document.")},
            }
        },
    }


def openapi_document(
    settings: Settings, served_paths: Collection[str] | None = None
) -> dict[str, Any]:
    """The OpenAPI 3.0 document; ``served_paths`` limits it to the routes an app really has."""
    operations = _operations(settings)
    if served_paths is not None:
        operations = {path: ops for path, ops in operations.items() if path in served_paths}
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "fanvue-embedded",
            "version": "1",
            "description": "Session exchange, app sessions and health of a Fanvue embedded app.",
        },
        "paths": operations,
        "components": _components(settings),
    }


async def openapi_json(request: Request) -> Response:
    """``GET /openapi.json``."""
    settings = services_of(request).settings
    served = {route.path for route in request.app.routes if isinstance(route, Route)}
    return json_response(openapi_document(settings, served))
