"""JSON answers. Errors are ``{"error": <stable code>, "message": <generic text>}``: never a
traceback, a secret or upstream detail."""

from __future__ import annotations

from starlette.responses import JSONResponse

__all__ = ["NO_STORE", "error_response", "json_response"]

NO_STORE = {"Cache-Control": "no-store"}


def json_response(content: object, status_code: int = 200) -> JSONResponse:
    return JSONResponse(content, status_code=status_code, headers=NO_STORE)


def error_response(status_code: int, error: str, message: str) -> JSONResponse:
    """``{"error": <code>, "message": <text>}``; the message is written for humans and never
    echoes a secret, a token or what an upstream said."""
    return json_response({"error": error, "message": message}, status_code)
