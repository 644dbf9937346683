"""The Starlette service: ``create_app(settings, ...)``.

Run it as is (``fanvue-embedded serve``/``dev``) or mount it into your own Starlette/FastAPI
app under any prefix and call ``install(host, fanvue_app)`` (``host.py``): the host's own routes
can then use ``authenticated`` (or the FastAPI dependencies), and the service's clients are
closed when the host shuts down.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from urllib.parse import urlsplit

import httpx
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from ..config import Settings
from ..envfile import environment_with_env_file
from ..ephemeral import EphemeralStore
from ..errors import ConfigurationError, FanvueError
from ..exchange import OnTokens
from ..logs import configure_logging, install_redaction
from ..models import Clock, system_clock
from ..store import TokenStore
from ..tokens import OnReauthorizationRequired
from ..webhooks import WebhookRegistry
from .auth import CreatorContext, authenticated
from .cors import cors_middleware
from .entitlement import entitlement, requires_subscription
from .error_table import fanvue_error_handler
from .host import install
from .http_metrics import HttpMetricsMiddleware
from .middleware import RequestIdMiddleware
from .oauth_routes import oauth_callback, oauth_login
from .openapi import OPENAPI_PATH, Operation, describe, error_answer, openapi_json
from .page import embed_page, frontend_directory
from .responses import error_response
from .routes import healthz, logout, me, metrics, readyz, session_exchange
from .services import Services, build_services
from .webhook_route import webhook_route

__all__ = [
    "CreatorContext",
    "Services",
    "app_from_env",
    "authenticated",
    "create_app",
    "install",
    "requires_subscription",
    "secret_values",
]

_REASONS = {
    404: ("not_found", "no such route"),
    405: ("method_not_allowed", "this route does not take that method"),
}


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    error, message = _REASONS.get(exc.status_code, ("http_error", "the request was refused"))
    response = error_response(exc.status_code, error, message)
    if exc.headers:
        response.headers.update(exc.headers)
    return response


async def _server_error(request: Request, exc: Exception) -> Response:
    # Starlette logs the traceback; the client learns nothing about it.
    return error_response(500, "internal_error", "The service failed.")


def _static_files() -> StaticFiles:
    files = StaticFiles(directory=frontend_directory())
    return describe(
        files,
        Operation(
            "The page's scripts and styles.",
            operation_id="staticFile",
            answers={"200": {"description": "The file."}, "404": error_answer("not_found")},
        ),
    )


def create_app(
    settings: Settings,
    *,
    routes: Sequence[BaseRoute] = (),
    store: TokenStore | None = None,
    ephemeral: EphemeralStore | None = None,
    on_tokens: OnTokens | None = None,
    on_reauthorization_required: OnReauthorizationRequired | None = None,
    http: httpx.AsyncClient | None = None,
    clock: Clock = system_clock,
    webhooks: WebhookRegistry | None = None,
) -> Starlette:
    """Build the service. ``routes`` are yours (wrap handlers with ``authenticated``).

    ``POST /webhooks/fanvue`` is mounted when ``webhooks`` (your handlers) is given or
    ``FANVUE_WEBHOOK_SECRET`` is set; it needs that secret to verify anything.
    """
    if webhooks is not None and not settings.webhook_secrets:
        raise ConfigurationError(
            "webhook handlers were given but FANVUE_WEBHOOK_SECRET is not set: every delivery "
            "would be rejected. Set it to the app's webhook signing secret.",
            variable="FANVUE_WEBHOOK_SECRET",
        )
    # The page's entitlement check, when the app sells plans (FANVUE_APP_UUID).
    entitlement_routes: list[BaseRoute] = []
    if settings.app_uuid is not None:
        entitlement_routes.append(Route("/api/entitlement", entitlement, methods=["GET"]))
    webhook_routes: list[BaseRoute] = []
    if settings.webhook_secrets:
        webhook_routes.append(webhook_route(webhooks or WebhookRegistry()))
    # Mask tokens in the loggers this app writes through (uvicorn's access log included) without
    # touching the application's logging setup: no handler, no level, not the root logger.
    install_redaction(secret_values(settings))
    services = build_services(
        settings,
        store=store,
        ephemeral=ephemeral,
        on_tokens=on_tokens,
        on_reauthorization_required=on_reauthorization_required,
        http=http,
        clock=clock,
    )
    embed = settings.embed_path.rstrip("/") or "/"
    static_path = settings.embed_path.rstrip("/") + "/static"

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await services.aclose()
            services.metrics.mark_process_dead()

    app = Starlette(
        routes=[
            Route(embed, embed_page, methods=["GET"]),
            Mount(static_path, _static_files(), name="static"),
            Route("/api/fanvue/session", session_exchange, methods=["POST"]),
            Route("/api/fanvue/logout", logout, methods=["POST"]),
            Route("/api/me", me, methods=["GET"]),
            *entitlement_routes,
            Route("/oauth/login", oauth_login, methods=["GET"]),
            Route("/oauth/callback", oauth_callback, methods=["GET"]),
            Route("/healthz", healthz, methods=["GET"]),
            Route("/readyz", readyz, methods=["GET"]),
            Route("/metrics", metrics, methods=["GET"]),
            Route(OPENAPI_PATH, openapi_json, methods=["GET"]),
            *webhook_routes,
            *routes,
        ],
        middleware=[
            Middleware(RequestIdMiddleware),
            *cors_middleware(settings.cors_allowed_origins),
            Middleware(HttpMetricsMiddleware, metrics=services.metrics),
        ],
        exception_handlers={
            HTTPException: _http_error,
            # A FanvueError no route caught (your own routes too) answers from the one table.
            FanvueError: fanvue_error_handler,
            500: _server_error,
        },
        lifespan=lifespan,
    )
    app.state.fanvue = services
    return app


def app_from_env() -> Starlette:
    """The uvicorn factory ``serve`` runs: settings from the process environment over the
    working directory's ``.env`` file, if any."""
    environ = environment_with_env_file()
    settings = Settings.from_env(environ)
    configure_logging(
        environ.get("LOG_LEVEL", "INFO").upper(),
        json_format=environ.get("LOG_FORMAT", "json") == "json",
        secrets=secret_values(settings),
    )
    return create_app(settings)


def secret_values(settings: Settings) -> list[str]:
    """Every configured secret value, for the log redaction filter."""
    values = [settings.client_secret.get_secret_value(), settings.session_secret.get_secret_value()]
    values += [secret.get_secret_value() for secret in settings.webhook_secrets]
    if settings.redis_url is not None:
        password = urlsplit(settings.redis_url.get_secret_value()).password
        if password:
            values.append(password)
    return values
