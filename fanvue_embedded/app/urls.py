"""Paths the app hands out, under whatever prefix it is mounted at.

Every URL, cookie path, redirect and hint the app produces goes through :func:`app_path`, so the
service works the same at ``/`` and mounted under a prefix (``host.mount("/fanvue", app)``, or
served behind a proxy with ``uvicorn --root-path /fanvue``): Starlette puts the prefix in the
ASGI scope's ``root_path``.
"""

from __future__ import annotations

from starlette.requests import HTTPConnection

__all__ = ["app_path", "mount_prefix"]


def mount_prefix(request: HTTPConnection) -> str:
    """The prefix the app is served under: ``""`` at the root, else e.g. ``"/fanvue"``."""
    root: str = request.scope.get("root_path", "")
    return root.rstrip("/")


def app_path(request: HTTPConnection, path: str) -> str:
    """``path`` (one of the app's own, starting with ``/``) as the browser must ask for it."""
    if not path.startswith("/"):
        raise ValueError(f"app paths start with '/', got {path!r}")
    prefix = mount_prefix(request)
    if path == "/":
        return prefix or "/"
    return prefix + path
