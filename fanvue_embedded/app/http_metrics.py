"""HTTP request metrics: count, duration and in-flight requests, by route template."""

from __future__ import annotations

import time

from starlette.routing import Mount
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..metrics import Metrics

__all__ = ["HttpMetricsMiddleware"]

_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
UNMATCHED = "unmatched"


def _route_template(scope: Scope, before: object) -> str:
    """The template of the route that took the request (set by Starlette's router in the
    scope), not the raw path; ``unmatched`` when none did (the scope still holds the route of
    an outer app that mounts this one, if any)."""
    route = scope.get("route")
    if route is None or route is before:
        return UNMATCHED
    path = str(getattr(route, "path", UNMATCHED))
    return f"{path}/{{path}}" if isinstance(route, Mount) else path


class HttpMetricsMiddleware:
    """Pure ASGI (no response buffering): records each request once it is answered."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        method = scope["method"] if scope["method"] in _METHODS else "OTHER"
        outer_route = scope.get("route")
        status = 500  # unless a response starts: an exception escaped every handler
        started = time.perf_counter()

        async def send_and_record_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        in_progress = self.metrics.http_in_progress.labels(method)
        in_progress.inc()
        try:
            await self.app(scope, receive, send_and_record_status)
        finally:
            in_progress.dec()
            route = _route_template(scope, outer_route)
            self.metrics.http_requests.labels(method, route, str(status)).inc()
            self.metrics.http_duration.labels(method, route).observe(time.perf_counter() - started)
