"""Small HTTP helpers shared by the emulator's route modules."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Sequence

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import Receive

from .faults import Faults
from .state import EmulatorState, OAuthError

Endpoint = Callable[[Request], Awaitable[Response]]
HOLD_POLL_SECONDS = 0.05


def error_response(exc: OAuthError) -> JSONResponse:
    return JSONResponse(exc.body(), status_code=exc.status, headers=exc.headers)


def unavailable() -> JSONResponse:
    return JSONResponse(
        {"error": "temporarily_unavailable", "error_description": "injected fault"},
        status_code=503,
    )


def counted(state: EmulatorState, path: str, endpoint: Endpoint, methods: Sequence[str]) -> Route:
    """A route whose calls are counted as ``"<METHOD> <path template>"``."""

    async def wrapper(request: Request) -> Response:
        state.count_call(f"{request.method} {path}")
        return await endpoint(request)

    return Route(path, wrapper, methods=list(methods))


def api_unavailable(path: str) -> JSONResponse:
    """A 503 in the API's documented shape for 502/503, ``{message}``: Fanvue names it for the
    app-subscription routes and for ``/collections*`` (its collections service unavailable)."""
    if path == "/collections" or path.startswith("/collections/"):
        message = "The collections service is unavailable"
    else:
        message = "Service unavailable"
    return JSONResponse({"message": message}, status_code=503)


async def injected_fault(
    faults: Faults,
    group: str,
    *,
    delay: bool = True,
    answer: Callable[[], Response] = unavailable,
) -> Response | None:
    """Apply the group's 503 faults and latency; a response (``answer()``, the OAuth-shaped
    503 unless the caller's API has its own) means: send this instead."""
    if faults.should_fail(group):
        return answer()
    if delay:
        await asyncio.sleep(faults.latency_seconds(group))
    return None


def bearer_token(request: Request) -> str | None:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer":
        return None
    return token.strip() or None


def issuer_of(state: EmulatorState, request: Request) -> str:
    return state.config.issuer or str(request.base_url).rstrip("/")


async def _wait_for_disconnect(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


async def hold_response(request: Request, faults: Faults, max_seconds: float) -> None:
    """Never answer: wait until the client goes away, the fault is cleared, or a deadline."""
    generation = faults.release_generation
    loop = asyncio.get_running_loop()
    deadline = loop.time() + max_seconds
    gone = asyncio.ensure_future(_wait_for_disconnect(request.receive))
    try:
        while not gone.done() and faults.release_generation == generation:
            if loop.time() >= deadline:
                break
            await asyncio.sleep(HOLD_POLL_SECONDS)
    finally:
        gone.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await gone
