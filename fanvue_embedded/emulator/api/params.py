"""Check a call's path parameters, query and JSON body against its operation in the spec.

Query values arrive as strings; each parameter is checked for its type, bounds and enum and
given the spec's default when absent. Booleans stay the strings ``"true"``/``"false"`` (Fanvue
declares them so); array parameters accept comma-separated values, repeated parameters or both.
Every failure names the parameter (400 ``{errors}``); a malformed UUID in the path is 400
``{message}``.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from datetime import datetime
from typing import Any
from urllib.parse import unquote

from fanvue_embedded.spec import FieldType, Operation, QueryParam

from . import errors

_INTEGER = re.compile(r"^-?\d+$")


def is_uuid(value: object) -> bool:
    if not isinstance(value, str):
        return False
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return len(value) == 36


def is_datetime(value: object) -> bool:
    if not isinstance(value, str) or len(value) < 10:
        return False
    try:
        datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


def path_params(operation: Operation, raw: dict[str, str]) -> dict[str, Any]:
    """Decoded, checked path parameters; numbers become ints."""
    result: dict[str, Any] = {}
    for param in operation.path_params:
        value = unquote(raw[param.name])
        if param.format == "uuid" and not is_uuid(value):
            raise errors.bad_request(f"{param.name} must be a valid UUID")
        if param.type == "number":
            if not _INTEGER.match(value) or int(value) < 1:
                raise errors.validation(f"{param.name} must be a positive integer")
            result[param.name] = int(value)
        else:
            result[param.name] = value
    return result


def _comma_separated(param: QueryParam) -> bool:
    return param.type.kind == "array" or "comma-separated" in (param.note or "")


def _scalar_problem(name: str, kind: FieldType, value: str, param: QueryParam) -> str | None:
    if kind.kind in ("number", "integer"):
        if not _INTEGER.match(value):
            return f"{name} must be an integer number"
        number = int(value)
        if param.minimum is not None and number < param.minimum:
            return f"{name} must not be less than {param.minimum:g}"
        if param.maximum is not None and number > param.maximum:
            return f"{name} must not be greater than {param.maximum:g}"
        return None
    if kind.format == "uuid" and not is_uuid(value):
        return f"{name} must be a UUID"
    if kind.format in ("date-time", "date") and not is_datetime(value):
        return f"{name} must be a valid ISO 8601 date string"
    return None


def _query_value(param: QueryParam, values: list[str]) -> tuple[Any, str | None]:
    name, kind = param.name, param.type
    allowed = param.allowed_values
    if _comma_separated(param):
        items = [part.strip() for value in values for part in value.split(",") if part.strip()]
        uuids = kind.items is not None and kind.items.format == "uuid"
        for item in items:
            if allowed and item not in allowed:
                listed = ", ".join(allowed)
                return None, f"each value in {name} must be one of the following values: {listed}"
            if uuids and not is_uuid(item):
                return None, f"each value in {name} must be a UUID"
        if param.maximum is not None and len(items) > param.maximum:
            return None, f"{name} must contain no more than {param.maximum:g} elements"
        return items, None
    value = values[-1]
    if allowed and value not in allowed:
        return None, f"{name} must be one of the following values: " + ", ".join(allowed)
    if kind.kind == "string" and kind.format is None and param.maximum is not None:
        if len(value) > param.maximum:
            return None, f"{name} must be shorter than or equal to {param.maximum:g} characters"
        return value, None
    problem = _scalar_problem(name, kind, value, param)
    if problem is not None:
        return None, problem
    return (int(value) if kind.kind in ("number", "integer") else value), None


def query_params(operation: Operation, items: list[tuple[str, str]]) -> dict[str, Any]:
    """The operation's query parameters, checked, with defaults; unknown ones are ignored."""
    given: dict[str, list[str]] = {}
    for key, value in items:
        if value != "":
            given.setdefault(key, []).append(value)
    result: dict[str, Any] = {}
    problems: list[str] = []
    for param in operation.query:
        values = given.get(param.name)
        if not values:
            if param.required:
                problems.append(f"{param.name} should not be empty")
            elif param.default is not None:
                default = param.default
                result[param.name] = [default] if _comma_separated(param) else default
            continue
        value, problem = _query_value(param, values)
        if problem is not None:
            problems.append(problem)
        else:
            result[param.name] = value
    if problems:
        raise errors.validation(*problems)
    return result


def _type_problem(name: str, kind: FieldType, value: Any) -> str | None:
    if value is None:
        return None if kind.optional else f"{name} should not be null"
    if kind.kind == "string":
        if not isinstance(value, str):
            return f"{name} must be a string"
        if kind.format == "uuid" and not is_uuid(value):
            return f"{name} must be a UUID"
        if kind.format in ("date-time", "date") and not is_datetime(value):
            return f"{name} must be a valid ISO 8601 date string"
        if kind.format == "email" and "@" not in value:
            return f"{name} must be an email"
        return None
    if kind.kind in ("number", "integer"):
        if isinstance(value, bool) or not isinstance(value, int | float):
            return f"{name} must be a number"
        if kind.kind == "integer" and not float(value).is_integer():
            return f"{name} must be an integer number"
        return None
    if kind.kind == "boolean":
        return None if isinstance(value, bool) else f"{name} must be a boolean value"
    if kind.kind == "enum":
        if value not in kind.enum:
            return f"{name} must be one of the following values: " + ", ".join(kind.enum)
        return None
    if kind.kind == "object":
        return None if isinstance(value, dict) else f"{name} must be an object"
    if kind.kind == "array":
        if not isinstance(value, list):
            return f"{name} must be an array"
        if kind.items is not None and kind.items.kind != "object":
            for item in value:
                problem = _type_problem(f"each value in {name}", kind.items, item)
                if problem is not None:
                    return problem
        return None
    return None


def _values_at(body: Any, path: list[str]) -> Iterator[Any]:
    """Every value at a dotted path (``parts[].ETag`` walks each element of ``parts``)."""
    if not path:
        yield body
        return
    head, rest = path[0], path[1:]
    key = head.removesuffix("[]")
    if not isinstance(body, dict) or key not in body:
        return
    value = body[key]
    if head.endswith("[]"):
        if isinstance(value, list):
            for element in value:
                if rest:
                    yield from _values_at(element, rest)
                else:
                    yield element
        return
    yield from _values_at(value, rest)


def json_body(operation: Operation, raw: bytes, content_type: str) -> dict[str, Any]:
    """The JSON object body, its required fields present and every known field well typed."""
    spec_body = operation.request_body
    if spec_body is None:
        return {}
    if raw.strip() and content_type.split(";")[0].strip().lower() != "application/json":
        raise errors.validation("the body must be JSON (Content-Type: application/json)")
    try:
        body = json.loads(raw) if raw.strip() else {}
    except (ValueError, UnicodeDecodeError):
        raise errors.validation("the body must be valid JSON") from None
    if not isinstance(body, dict):
        raise errors.validation("the body must be a JSON object")
    problems = [f"{name} should not be empty" for name in spec_body.required if name not in body]
    for name, kind in spec_body.fields.items():
        for value in _values_at(body, name.split(".")):
            problem = _type_problem(name.replace("[]", ""), kind, value)
            if problem is not None:
                problems.append(problem)
                break
    if problems:
        raise errors.validation(*problems)
    return body
