"""The OpenAPI 3.0 document at ``/openapi.json``, built by walking the app's routes.

There is no second route table here. Each endpoint carries its own ``Operation`` (set with
``@operation(...)`` next to the handler; ``authenticated`` marks its endpoints secured), and
``openapi_document`` walks ``app.routes`` — your ``create_app(routes=...)`` included — so a
route cannot be served without being described, nor described without being served. A route
without an ``Operation`` is still listed, from its name and docstring. Error answers come from
the one error table (``error_table``): an operation names the error classes it can answer and
the document states each class's status and code.

The handlers read raw requests (bounded JSON bodies, bearer or cookie sessions), so the request
shapes are written by hand in each ``Operation``; the security suite fuzzes the running app
against this document.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

from starlette.convertors import IntegerConvertor
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route

from ..config import Settings
from ..errors import FanvueError, RateLimitedError
from .error_table import ERROR_TABLE, answer_for
from .responses import json_response
from .services import services_of
from .urls import mount_prefix

__all__ = [
    "ALL_ERRORS",
    "ERROR_REF",
    "OPENAPI_PATH",
    "PROFILE_REF",
    "Operation",
    "default_operation",
    "describe",
    "error_answer",
    "json_answer",
    "openapi_document",
    "openapi_json",
    "operation",
    "operation_of",
]

OPENAPI_PATH = "/openapi.json"
ERROR_REF = {"$ref": "#/components/schemas/Error"}
PROFILE_REF = {"$ref": "#/components/schemas/CreatorProfile"}
_ATTRIBUTE = "__openapi__"
_HTTP_METHODS = ("get", "put", "post", "delete", "options", "patch", "trace")

# Every row of the table: what an authenticated handler (which may call anything) can answer.
ALL_ERRORS: tuple[type[FanvueError], ...] = (FanvueError,)

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Operation:
    """What the document says about one endpoint. ``answers`` are the route's own responses
    (success and input errors, as OpenAPI response objects by status); ``errors`` are the
    error classes it can answer (a class stands for its subclasses too), stated from the
    error table; ``secured`` asks for an app session."""

    summary: str
    operation_id: str | None = None
    answers: Mapping[str, Any] = field(default_factory=dict)
    errors: tuple[type[FanvueError], ...] = ()
    parameters: tuple[Mapping[str, Any], ...] = ()
    request_body: Mapping[str, Any] | None = None
    secured: bool = False


def operation_of(target: object) -> Operation | None:
    """The ``Operation`` an endpoint (or mounted app) carries, if any."""
    found = getattr(target, _ATTRIBUTE, None)
    return found if isinstance(found, Operation) else None


def describe(target: T, described: Operation) -> T:
    """Attach ``described`` to ``target``, keeping what ``authenticated`` already marked."""
    existing = operation_of(target)
    if existing is not None:
        errors = tuple(dict.fromkeys((*existing.errors, *described.errors)))
        described = replace(described, secured=described.secured or existing.secured, errors=errors)
    setattr(target, _ATTRIBUTE, described)
    return target


def operation(summary: str, **details: Any) -> Callable[[T], T]:
    """Decorator form of ``describe``: ``@operation("What it does", answers=..., errors=...)``."""

    def decorate(target: T) -> T:
        return describe(target, Operation(summary, **details))

    return decorate


def json_answer(schema: Mapping[str, Any], description: str, **extra: Any) -> dict[str, Any]:
    """An OpenAPI response object with a JSON body."""
    return {
        "description": description,
        "content": {"application/json": {"schema": schema}},
        **extra,
    }


def error_answer(description: str) -> dict[str, Any]:
    """A route-level ``{"error", "message"}`` answer (input errors, not from the table)."""
    return json_answer(ERROR_REF, description)


def _table_answers(errors: Sequence[type[FanvueError]]) -> dict[str, Any]:
    """Each listed class — and every table row below it — as its status and code."""
    classes = [cls for cls in ERROR_TABLE if errors and issubclass(cls, tuple(errors))]
    classes += [cls for cls in errors if cls not in ERROR_TABLE]
    codes: dict[int, list[str]] = {}
    for cls in classes:
        answer = answer_for(cls)
        listed = codes.setdefault(answer.status, [])
        if answer.error not in listed:
            listed.append(answer.error)
    answers: dict[str, Any] = {}
    for status, names in codes.items():
        answers[str(status)] = error_answer(", ".join(names))
    if any(issubclass(cls, RateLimitedError) for cls in classes):
        answers["429"]["headers"] = {
            "Retry-After": {"description": "Seconds to wait.", "schema": {"type": "integer"}}
        }
    return answers


def _merge(table: Mapping[str, Any], own: Mapping[str, Any]) -> dict[str, Any]:
    """The route's own answers win; a status both give names both sets of codes."""
    merged = dict(table)
    for status, answer in own.items():
        if status in merged and "content" in answer:
            merged[status] = {
                **answer,
                "description": f"{answer['description']}, {merged[status]['description']}",
            }
        else:
            merged[status] = answer
    return dict(sorted(merged.items()))


def default_operation(endpoint: object) -> Operation:
    """What an undescribed endpoint gets: its docstring's first line, 200, and every table row
    (any ``FanvueError`` it lets escape is answered by the app's handler)."""
    doc = inspect.getdoc(endpoint) or ""
    summary = doc.splitlines()[0] if doc else str(getattr(endpoint, "__name__", "A route."))
    return Operation(summary, answers={"200": {"description": "OK."}}, errors=ALL_ERRORS)


def _security(settings: Settings) -> list[dict[str, list[str]]]:
    # One mode at a time: cookie mode accepts the cookie only (app.auth).
    return [{"cookieSession": []}] if settings.session_cookie_name else [{"bearerSession": []}]


def _path_parameters(path: str, described: Operation, integers: Collection[str]) -> list[Any]:
    """The operation's parameters plus any ``{name}`` of the path it does not declare."""
    parameters = [dict(parameter) for parameter in described.parameters]
    declared = {p.get("name") for p in parameters if p.get("in") == "path"}
    for name in re.findall(r"\{(\w+)\}", path):
        if name not in declared:
            kind = "integer" if name in integers else "string"
            parameters.append(
                {"name": name, "in": "path", "required": True, "schema": {"type": kind}}
            )
    return parameters


def _render(
    described: Operation, operation_id: str, parameters: list[Any], settings: Settings
) -> dict[str, Any]:
    rendered: dict[str, Any] = {"operationId": operation_id, "summary": described.summary}
    if parameters:
        rendered["parameters"] = parameters
    if described.request_body is not None:
        rendered["requestBody"] = dict(described.request_body)
    if described.secured:
        rendered["security"] = _security(settings)
    rendered["responses"] = _merge(_table_answers(described.errors), described.answers)
    return rendered


@dataclass(frozen=True, slots=True)
class _Found:
    path: str
    method: str
    described: Operation
    name: str
    integers: frozenset[str] = frozenset()


def _operations(routes: Sequence[BaseRoute], prefix: str = "") -> Iterable[_Found]:
    """Every HTTP route's operation, mounted ones included."""
    for route in routes:
        if isinstance(route, Route):
            described = operation_of(route.endpoint) or default_operation(route.endpoint)
            integers = frozenset(
                name
                for name, convertor in route.param_convertors.items()
                if isinstance(convertor, IntegerConvertor)
            )
            for method in sorted(route.methods or ("GET",)):
                if method.lower() in _HTTP_METHODS:  # HEAD rides along with GET
                    path = prefix + route.path_format
                    yield _Found(path, method.lower(), described, route.name, integers)
        elif isinstance(route, Mount):
            if route.routes:
                yield from _operations(route.routes, prefix + route.path)
            else:  # a mounted ASGI app (static files): one GET below its path
                described = operation_of(route.app) or default_operation(route.app)
                path = f"{prefix}{route.path}/{{path}}"
                yield _Found(path, "get", described, route.name or "mounted")


def openapi_document(settings: Settings, routes: Sequence[BaseRoute]) -> dict[str, Any]:
    """The OpenAPI 3.0 document for exactly ``routes`` (normally ``app.routes``)."""
    paths: dict[str, dict[str, Any]] = {}
    used_ids: set[str] = set()
    for found in _operations(routes):
        operation_id = found.described.operation_id or found.name
        if operation_id in used_ids:  # one handler on several routes or methods
            operation_id = f"{operation_id}_{found.method}_{len(used_ids)}"
        used_ids.add(operation_id)
        parameters = _path_parameters(found.path, found.described, found.integers)
        paths.setdefault(found.path, {})[found.method] = _render(
            found.described, operation_id, parameters, settings
        )
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "fanvue-embedded",
            "version": "1",
            "description": "Session exchange, app sessions and health of a Fanvue embedded app.",
        },
        "paths": paths,
        "components": _components(settings),
    }


def _components(settings: Settings) -> dict[str, Any]:
    schemes: dict[str, Any] = {}
    if not settings.session_cookie_name:
        schemes["bearerSession"] = {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "app session (<base64 JSON>.<HMAC-SHA256>)",
            "description": "The app session from POST /api/fanvue/session. No Fanvue token.",
        }
    else:
        schemes["cookieSession"] = {
            "type": "apiKey",
            "in": "cookie",
            "name": settings.session_cookie_name,
            "description": "Cookie mode; unsafe methods also need the X-CSRF-Token header.",
        }
    text = {"type": "string"}
    nullable_text = {"type": "string", "nullable": True}
    return {
        "securitySchemes": schemes,
        "schemas": {
            "Error": {
                "type": "object",
                "required": ["error", "message"],
                "properties": {
                    "error": {"type": "string", "description": "A stable machine code."},
                    "message": {"type": "string", "description": "A generic hint for humans."},
                },
            },
            "CreatorProfile": {
                "type": "object",
                "required": ["uuid", "handle", "displayName", "avatarUrl"],
                "properties": {
                    "uuid": text,
                    "handle": text,
                    "displayName": nullable_text,
                    "avatarUrl": nullable_text,
                },
            },
        },
    }


@operation(
    "This document.",
    operation_id="openapi",
    answers={"200": json_answer({"type": "object"}, "OpenAPI 3.0 document.")},
)
async def openapi_json(request: Request) -> Response:
    """``GET /openapi.json``: built from the serving app's routes."""
    settings = services_of(request).settings
    document = openapi_document(settings, request.app.routes)
    prefix = mount_prefix(request)
    if prefix:  # mounted under a prefix: the paths above are relative to it
        document["servers"] = [{"url": prefix}]
    return json_response(document)
