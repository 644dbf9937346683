"""The service's error body, checked whole: ``{"error": <code>, "message": <text>}``, nothing else."""

from __future__ import annotations

from typing import Any, Protocol


class _JSONResponse(Protocol):
    def json(self) -> Any: ...


def error_code(response: _JSONResponse) -> str:
    """The ``error`` code of an error answer, after checking the body has exactly its two keys
    (no upstream detail, no traceback can ride along)."""
    body = response.json()
    assert isinstance(body, dict), body
    assert set(body) == {"error", "message"}, body
    code, message = body["error"], body["message"]
    assert isinstance(message, str), body
    assert isinstance(code, str), body
    return code
