"""Fanvue's published API as data: every operation, loaded once into typed objects.

The source is ``_data/fanvue-operations.json``, a copy of ``fanvue-api/operations.json`` (all 143
operations of Fanvue's OpenAPI 3.1 document, reduced to method, path, parameters, scopes,
pagination, bodies and response fields). The emulator, the API client, the code generator and the
contract tests all read this one copy, so nothing re-types a path or a field list.

Field types are written in a small notation, parsed by :func:`parse_type`::

    string  string(uuid)  string(date-time)?  number  integer  boolean
    enum[a|b|c]  array<string(uuid)>  array<enum[a|b]>  object  object{page:number,hasMore:boolean}
    object (map fanUuid -> insight)  anyOf: ...

A trailing ``?`` marks a field that may be absent or null. Response fields of nested objects are
flattened with dots (``lastMessage.text``). No I/O here beyond reading the packaged file.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from importlib import resources
from typing import Any, Literal
from urllib.parse import quote

__all__ = [
    "FieldType",
    "Operation",
    "PaginationStyle",
    "PathParam",
    "QueryParam",
    "RequestBody",
    "ResponseShape",
    "Spec",
    "load_spec",
    "parse_type",
]

PaginationStyle = Literal["page", "cursor"]
_SPEC_RESOURCE = "_data/fanvue-operations.json"
_KINDS = frozenset({"string", "number", "integer", "boolean", "object", "array", "enum", "any"})


@dataclass(frozen=True, slots=True)
class FieldType:
    """One parsed type expression of the notation above."""

    kind: str
    optional: bool = False
    format: str | None = None
    enum: tuple[str, ...] = ()
    items: FieldType | None = None
    properties: Mapping[str, FieldType] = field(default_factory=dict)
    note: str | None = None
    source: str = ""


_TYPE_RE = re.compile(
    r"""^(?P<base>
            array<(?P<items>.+)>
          | enum\[(?P<enum>[^\]]*)\]
          | object\{(?P<props>.*)\}
          | (?P<plain>[a-z]+)(?:\((?P<format>[a-z-]+)\))?
        )
        (?P<optional>\?)?
        (?:\s*\((?P<note>.*)\))?$""",
    re.VERBOSE,
)


@functools.lru_cache(maxsize=512)
def parse_type(text: str) -> FieldType:
    """Parse one type expression; raise ``ValueError`` naming it when it is not the notation."""
    source = text.strip()
    if source.startswith("anyOf"):
        return FieldType("any", note=source, source=source)
    match = _TYPE_RE.match(source)
    if match is None:
        raise ValueError(f"unknown type expression in the Fanvue spec: {text!r}")
    optional = match["optional"] is not None
    note = match["note"]
    if match["items"] is not None:
        items = parse_type(match["items"])
        return FieldType("array", optional, items=items, note=note, source=source)
    if match["enum"] is not None:
        values = tuple(match["enum"].split("|"))
        return FieldType("enum", optional, enum=values, note=note, source=source)
    if match["props"] is not None:
        properties = {}
        for part in _split_top_level(match["props"]):
            name, _, kind = part.partition(":")
            properties[name.strip()] = parse_type(kind)
        return FieldType("object", optional, properties=properties, note=note, source=source)
    kind = match["plain"]
    if kind not in _KINDS:
        raise ValueError(f"unknown type {kind!r} in the Fanvue spec: {text!r}")
    return FieldType(kind, optional, format=match["format"], note=note, source=source)


def _split_top_level(text: str) -> list[str]:
    parts, depth, start = [], 0, 0
    for index, char in enumerate(text):
        if char in "<[{(":
            depth += 1
        elif char in ">]})":
            depth -= 1
        elif char == "," and depth == 0:
            parts.append(text[start:index])
            start = index + 1
    parts.append(text[start:])
    return [part for part in parts if part.strip()]


@dataclass(frozen=True, slots=True)
class PathParam:
    name: str
    type: str  # "string" or "number"
    format: str | None  # "uuid" where the spec says so


@dataclass(frozen=True, slots=True)
class QueryParam:
    name: str
    type: FieldType
    required: bool
    default: Any
    minimum: float | None
    maximum: float | None
    enum: tuple[str, ...]
    note: str | None

    @property
    def allowed_values(self) -> tuple[str, ...]:
        """The enum values of the parameter (or of its items, for an array)."""
        if self.enum:
            return self.enum
        if self.type.kind == "enum":
            return self.type.enum
        if self.type.items is not None and self.type.items.kind == "enum":
            return self.type.items.enum
        return ()


@dataclass(frozen=True, slots=True)
class RequestBody:
    content_type: str
    required: tuple[str, ...]
    fields: Mapping[str, FieldType]


@dataclass(frozen=True, slots=True)
class ResponseShape:
    status: int
    content_type: str | None  # None for 204
    fields: Mapping[str, FieldType]
    item_fields: Mapping[str, FieldType]
    body_type: FieldType | None  # set when the body is not an object (bare array, map, text)


@dataclass(frozen=True, slots=True)
class Operation:
    """One Fanvue API operation, as the published spec states it."""

    operation_id: str
    method: str
    path: str
    group: str
    scopes: tuple[str, ...]
    agency: bool
    path_params: tuple[PathParam, ...]
    query: tuple[QueryParam, ...]
    pagination: PaginationStyle | None
    page_param: str | None
    size_param: str | None
    cursor_param: str | None
    request_body: RequestBody | None
    response: ResponseShape
    errors: tuple[int, ...]
    note: str | None
    path_regex: re.Pattern[str] = field(repr=False, compare=False)

    @property
    def query_by_name(self) -> dict[str, QueryParam]:
        return {param.name: param for param in self.query}

    def match(self, method: str, path: str) -> dict[str, str] | None:
        """The raw path parameters when ``method path`` is this operation, else ``None``."""
        if method.upper() != self.method:
            return None
        found = self.path_regex.fullmatch(path)
        return None if found is None else found.groupdict()

    def expand_path(self, params: Mapping[str, object]) -> str:
        """The concrete path, each parameter URL-encoded; ``ValueError`` names what is missing."""
        expected = {param.name for param in self.path_params}
        missing = sorted(expected - params.keys())
        if missing:
            raise ValueError(f"{self.operation_id} needs path parameter(s) {', '.join(missing)}")
        unknown = sorted(params.keys() - expected)
        if unknown:
            raise ValueError(
                f"{self.operation_id} has no path parameter(s) {', '.join(unknown)} "
                f"(it takes: {', '.join(sorted(expected)) or 'none'})"
            )
        path = self.path
        for name, value in params.items():
            text = str(value)
            if not text:
                raise ValueError(f"{self.operation_id}: path parameter {name} is empty")
            path = path.replace("{" + name + "}", quote(text, safe=""))
        return path


class Spec:
    """All operations, indexed by operationId and by method + concrete path."""

    def __init__(self, operations: list[Operation]) -> None:
        self.operations: tuple[Operation, ...] = tuple(operations)
        self._by_id = {operation.operation_id: operation for operation in operations}
        if len(self._by_id) != len(operations):
            raise ValueError("duplicate operationId in the Fanvue spec")
        # Literal paths first, so /chats/unread wins over /chats/{userUuid}.
        self._routing = sorted(operations, key=lambda op: (op.path.count("{"), -len(op.path)))

    def __iter__(self) -> Iterator[Operation]:
        return iter(self.operations)

    def __len__(self) -> int:
        return len(self.operations)

    def __contains__(self, operation_id: object) -> bool:
        return operation_id in self._by_id

    def get(self, operation_id: str) -> Operation:
        """The operation; ``ValueError`` naming it (and near names) when the spec has none."""
        try:
            return self._by_id[operation_id]
        except KeyError:
            near = [name for name in self._by_id if name.lower() == operation_id.lower()]
            hint = f" (did you mean {near[0]}?)" if near else ""
            raise ValueError(f"unknown Fanvue operation {operation_id!r}{hint}") from None

    def resolve(self, method: str, path: str) -> tuple[Operation, dict[str, str]] | None:
        """The operation serving ``method path`` and its raw path parameters, if any."""
        for operation in self._routing:
            params = operation.match(method, path)
            if params is not None:
                return operation, params
        return None

    def for_template(self, method: str, template: str) -> Operation | None:
        """The operation whose path template is exactly ``template``."""
        for operation in self.operations:
            if operation.method == method.upper() and operation.path == template:
                return operation
        return None


def _path_regex(path: str) -> re.Pattern[str]:
    pattern = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(path))
    return re.compile(pattern)


def _operation(raw: Mapping[str, Any]) -> Operation:
    paging = raw.get("paginationParams") or {}
    style = raw.get("pagination")
    body = raw.get("requestBody")
    response = raw["response"]
    return Operation(
        operation_id=raw["operationId"],
        method=raw["method"].upper(),
        path=raw["path"],
        group=raw["group"],
        scopes=tuple(raw["scopes"]),
        agency=bool(raw["agency"]),
        path_params=tuple(
            PathParam(p["name"], p["type"], p.get("format")) for p in raw["pathParams"]
        ),
        query=tuple(
            QueryParam(
                name=q["name"],
                type=parse_type(q["type"]),
                required=bool(q["required"]),
                default=q["default"],
                minimum=q["min"],
                maximum=q["max"],
                enum=tuple(q["enum"] or ()),
                note=q.get("note"),
            )
            for q in raw["query"]
        ),
        pagination=style,
        page_param=paging.get("page"),
        size_param=paging.get("size"),
        cursor_param=paging.get("cursor"),
        request_body=None
        if body is None
        else RequestBody(
            content_type=body["contentType"],
            required=tuple(body["required"]),
            fields={name: parse_type(kind) for name, kind in body["fields"].items()},
        ),
        response=ResponseShape(
            status=int(response["status"]),
            content_type=response.get("contentType"),
            fields={name: parse_type(kind) for name, kind in response["fields"].items()},
            item_fields={
                name: parse_type(kind) for name, kind in response.get("itemFields", {}).items()
            },
            body_type=parse_type(response["bodyType"]) if "bodyType" in response else None,
        ),
        errors=tuple(int(status) for status in raw["errors"]),
        note=raw.get("note"),
        path_regex=_path_regex(raw["path"]),
    )


def spec_text() -> str:
    """The packaged spec file, byte for byte (for staleness checks)."""
    return resources.files("fanvue_embedded").joinpath(_SPEC_RESOURCE).read_text("utf-8")


@functools.cache
def load_spec() -> Spec:
    """The packaged Fanvue spec, parsed once per process."""
    return Spec([_operation(raw) for raw in json.loads(spec_text())])
