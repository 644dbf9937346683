"""Using the service from a host app: ``install(host, fanvue_app)``.

Mount the service in your own Starlette or FastAPI app and install it there::

    fanvue_app = create_app(settings)
    host.mount("/fanvue", fanvue_app)
    install(host, fanvue_app)

``install`` makes the service's ``Services`` reachable from the host's own routes (so
``authenticated`` and the ``fanvue_embedded.fastapi`` dependencies work on them), answers a
``FanvueError`` raised there from the one error table, adds the middleware that returns a renewed
app session on any response, and runs the service's lifespan inside the host's (mounted apps get
no lifespan events of their own, so its Redis and HTTP clients would never be closed).

Nothing is global: the ``Services`` live on ``host.state`` (``request.app.state`` in a request),
the renewal rides in the request's ASGI scope.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

from starlette.applications import Starlette
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..errors import FanvueError
from .error_table import fanvue_error_handler
from .services import Services

__all__ = ["RENEWAL_SCOPE_KEY", "SessionRenewalMiddleware", "install"]

RENEWAL_SCOPE_KEY = "fanvue_embedded.renewal"
"""ASGI scope key: response headers (name, value) a dependency asks to add (a renewed session)."""


class SessionRenewalMiddleware:
    """Adds the headers a dependency left in the scope (``RENEWAL_SCOPE_KEY``) to the response.

    A FastAPI dependency cannot set headers on a ``Response`` the endpoint returns itself; this
    pure ASGI middleware can, whatever the endpoint returns.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_renewal(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in scope.get(RENEWAL_SCOPE_KEY, ()):
                    headers.append(name, value)
            await send(message)

        await self.app(scope, receive, send_with_renewal)


def install(host: Starlette, fanvue_app: Starlette) -> None:
    """Let ``host``'s own routes authenticate through ``fanvue_app`` (see the module docstring).

    Call it once, before the host starts serving; calling it again with the same pair does
    nothing. ``host`` may be a ``Starlette`` or ``FastAPI`` app.
    """
    services = getattr(fanvue_app.state, "fanvue", None)
    if not isinstance(services, Services):
        raise TypeError("fanvue_app must be an app built by fanvue_embedded.app.create_app")
    installed = getattr(host.state, "fanvue", None)
    if installed is services:
        return
    if installed is not None:
        raise ValueError("another fanvue_embedded app is already installed on this host app")
    host.state.fanvue = services
    host.add_exception_handler(FanvueError, fanvue_error_handler)
    host.add_middleware(SessionRenewalMiddleware)
    host_lifespan = host.router.lifespan_context
    fanvue_lifespan = fanvue_app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[Any]:
        outer: AbstractAsyncContextManager[Any] = host_lifespan(app)
        async with outer as state, fanvue_lifespan(fanvue_app):
            yield state

    host.router.lifespan_context = lifespan
