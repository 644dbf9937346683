"""Input checks for the control API: each failure names the offending field."""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse


class FieldError(Exception):
    """``status`` 400 (malformed/unknown), 404 (no such thing), 409 (conflict), 422 (bad value)."""

    def __init__(self, status: int, field: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.field = field
        self.message = message

    def response(self) -> JSONResponse:
        error = {404: "not_found", 409: "conflict"}.get(self.status, "invalid_field")
        body = {"error": error, "field": self.field, "error_description": self.message}
        return JSONResponse(body, status_code=self.status)


async def json_object(request: Request, *, allowed: Iterable[str] | None = None) -> dict[str, Any]:
    try:
        body = json.loads(await request.body() or b"{}")
    except (ValueError, UnicodeDecodeError) as exc:
        raise FieldError(400, "body", "the body must be JSON") from exc
    if not isinstance(body, dict):
        raise FieldError(400, "body", "the body must be a JSON object")
    if allowed is not None:
        known = set(allowed)
        for name in body:
            if name not in known:
                raise FieldError(400, name, f"unknown field {name!r}; known: {sorted(known)}")
    return body


def text(field: str, value: object, *, optional: bool = False) -> str | None:
    if value is None and optional:
        return None
    if not isinstance(value, str) or not value.strip():
        raise FieldError(422, field, f"{field} must be a non-empty string")
    return value


def required_text(field: str, value: object) -> str:
    result = text(field, value)
    assert result is not None
    return result


def text_list(field: str, value: object, *, allow_empty: bool = False) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise FieldError(422, field, f"{field} must be a list of non-empty strings")
    if not value and not allow_empty:
        raise FieldError(422, field, f"{field} must not be empty")
    return tuple(value)


def number(field: str, value: object, *, minimum: float = 0, integer: bool = False) -> float:
    kind = "an integer" if integer else "a number"
    problem = FieldError(422, field, f"{field} must be {kind} >= {minimum}")
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise problem
    if not math.isfinite(value) or value < minimum:
        raise problem
    if integer and not float(value).is_integer():
        raise problem
    return int(value) if integer else float(value)


def choice(field: str, value: object, options: Iterable[str]) -> str:
    allowed = tuple(options)
    if value not in allowed:
        raise FieldError(422, field, f"{field} must be one of {allowed}")
    return str(value)


def boolean(field: str, value: object) -> bool:
    if not isinstance(value, bool):
        raise FieldError(422, field, f"{field} must be true or false")
    return value
