"""Check a call against Fanvue's spec before it is sent, and encode its query.

Every check raises ``ValueError`` naming the operation and the offending parameter or field, so
a typo never reaches Fanvue (and never costs a rate-limit token). Encoding follows the spec's
conventions: booleans as ``"true"``/``"false"``, lists comma-separated (``style: form,
explode: false``), dates as ISO 8601.
"""

from __future__ import annotations

import datetime
import math
import uuid
from collections.abc import Mapping
from typing import Any

from .spec import FieldType, Operation, QueryParam

__all__ = ["check_body", "check_path_params", "encode_query", "encode_query_value"]


def check_path_params(operation: Operation, values: Mapping[str, object]) -> str:
    """The concrete, URL-encoded path; ``ValueError`` for a missing, unknown or ill-typed one."""
    for param in operation.path_params:
        if param.name not in values:
            continue
        value = values[param.name]
        where = f"{operation.operation_id}: path parameter {param.name}"
        if param.type == "number":
            if not _is_integral(value):
                raise ValueError(f"{where} must be a whole number, got {value!r}")
        elif not isinstance(value, str | uuid.UUID):
            raise ValueError(f"{where} must be a string, got {type(value).__name__}")
        if param.format == "uuid":
            _check_uuid(where, value)
    return operation.expand_path(values)


def encode_query(operation: Operation, params: Mapping[str, object] | None) -> dict[str, str]:
    """The query as Fanvue expects it; ``None`` values are left out.

    ``ValueError`` for an unknown parameter (listing the ones the operation takes), a missing
    required one, or a value outside the spec's type, bounds or allowed values.
    """
    known = operation.query_by_name
    query: dict[str, str] = {}
    for name, value in (params or {}).items():
        param = known.get(name)
        if param is None:
            accepted = ", ".join(sorted(known)) or "none"
            raise ValueError(
                f"{operation.operation_id} has no query parameter {name!r} (it takes: {accepted})"
            )
        if value is None:
            continue
        query[name] = encode_query_value(operation, param, value)
    missing = [p.name for p in operation.query if p.required and p.name not in query]
    if missing:
        raise ValueError(f"{operation.operation_id} needs query parameter(s) {', '.join(missing)}")
    return query


def encode_query_value(operation: Operation, param: QueryParam, value: object) -> str:
    """One query value, checked against ``param`` and encoded."""
    where = f"{operation.operation_id}: query parameter {param.name}"
    kind = param.type
    is_list = isinstance(value, list | tuple | set | frozenset)
    if is_list and kind.kind not in ("array", "string"):
        raise ValueError(f"{where} must be a {kind.kind}, got {type(value).__name__}")
    # Lists are comma-separated: array parameters, and the string ones documented as lists.
    if kind.kind == "array" or is_list:
        items = _as_items(value)
        item_type = kind.items if kind.items is not None else FieldType("string")
        if kind.kind == "array" and param.maximum is not None and len(items) > param.maximum:
            raise ValueError(f"{where} takes at most {param.maximum:g} items, got {len(items)}")
        allowed = param.allowed_values
        return ",".join(_scalar(where, item_type, item, allowed, param) for item in items)
    return _scalar(where, kind, value, param.allowed_values, param)


def _as_items(value: object) -> list[object]:
    if isinstance(value, str):
        return [part for part in value.split(",") if part]
    if isinstance(value, list | tuple):
        return list(value)
    if isinstance(value, set | frozenset):
        return sorted(value, key=str)
    return [value]


def _scalar(
    where: str, kind: FieldType, value: object, allowed: tuple[str, ...], param: QueryParam | None
) -> str:
    if isinstance(value, bool):
        text = "true" if value else "false"
        if kind.kind not in ("boolean", "string", "enum"):
            raise ValueError(f"{where} must be a {kind.kind}, got a boolean")
    elif kind.kind in ("number", "integer"):
        text = _number(where, kind.kind, value, param)
    elif isinstance(value, datetime.datetime | datetime.date):
        text = value.isoformat()
    elif isinstance(value, uuid.UUID):
        text = str(value)
    elif isinstance(value, str):
        text = value
    else:
        raise ValueError(f"{where} must be a {kind.kind}, got {type(value).__name__}")
    if allowed and text not in allowed:
        raise ValueError(f"{where} must be one of {', '.join(allowed)}, got {text!r}")
    if kind.kind == "boolean" and text not in ("true", "false"):
        raise ValueError(f"{where} must be true or false, got {text!r}")
    if kind.format == "uuid":
        _check_uuid(where, text)
    elif kind.format == "date-time":
        _check_datetime(where, text)
    return text


def _number(where: str, kind: str, value: object, param: QueryParam | None) -> str:
    number: float
    if isinstance(value, int | float):
        number = value
    elif isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            raise ValueError(f"{where} must be a {kind}, got {value!r}") from None
    else:
        raise ValueError(f"{where} must be a {kind}, got {type(value).__name__}")
    if not math.isfinite(number):
        raise ValueError(f"{where} must be a finite {kind}, got {value!r}")
    if kind == "integer" and not float(number).is_integer():
        raise ValueError(f"{where} must be a whole number, got {value!r}")
    if param is not None:
        if param.minimum is not None and number < param.minimum:
            raise ValueError(f"{where} must be at least {param.minimum:g}, got {value!r}")
        if param.maximum is not None and number > param.maximum:
            raise ValueError(f"{where} must be at most {param.maximum:g}, got {value!r}")
    if float(number).is_integer():
        return str(int(number))
    return repr(float(number))


def _is_integral(value: object) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return True
    return isinstance(value, str) and value.isdigit()


def _check_uuid(where: str, value: object) -> None:
    try:
        uuid.UUID(str(value))
    except ValueError:
        raise ValueError(f"{where} must be a UUID, got {value!r}") from None


def _check_datetime(where: str, text: str) -> None:
    try:
        datetime.datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{where} must be an ISO 8601 date-time, got {text!r}") from None


# --- request bodies ---------------------------------------------------------------------------

_JSON_KINDS: Mapping[str, tuple[type, ...]] = {
    "string": (str,),
    "enum": (str,),
    "number": (int, float),
    "integer": (int,),
    "boolean": (bool,),
    "array": (list, tuple),
    "object": (dict,),
}


def check_body(operation: Operation, body: Any) -> None:
    """``ValueError`` unless ``body`` fits the operation's documented JSON body: present when
    the operation takes one (absent otherwise), an object, required fields present, no unknown
    top-level fields, top-level values of the documented kind."""
    spec = operation.request_body
    name = operation.operation_id
    if spec is None:
        if body is not None:
            raise ValueError(f"{name} takes no request body")
        return
    if body is None:
        if spec.required:
            raise ValueError(f"{name} needs a JSON body with {', '.join(spec.required)}")
        return
    if not isinstance(body, Mapping):
        raise ValueError(f"{name} takes a JSON object body, got {type(body).__name__}")
    top_level = {
        field: kind for field, kind in spec.fields.items() if "." not in field and "[" not in field
    }
    unknown = sorted(set(body) - set(top_level))
    if unknown:
        raise ValueError(
            f"{name} has no body field(s) {', '.join(unknown)} "
            f"(it takes: {', '.join(sorted(top_level))})"
        )
    missing = [field for field in spec.required if field not in body]
    if missing:
        raise ValueError(f"{name} needs body field(s) {', '.join(missing)}")
    for field, value in body.items():
        _check_body_value(name, field, top_level[field], value)


def _check_body_value(name: str, field: str, kind: FieldType, value: Any) -> None:
    where = f"{name}: body field {field}"
    if value is None:
        if not kind.optional:
            raise ValueError(f"{where} may not be null")
        return
    expected = _JSON_KINDS.get(kind.kind)
    if expected is None:
        return
    # bool is an int in Python but not a JSON number.
    if (isinstance(value, bool) and kind.kind != "boolean") or not isinstance(value, expected):
        raise ValueError(f"{where} must be a {kind.kind}, got {type(value).__name__}")
    if kind.kind == "enum" and value not in kind.enum:
        raise ValueError(f"{where} must be one of {', '.join(kind.enum)}, got {value!r}")
