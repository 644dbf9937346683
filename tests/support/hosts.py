"""Host apps that use the service the way a library user does: a Starlette app and a FastAPI app
that mount ``create_app(...)`` under a prefix (or at ``/``), call ``install`` and authenticate
their own routes; and uvicorn factories for subprocess tests (``library_app``)."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route

from fanvue_embedded._devdefaults import DEV_CLIENT_ID, DEV_CLIENT_SECRET, DEV_SESSION_SECRET
from fanvue_embedded.app import CreatorContext, authenticated, create_app, install
from fanvue_embedded.config import Settings
from fanvue_embedded.fastapi import CreatorApi, CreatorTypedApi, CurrentCreator
from fanvue_embedded.values import Secret


def host_settings(
    platform_url: str, *, app_url: str, prefix: str = "", **overrides: Any
) -> Settings:
    """Development settings against the emulator at ``platform_url``, for an app served at
    ``app_url`` + ``prefix`` (the redirect URI the emulator must have registered)."""
    values: dict[str, Any] = {
        "client_id": DEV_CLIENT_ID,
        "client_secret": Secret(DEV_CLIENT_SECRET),
        "redirect_uri": f"{app_url}{prefix}/oauth/callback",
        "session_secret": Secret(DEV_SESSION_SECRET),
        "scopes": ("read:self",),
        "mode": "development",
        "platform_url": platform_url,
        "issuer_base_url": platform_url,
        "api_base_url": platform_url,
        "session_ttl": 600.0,
    }
    values.update(overrides)
    return Settings(**values)


@authenticated
async def _hello(request: Request, ctx: CreatorContext) -> Response:
    return JSONResponse({"creator": ctx.creator, "route": "decorated"})


def starlette_host(fanvue_app: Starlette, prefix: str) -> Starlette:
    """The user's Starlette app: its own ``/hello`` (``@authenticated``), the service mounted."""
    host = Starlette(routes=[Route("/hello", _hello), Mount(prefix or "/", app=fanvue_app)])
    install(host, fanvue_app)
    return host


def fastapi_host(fanvue_app: Starlette, prefix: str) -> FastAPI:
    """The user's FastAPI app: routes with the dependencies and one with ``@authenticated``."""
    api = FastAPI(title="host")

    @api.get("/hello")
    async def hello(ctx: CurrentCreator) -> dict[str, str]:
        return {"creator": ctx.creator, "route": "dependency"}

    @api.get("/profile")
    async def profile(client: CreatorApi) -> dict[str, str]:
        user = await client.get_current_user()
        return {"handle": user.handle}

    @api.get("/typed-profile")
    async def typed_profile(fanvue: CreatorTypedApi) -> dict[str, str]:
        user = await fanvue.users.me()
        return {"handle": user["handle"]}

    api.add_api_route("/decorated", _hello, methods=["GET"])
    # Routes first: a mount at "/" takes every path it sees.
    api.mount(prefix or "/", fanvue_app)
    install(api, fanvue_app)
    return api


def library_app() -> Starlette:
    """uvicorn factory (``--factory``): ``create_app`` from the environment and nothing else,
    served with uvicorn's own logging configuration (no ``configure_logging``)."""
    return create_app(Settings.from_env())
