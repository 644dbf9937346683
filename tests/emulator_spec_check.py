"""Check a Fanvue API response against the published spec (``fanvue_embedded.spec``).

Independent of the emulator's own response builder: it walks the spec's dotted field paths
(``lastMessage.text``, ``creatorAccess[].role``, ``byChat{}.messages``) through the JSON and
reports every required field that is missing and every value of the wrong type, format or enum.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime
from typing import Any

from fanvue_embedded.spec import FieldType, Operation

MISSING = object()


def type_problem(kind: FieldType, value: Any) -> str | None:
    """Why ``value`` is not of ``kind`` (``None`` when it is)."""
    if value is None:
        return None if kind.optional else "is null but required"
    checks: dict[str, Callable[[Any], bool]] = {
        "string": lambda v: isinstance(v, str),
        "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
        "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
        "boolean": lambda v: isinstance(v, bool),
        "object": lambda v: isinstance(v, dict),
        "array": lambda v: isinstance(v, list),
        "enum": lambda v: v in kind.enum,
        "any": lambda v: True,
    }
    if not checks[kind.kind](value):
        return f"is {value!r}, not {kind.source}"
    if kind.kind == "string" and kind.format == "uuid":
        try:
            uuid.UUID(value)
        except ValueError:
            return f"is {value!r}, not a uuid"
    if kind.kind == "string" and kind.format in ("date", "date-time"):
        try:
            datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return f"is {value!r}, not an ISO date"
    if kind.kind == "string" and kind.format == "email" and "@" not in value:
        return f"is {value!r}, not an email"
    if kind.kind == "array" and kind.items is not None:
        for element in value:
            problem = type_problem(kind.items, element)
            if problem is not None:
                return f"has an element that {problem}"
    if kind.kind == "object" and kind.properties:
        for name, prop in kind.properties.items():
            problem = type_problem(prop, value.get(name))
            if problem is not None:
                return f".{name} {problem}"
    return None


def _walk(value: Any, segments: list[str], trail: str) -> Iterator[tuple[str, Any, Any]]:
    """``(path, parent, value-or-MISSING)`` for every place a dotted path reaches."""
    head, rest = segments[0], segments[1:]
    is_map = head.endswith("{}") or (head.startswith("{") and head.endswith("}"))
    name = head.removesuffix("[]").removesuffix("{}")
    if head.startswith("{") and head.endswith("}"):
        children = list(value.items()) if isinstance(value, dict) else []
        for key, child in children:
            yield from _continue(child, rest, f"{trail}{key}", value)
        return
    if not isinstance(value, dict):
        return
    child = value.get(name, MISSING)
    path = f"{trail}{name}"
    if not rest and not head.endswith("[]") and not is_map:
        yield path, value, child
        return
    if child is MISSING or child is None:
        if not rest:
            yield path, value, child
        return
    if head.endswith("[]"):
        for index, element in enumerate(child if isinstance(child, list) else []):
            yield from _continue(element, rest, f"{path}[{index}]", child)
    elif is_map:
        for key, element in child.items() if isinstance(child, dict) else []:
            yield from _continue(element, rest, f"{path}{{{key}}}", child)
    else:
        yield from _walk(child, rest, f"{path}.")


def _continue(
    value: Any, rest: list[str], path: str, parent: Any
) -> Iterator[tuple[str, Any, Any]]:
    if rest:
        yield from _walk(value, rest, f"{path}.")
    else:
        yield path, parent, value


def field_problems(fields: Mapping[str, FieldType], body: Any, where: str = "") -> list[str]:
    """Every required field missing from ``body`` and every value of the wrong type."""
    problems: list[str] = []
    for dotted, kind in fields.items():
        if "(" in dotted:
            continue  # "(shape)" notes and "tags.(a|b)" alternatives describe, not name, fields
        segments = dotted.split(".")
        for path, _parent, value in _walk(body, segments, where):
            if value is MISSING:
                if not kind.optional and not _error_alternative(dotted, body):
                    problems.append(f"{path} is missing")
                continue
            problem = type_problem(kind, value)
            if problem is not None:
                problems.append(f"{path} {problem}")
    return problems


def _error_alternative(dotted: str, body: Any) -> bool:
    # byChat{} values are either a result or a PerKeyError {error}: each has its own fields.
    del body
    return "{}" in dotted or dotted.startswith("{")


def response_problems(operation: Operation, body: Any) -> list[str]:
    """What is wrong with a success body for ``operation`` (empty: it matches the spec)."""
    shape = operation.response
    if shape.body_type is not None and shape.body_type.kind == "array":
        if not isinstance(body, list):
            return [f"body is {type(body).__name__}, not a JSON array"]
        return [
            problem
            for index, item in enumerate(body)
            for problem in field_problems(shape.item_fields, item, f"[{index}].")
        ]
    if shape.body_type is not None and shape.body_type.kind == "object":
        return _map_problems(operation, body)
    if not isinstance(body, dict):
        return ["body is not a JSON object"]
    if "(shape)" in shape.fields and set(body) == {"uuid", "status"}:
        return field_problems({k: shape.fields[k] for k in ("uuid", "status")}, body)
    problems = field_problems(shape.fields, body)
    if "data" in shape.fields and isinstance(body.get("data"), list):
        for index, item in enumerate(body["data"]):
            if "(shape)" in shape.item_fields and set(item) == {"uuid", "status"}:
                continue
            problems += field_problems(shape.item_fields, item, f"data[{index}].")
    if "results" in shape.fields and isinstance(body.get("results"), dict):
        for key, item in body["results"].items():
            if item is not None:
                problems += field_problems(shape.item_fields, item, f"results{{{key}}}.")
    if "byChat" in shape.fields and isinstance(body.get("byChat"), dict):
        for key, result in body["byChat"].items():
            for index, message in enumerate(result.get("messages", [])):
                problems += field_problems(
                    shape.item_fields, message, f"byChat{{{key}}}.messages[{index}]."
                )
    return problems


def _map_problems(operation: Operation, body: Any) -> list[str]:
    """A map body (``{userUuid}.isOnline``; fan uuid -> insight | ``{error}``)."""
    shape = operation.response
    if not isinstance(body, dict):
        return ["body is not a JSON object (map)"]
    per_key = {name.split(".", 1)[1]: kind for name, kind in shape.fields.items()}
    problems: list[str] = []
    for key, value in body.items():
        if isinstance(value, dict) and set(value) == {"error"} and "error" in per_key:
            problems += field_problems({"error": per_key["error"]}, value, f"{key}.")
        elif shape.item_fields:
            problems += field_problems(shape.item_fields, value, f"{key}.")
        else:
            problems += field_problems(per_key, value, f"{key}.")
    return problems
