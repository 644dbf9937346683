"""JSON error answers: a stable machine ``error`` code, never a traceback or upstream detail."""

from __future__ import annotations

from starlette.responses import JSONResponse

__all__ = ["NO_STORE", "error_response", "json_response"]

NO_STORE = {"Cache-Control": "no-store"}


def json_response(content: object, status_code: int = 200) -> JSONResponse:
    return JSONResponse(content, status_code=status_code, headers=NO_STORE)


def error_response(status_code: int, error: str, detail: str | None = None) -> JSONResponse:
    """``{"error": <code>}`` plus an optional human hint that never echoes secrets."""
    body: dict[str, str] = {"error": error}
    if detail:
        body["detail"] = detail
    return json_response(body, status_code)
