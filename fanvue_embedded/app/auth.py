"""App-session checks for routes: the ``authenticated`` decorator and cookie helpers.

A route wrapped with ``authenticated`` receives a ``CreatorContext`` — the creator's uuid, a
Fanvue API client acting for them and the token manager — or the request is answered with
401 before the handler runs. A ``FanvueError`` from the handler is answered through the one
error table (``error_table``), like everywhere else. A renewed session rides back in
``X-Updated-Session`` (bearer mode) or in the cookie (cookie mode: never in a header).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace

from starlette.requests import Request
from starlette.responses import Response

from ..client import FanvueClient
from ..errors import AppSessionError, FanvueError
from ..sessions import AppSession, IssuedSession
from ..tokens import TokenManager
from .error_table import fanvue_error_response
from .openapi import ALL_ERRORS, default_operation, describe, operation_of
from .services import services_of

__all__ = [
    "UPDATED_SESSION_HEADER",
    "CreatorContext",
    "authenticated",
    "clear_session_cookie",
    "creator_context",
    "renewal_headers",
    "set_session_cookie",
]

UPDATED_SESSION_HEADER = "X-Updated-Session"
CSRF_HEADER = "X-CSRF-Token"
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass(frozen=True, slots=True)
class CreatorContext:
    """What an authenticated handler gets: who is asking, and how to call Fanvue for them."""

    creator: str
    session: AppSession
    api: FanvueClient
    tokens: TokenManager


Handler = Callable[[Request, CreatorContext], Awaitable[Response]]


def session_cookie(name: str, issued: IssuedSession, now: float) -> str:
    """The ``Set-Cookie`` value carrying ``issued``.

    ``Path=/`` even when the service is mounted under a prefix: the session is the whole site's,
    the host app's own routes (``install``) authenticate with it too.
    """
    # http.cookies on Python 3.11 cannot emit "Partitioned", so the header is written here.
    max_age = max(0, int(issued.expires_at - now))
    return (
        f"{name}={issued.token}; Path=/; Max-Age={max_age}; Secure; HttpOnly; "
        "SameSite=None; Partitioned"
    )


def set_session_cookie(response: Response, name: str, issued: IssuedSession, now: float) -> None:
    response.headers.append("Set-Cookie", session_cookie(name, issued, now))


def clear_session_cookie(response: Response, name: str) -> None:
    response.headers.append(
        "Set-Cookie",
        f"{name}=; Path=/; Max-Age=0; Secure; HttpOnly; SameSite=None; Partitioned",
    )


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return None


async def verify_request_session(request: Request) -> AppSession:
    """The request's app session, or ``AppSessionError``.

    Bearer mode reads ``Authorization: Bearer``. Cookie mode (``SESSION_COOKIE_NAME`` set)
    reads the cookie only: no script ever holds the session there, so an ``Authorization``
    header is ignored and cannot stand in for the cookie's CSRF check.
    """
    services = services_of(request)
    cookie_name = services.settings.session_cookie_name
    token = request.cookies.get(cookie_name) if cookie_name else _bearer(request)
    if not token:
        raise AppSessionError("no app session presented")
    session = await services.sessions.verify(token)
    # A cookie rides along on cross-site requests by itself, so unsafe methods must prove
    # they come from our page: the CSRF token is only known to the page's JavaScript.
    if (
        cookie_name
        and request.method not in _SAFE_METHODS
        and not services.sessions.check_csrf(session.session_id, request.headers.get(CSRF_HEADER))
    ):
        raise AppSessionError("missing or wrong CSRF token")
    return session


def renewal_headers(request: Request, session: AppSession) -> list[tuple[str, str]]:
    """The response headers that hand a renewed session back (none when it was not renewed):
    the cookie in cookie mode (never a script-visible header), ``X-Updated-Session`` else."""
    if session.renewed is None:
        return []
    services = services_of(request)
    cookie_name = services.settings.session_cookie_name
    if cookie_name:
        return [("Set-Cookie", session_cookie(cookie_name, session.renewed, services.clock()))]
    return [(UPDATED_SESSION_HEADER, session.renewed.token)]


def attach_renewal(request: Request, response: Response, session: AppSession) -> None:
    for name, value in renewal_headers(request, session):
        response.headers.append(name, value)


async def creator_context(request: Request) -> CreatorContext:
    """The verified ``CreatorContext`` of ``request``; ``AppSessionError`` (or the store's
    error) when it carries no valid app session. The renewal is the caller's to attach."""
    services = services_of(request)
    session = await verify_request_session(request)
    return CreatorContext(
        creator=session.creator,
        session=session,
        api=services.tokens.client(session.creator),
        tokens=services.tokens,
    )


# What FastAPI (and anything else that reads signatures) sees of a wrapped handler: the request
# only. ``ctx`` is supplied by the wrapper, never by the client (no ``?ctx=`` query parameter).
_ENDPOINT_SIGNATURE = inspect.Signature(
    [inspect.Parameter("request", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=Request)],
    return_annotation=Response,
)


def authenticated(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    """Wrap ``async def handler(request, ctx: CreatorContext) -> Response`` as an endpoint.

    Works on the service's routes, on a host app's own Starlette routes and on FastAPI routes
    (after ``install(host, fanvue_app)``); the endpoint's signature shows ``request`` only. In
    FastAPI, ``Depends(current_creator)`` (``fanvue_embedded.fastapi``) is the idiomatic form.
    """

    @functools.wraps(handler)
    async def endpoint(request: Request) -> Response:
        where = f"{request.method} {request.url.path}"
        try:
            context = await creator_context(request)
        except FanvueError as exc:  # AppSessionError → 401; the store down → 503
            return fanvue_error_response(exc, where)
        try:
            response = await handler(request, context)
        except FanvueError as exc:  # every class has its row in the one table
            return fanvue_error_response(exc, where)
        attach_renewal(request, response, context.session)
        return response

    endpoint.__signature__ = _ENDPOINT_SIGNATURE  # type: ignore[attr-defined]

    # In /openapi.json: secured, and answering any row of the error table.
    described = operation_of(handler) or default_operation(handler)
    return describe(endpoint, replace(described, secured=True, errors=ALL_ERRORS))
