"""Assemble the emulator: one Starlette app serving platform, Hydra, API and control routes."""

from __future__ import annotations

from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.types import Receive, Scope, Send

from .config import EmulatorConfig
from .dashboard import dashboard_routes
from .deliveries import Deliveries
from .guard import RequestGuard
from .records import Creator
from .routes_activity import activity_routes
from .routes_api import api_routes
from .routes_control import control_routes
from .routes_oauth import oauth_routes
from .routes_objects import object_routes
from .routes_platform import platform_routes
from .routes_subscriptions import subscription_routes
from .routes_world import world_routes
from .state import EmulatorState


def _build(state: EmulatorState) -> Starlette:
    deliveries = Deliveries(state)
    routes = [
        *dashboard_routes(state),
        *platform_routes(state),
        *oauth_routes(state),
        *control_routes(state),
        *world_routes(state),
        *activity_routes(state, deliveries),
        *object_routes(state),
        *subscription_routes(state),
        # Last: it answers every other path (404 {message} if unknown).
        *api_routes(state, deliveries),
    ]
    config = state.config
    guard = Middleware(
        RequestGuard,
        issuer=config.issuer,
        allowed_hosts=config.allowed_hosts,
        allowed_origins=config.allowed_origins,
    )
    app = Starlette(routes=routes, middleware=[guard])
    app.state.emulator_state = state
    app.state.emulator_deliveries = deliveries
    return app


class Emulator:
    """An emulator instance: an ASGI app plus direct access to its state for tests.

    ``Emulator()`` is usable as the ASGI app itself (``httpx.ASGITransport(app=emulator)``
    or ``serve_in_thread(emulator)``).
    """

    def __init__(self, config: EmulatorConfig | None = None) -> None:
        self.config = config or EmulatorConfig()
        self.state = EmulatorState(self.config)
        self.app = _build(self.state)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)

    def creator(self, ref: str) -> Creator:
        """A creator by uuid or handle (``KeyError`` when unknown)."""
        found = self.state.find_creator(ref)
        if found is None:
            raise KeyError(ref)
        return found

    def session_token(self, creator: str, ttl: float | None = None) -> str:
        """A fresh session token for ``creator`` (uuid or handle), as the iframe would get."""
        token, _expires_at = self.state.issue_session_token(self.creator(creator).uuid, ttl)
        return token

    def advance_clock(self, seconds: float) -> None:
        self.state.advance_clock(seconds)

    @property
    def counters(self) -> dict[str, Any]:
        return self.state.counters.as_dict()


def create_emulator_app(config: EmulatorConfig | None = None) -> Starlette:
    """A fresh emulator as a Starlette app; its state is ``app.state.emulator_state``."""
    return Emulator(config).app
