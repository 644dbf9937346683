"""The embed page: ``frontend/index.html`` filled in, served with the headers of DESIGN §5."""

from __future__ import annotations

import html
from functools import lru_cache
from pathlib import Path

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from ..config import Settings
from .openapi import operation
from .security import content_security_policy, origin_of, page_headers
from .services import services_of
from .urls import mount_prefix

__all__ = ["THEMES", "embed_page", "frontend_directory", "image_origins", "theme_from_query"]

THEMES = ("light", "dark")
DEFAULT_THEME = "light"


def frontend_directory() -> Path:
    """Where the page's files are: inside the wheel, or ``frontend/`` in a checkout."""
    package = Path(__file__).resolve().parent.parent
    for candidate in (package / "_frontend", package.parent / "frontend"):
        if (candidate / "index.html").is_file():
            return candidate
    raise FileNotFoundError("frontend/index.html is missing from this installation")


@lru_cache(maxsize=1)
def _template() -> str:
    return (frontend_directory() / "index.html").read_text(encoding="utf-8")


def theme_from_query(value: str | None) -> str:
    return value if value in THEMES else DEFAULT_THEME


def image_origins(settings: Settings) -> tuple[str, ...]:
    """Where the page may load images from besides itself: the Fanvue API's and platform's
    origins (where profile data comes from) and ``CSP_IMG_ORIGINS`` (the avatar host: Fanvue
    does not document it)."""
    derived = (origin_of(settings.api_base_url), settings.platform_origin)
    return tuple(dict.fromkeys((*derived, *settings.image_origins)))


@operation(
    "The iframe page Fanvue embeds (CSP frame-ancestors, no-referrer).",
    operation_id="embedPage",
    parameters=tuple(
        {"name": name, "in": "query", "schema": {"type": "string"}} for name in ("token", "theme")
    ),
    answers={
        "200": {
            "description": "The page.",
            "content": {"text/html": {"schema": {"type": "string"}}},
        }
    },
)
async def embed_page(request: Request) -> Response:
    services = services_of(request)
    settings = services.settings
    theme = theme_from_query(request.query_params.get("theme"))
    static_prefix = settings.embed_path.rstrip("/") + "/static"
    root = mount_prefix(request)
    body = (
        _template()
        .replace("__THEME__", theme)
        .replace("__STATIC__", html.escape(root + static_prefix, quote=True))
        .replace("__API_BASE__", html.escape(root, quote=True))
        .replace("__SESSION_MODE__", "cookie" if settings.session_cookie_name else "bearer")
        .replace("__ENTITLEMENT__", "required" if settings.app_uuid else "off")
    )
    csp = content_security_policy(settings.platform_origin, image_origins=image_origins(settings))
    return HTMLResponse(body, headers=page_headers(csp))
