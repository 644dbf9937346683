"""The emulator's creator dashboard: ``GET /`` and its static assets.

A Fanvue-like page (sidebar, creator switcher, theme toggle, in-platform consent) that embeds the
registered app URL in an iframe with a fresh single-use session token and the current theme. The
page talks only to the control API under ``/_emulator/`` (same origin); everything it does, a test
can do with plain HTTP.

Routes:
    GET /                        dashboard.html, themed server-side from the theme cookie
    GET /_dashboard/static/...   dashboard.js, dashboard.css
"""

from __future__ import annotations

from pathlib import Path

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from .state import EmulatorState

STATIC_DIR = Path(__file__).parent / "static"
THEME_COOKIE = "fve-dashboard-theme"

# No inline script or style; the iframe may point at any app origin (http in dev).
DASHBOARD_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: https:; "
    "connect-src 'self'; frame-src http: https:; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'none'"
)


def _theme_for(request: Request) -> str:
    theme = request.query_params.get("theme") or request.cookies.get(THEME_COOKIE)
    return theme if theme in ("light", "dark") else "dark"


async def dashboard_page(request: Request) -> Response:
    html = (STATIC_DIR / "dashboard.html").read_text(encoding="utf-8")
    return HTMLResponse(
        html.replace("__THEME__", _theme_for(request)),
        headers={
            "Content-Security-Policy": DASHBOARD_CSP,
            "Cache-Control": "no-store",
            "Referrer-Policy": "no-referrer",
            "X-Content-Type-Options": "nosniff",
        },
    )


def dashboard_routes(state: EmulatorState | None = None) -> list[BaseRoute]:
    """The routes the emulator app mounts for its dashboard.

    ``state`` is accepted for symmetry with the other route factories; the page itself reads
    everything through the control API, so it needs no server-side access to the state.
    """
    del state
    return [
        Route("/", dashboard_page, methods=["GET"], name="dashboard"),
        Mount(
            "/_dashboard/static",
            app=StaticFiles(directory=STATIC_DIR),
            name="dashboard-static",
        ),
    ]
