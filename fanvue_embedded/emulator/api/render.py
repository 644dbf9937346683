"""Build a response body from the spec's field list and an item's stored data.

The spec flattens nested fields with dots (``lastMessage.text``, ``creatorAccess[].role``).
Every field the item stores is copied; every required field it lacks is generated from the
field's type, enum and format, deterministically from the item's key, so a response always
carries every required field with the right type. Optional fields the item lacks are ``null``.
Fields the spec does not list are never emitted. Names with ``{}`` or ``(...)`` describe maps
and alternatives; the handlers that own those shapes build them.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from fanvue_embedded.spec import FieldType

ANCHOR = datetime(2025, 6, 1, tzinfo=UTC)
_NAMESPACE = uuid.UUID("9b3f2a6e-2d1c-4f0e-9a77-3c1b8f0d5e21")


@dataclass
class _Node:
    kind: FieldType | None = None
    array: bool = False
    children: dict[str, _Node] = field(default_factory=dict)


_TREES: dict[int, dict[str, _Node]] = {}


def _tree(fields: Mapping[str, FieldType]) -> dict[str, _Node]:
    cached = _TREES.get(id(fields))
    if cached is not None:
        return cached
    root: dict[str, _Node] = {}
    for path, kind in fields.items():
        segments = path.split(".")
        if any("{" in seg or "(" in seg for seg in segments):
            continue
        level = root
        for position, segment in enumerate(segments):
            name = segment.removesuffix("[]")
            node = level.setdefault(name, _Node())
            if segment.endswith("[]"):
                node.array = True
            if position == len(segments) - 1:
                node.kind = kind
            level = node.children
    _TREES[id(fields)] = root
    return root


def _number(seed: str) -> int:
    return int.from_bytes(hashlib.sha256(seed.encode()).digest()[:4], "big")


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def generated(kind: FieldType, seed: str, name: str) -> Any:
    """A value of ``kind``'s type, enum and format, the same for the same seed."""
    number = _number(seed)
    if kind.kind == "enum":
        return kind.enum[number % len(kind.enum)]
    if kind.kind == "boolean":
        return number % 2 == 0
    if kind.kind in ("number", "integer"):
        return number % 1000
    if kind.kind == "array":
        return []
    if kind.kind == "object":
        return {key: generated(prop, f"{seed}.{key}", key) for key, prop in kind.properties.items()}
    if kind.kind != "string":
        return None
    if kind.format == "uuid":
        return str(uuid.uuid5(_NAMESPACE, seed))
    if kind.format in ("date-time", "date"):
        return iso(ANCHOR - timedelta(minutes=number % (180 * 24 * 60)))
    if kind.format == "email":
        return f"user{number % 10000}@example.test"
    if kind.format == "uri":
        return f"https://cdn.emulator.test/{number:x}"
    return f"{name}-{number % 10000}"


def _fill(tree: dict[str, _Node], source: Mapping[str, Any], seed: str) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for name, node in tree.items():
        kind = node.kind
        if name in source:
            value = source[name]
        elif kind is None:
            value = {}  # an intermediate object the spec only names through its children
        elif kind.optional:
            value = None
        else:
            value = generated(kind, f"{seed}.{name}", name)
        if isinstance(value, dict):
            if kind is not None and kind.properties:
                value = {**generated(kind, f"{seed}.{name}", name), **value}
            if node.children:
                value = _fill(node.children, value, f"{seed}.{name}")
        elif isinstance(value, list) and node.array and node.children:
            value = [
                _fill(node.children, element, f"{seed}.{name}.{index}")
                if isinstance(element, dict)
                else element
                for index, element in enumerate(value)
            ]
        result[name] = value
    return result


def render(fields: Mapping[str, FieldType], source: Mapping[str, Any], seed: str) -> dict[str, Any]:
    """The response object for ``fields`` from ``source``; ``seed`` keys generated values."""
    return _fill(_tree(fields), source, seed)
