"""``/openapi.json`` is built from the app's routes: every route is in it and nothing else is."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Sequence
from typing import Any

import pytest
import schemathesis
from schemathesis.core.result import Ok
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route

from fanvue_embedded.app import CreatorContext, authenticated, create_app
from fanvue_embedded.app.error_table import ERROR_TABLE
from fanvue_embedded.app.openapi import json_answer, openapi_document, operation
from fanvue_embedded.config import Secret
from fanvue_embedded.errors import NotFoundError
from fanvue_embedded.webhooks import WebhookRegistry
from tests.support.emulator import EmulatorHandle
from tests.test_app import settings_for

TABLE_STATUS = {answer.error: answer.status for answer in ERROR_TABLE.values()}


@authenticated
@operation(
    "One follower.",
    operation_id="oneFollower",
    answers={"200": json_answer({"type": "object"}, "The follower.")},
    errors=(NotFoundError,),
)
async def one_follower(request: Request, ctx: CreatorContext) -> Response:
    return JSONResponse({"creator": ctx.creator})


async def undescribed(request: Request) -> Response:
    """Yours, with no spec: listed from this docstring."""
    return JSONResponse({})


async def ping(request: Request) -> Response:
    return JSONResponse({"pong": True})


USER_ROUTES: list[BaseRoute] = [
    Route("/api/followers/{uuid}", one_follower, methods=["GET"]),
    Route("/api/things/{thing:int}", undescribed, methods=["GET", "DELETE"]),
    Mount("/tools", routes=[Route("/ping", ping, methods=["POST"])]),
]


def served(routes: Sequence[BaseRoute], prefix: str = "") -> Iterator[tuple[str, str]]:
    """(path, method) for every HTTP route the app answers (HEAD rides along with GET)."""
    for route in routes:
        if isinstance(route, Route):
            for method in route.methods or ():
                if method != "HEAD":
                    yield prefix + route.path_format, method.lower()
        elif isinstance(route, Mount):
            if route.routes:
                yield from served(route.routes, prefix + route.path)
            else:
                yield f"{prefix}{route.path}/{{path}}", "get"


@pytest.fixture
def document(emulator: EmulatorHandle) -> Iterator[tuple[dict[str, Any], set[tuple[str, str]]]]:
    settings = settings_for(
        emulator,
        webhook_secrets=(Secret("whsec_test_0123456789abcdef"),),
        session_cookie_name="fve_session",
    )
    app = create_app(settings, routes=USER_ROUTES, webhooks=WebhookRegistry())
    try:
        yield openapi_document(settings, app.routes), set(served(app.routes))
    finally:
        asyncio.run(app.state.fanvue.aclose())


def test_every_route_is_documented_and_nothing_else(
    document: tuple[dict[str, Any], set[tuple[str, str]]],
) -> None:
    doc, routes = document
    documented = {(path, method) for path, ops in doc["paths"].items() for method in ops}
    assert documented == routes
    # Including the ones create_app adds on request and the user's own.
    for expected in (
        ("/webhooks/fanvue", "post"),
        ("/embedded/static/{path}", "get"),
        ("/api/followers/{uuid}", "get"),
        ("/api/things/{thing}", "delete"),
        ("/tools/ping", "post"),
    ):
        assert expected in documented
    ids = [op["operationId"] for ops in doc["paths"].values() for op in ops.values()]
    assert len(ids) == len(set(ids))


def test_user_routes_carry_their_own_spec(
    document: tuple[dict[str, Any], set[tuple[str, str]]],
) -> None:
    paths = document[0]["paths"]
    follower = paths["/api/followers/{uuid}"]["get"]
    assert follower["operationId"] == "oneFollower"
    # Cookie mode takes the cookie only (a bearer header cannot skip the CSRF check).
    assert follower["security"] == [{"cookieSession": []}]
    assert follower["responses"]["200"]["description"] == "The follower."
    assert "invalid_session" in follower["responses"]["401"]["description"]
    assert "upstream_rejected" in follower["responses"]["502"]["description"]
    thing = paths["/api/things/{thing}"]["get"]
    assert thing["parameters"] == [
        {"name": "thing", "in": "path", "required": True, "schema": {"type": "integer"}}
    ]
    assert thing["summary"] == "Yours, with no spec: listed from this docstring."
    assert "security" not in thing
    # The app's FanvueError handler answers any row for a route of yours.
    assert "store_unavailable" in thing["responses"]["503"]["description"]


def test_error_answers_are_the_tables(
    document: tuple[dict[str, Any], set[tuple[str, str]]],
) -> None:
    doc = document[0]
    assert doc["components"]["schemas"]["Error"]["required"] == ["error", "message"]
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            for status, answer in op["responses"].items():
                for code in answer["description"].split(", "):
                    if code in TABLE_STATUS:
                        assert TABLE_STATUS[code] == int(status), (path, method, code)
    rate_limited = doc["paths"]["/api/me"]["get"]["responses"]["429"]
    assert "Retry-After" in rate_limited["headers"]


def test_schemathesis_reads_one_operation_per_route(
    document: tuple[dict[str, Any], set[tuple[str, str]]],
) -> None:
    doc, routes = document
    schema = schemathesis.openapi.from_dict(doc)
    results = list(schema.get_all_operations())
    operations = [result.ok() for result in results if isinstance(result, Ok)]
    assert len(operations) == len(results)  # no operation the parser rejected
    assert {(op.path, op.method.lower()) for op in operations} == routes
