"""Response headers of the embed page (DESIGN §5)."""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlsplit

__all__ = ["content_security_policy", "origin_of", "page_headers"]


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def content_security_policy(frame_ancestors: str, image_origins: Iterable[str] = ()) -> str:
    """No inline script or style; only our own origin for scripts, styles and fetches.

    ``frame_ancestors`` is the Fanvue platform origin: only Fanvue may embed the page.
    Images: our own origin and the named ``image_origins`` (avatars), never a wildcard.
    """
    origins = [origin for origin in dict.fromkeys(image_origins) if origin != "'self'"]
    if any("*" in origin or ":" not in origin for origin in origins):
        raise ValueError("image origins must be scheme://host[:port] without wildcards")
    images = " ".join(["'self'", *origins])
    return "; ".join(
        [
            "default-src 'none'",
            "script-src 'self'",
            "style-src 'self'",
            f"img-src {images}",
            "connect-src 'self'",
            "font-src 'self'",
            "base-uri 'none'",
            "form-action 'self'",
            f"frame-ancestors {frame_ancestors}",
        ]
    )


def page_headers(csp: str) -> dict[str, str]:
    return {
        "Content-Security-Policy": csp,
        # The embed URL carries the session token: never let it leak through Referer.
        "Referrer-Policy": "no-referrer",
        "Cache-Control": "no-store",
        "X-Content-Type-Options": "nosniff",
    }
