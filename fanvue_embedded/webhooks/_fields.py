"""Typed reads of a JSON object's fields: absent or ``null`` is ``None``, a wrong JSON type is a
:class:`ShapeMismatch` naming the field (never its value: payloads hold fan data)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = [
    "ShapeMismatch",
    "boolean",
    "integer",
    "number",
    "obj",
    "text",
    "text_list",
]


class ShapeMismatch(Exception):
    """A documented field holds another JSON type than Fanvue documents."""

    def __init__(self, field: str, expected: str) -> None:
        super().__init__(f"field {field!r} is not {expected}")
        self.field = field


def _get(data: Mapping[str, Any], key: str) -> Any:
    return data.get(key)


def text(data: Mapping[str, Any], key: str, where: str = "") -> str | None:
    value = _get(data, key)
    if value is None or isinstance(value, str):
        return value
    raise ShapeMismatch(where + key, "a string")


def integer(data: Mapping[str, Any], key: str, where: str = "") -> int | None:
    value = _get(data, key)
    # bool is an int subclass; a price of `true` is not 1. 500.0 is accepted as 500.
    if value is None or (isinstance(value, int) and not isinstance(value, bool)):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    raise ShapeMismatch(where + key, "an integer")


def number(data: Mapping[str, Any], key: str, where: str = "") -> float | None:
    value = _get(data, key)
    if value is None:
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    raise ShapeMismatch(where + key, "a number")


def boolean(data: Mapping[str, Any], key: str, where: str = "") -> bool | None:
    value = _get(data, key)
    if value is None or isinstance(value, bool):
        return value
    raise ShapeMismatch(where + key, "a boolean")


def obj(data: Mapping[str, Any], key: str, where: str = "") -> Mapping[str, Any] | None:
    value = _get(data, key)
    if value is None or isinstance(value, dict):
        return value
    raise ShapeMismatch(where + key, "an object")


def text_list(data: Mapping[str, Any], key: str, where: str = "") -> tuple[str, ...] | None:
    value = _get(data, key)
    if value is None:
        return None
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return tuple(value)
    raise ShapeMismatch(where + key, "a list of strings")
