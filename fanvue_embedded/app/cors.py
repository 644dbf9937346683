"""Optional CORS for a frontend on another origin (``CORS_ALLOWED_ORIGINS``).

Exact origins only (``Settings`` refuses ``*``): the API answers with credentials, so a
wildcard would let any site act with a creator's cookie session. The browser may send the
headers the package uses and read the renewed session (``X-Updated-Session``).
"""

from __future__ import annotations

from collections.abc import Sequence

from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware

from .auth import CSRF_HEADER, UPDATED_SESSION_HEADER

__all__ = ["cors_middleware"]

REQUEST_ID_HEADER = "X-Request-ID"


def cors_middleware(origins: Sequence[str]) -> list[Middleware]:
    """The CORS middleware for ``origins``; none when the list is empty (same origin only)."""
    if not origins:
        return []
    return [
        Middleware(
            CORSMiddleware,
            allow_origins=list(origins),
            allow_credentials=True,  # cookie mode; bearer mode sends no credentials
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
            allow_headers=["Authorization", "Content-Type", CSRF_HEADER, REQUEST_ID_HEADER],
            expose_headers=[UPDATED_SESSION_HEADER, REQUEST_ID_HEADER],
            max_age=600,
        )
    ]
