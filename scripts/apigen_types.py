"""Python types for the spec's fields (``scripts/generate_api.py``): TypedDicts for answers and
nested request bodies, annotations for parameters.

Response fields are flattened paths in the spec; they are rebuilt into a tree first:

* ``a.b`` — ``b`` inside the object ``a`` (``a`` itself may be unlisted: an object, required);
* ``a[].b`` — ``b`` inside each element of the array ``a``;
* ``a{}.b`` / ``{key}.b`` — ``b`` inside each value of the map ``a`` / of the map that is the
  whole body; the key ``a{}`` alone states the map's type;
* ``a.(x|y)`` — the fields ``a.x`` and ``a.y``, of one type;
* ``(shape)`` — ``anyOf: {uuid,status} when ... | full item``: only the named fields are
  always there, every other one is ``NotRequired``.

``itemFields`` describe the elements of the one list or map in the answer that has no fields
of its own (``data``, ``results``, ``byChat{}.messages``) or, with ``bodyType``, of the body.
A field marked ``?`` is ``NotRequired[T | None]``; the values of a map documented as
``X | PerKeyError`` carry either the result or ``error``, so all their fields are
``NotRequired``. Identical TypedDicts are emitted once, under the first name they got.
"""

from __future__ import annotations

import keyword
import re
from dataclasses import dataclass, field

from fanvue_embedded.spec import FieldType, Operation, parse_type

NUMBER = "int | float"
ANY_OBJECT = "dict[str, Any]"

# Readable names for a few shapes whose mechanical name would mislead (the first operation
# to produce a shared shape names it).
TYPE_NAMES: dict[str, str] = {
    "SendMassMessageExcludedLists": "AudienceLists",
    "CompleteUploadSessionParts": "UploadedPart",
    "GetBulkFanInsightsResults": "FanInsight",
    "ListChatsItemUser": "UserSummary",  # fans, followers, subscribers: one shape
    "MessagesBatchItem": "Message",  # a chat message, in a batch or a page
    "GetBulkFanInsightsResultsSpendingMaxSinglePayment": "SpendingAmount",
}

_MAP_RE = re.compile(r"^(?:map|keys) .+? -> (?P<value>.+)$")
_SHAPE_RE = re.compile(r"\{(?P<names>[\w,\s]+)\}")


def pascal(text: str) -> str:
    """``custom_lists`` / ``byChat`` / ``tracking-links`` → ``CustomLists`` / ``ByChat`` / ..."""
    parts = re.split(r"[_\-\s.]+", text)
    return "".join(part[:1].upper() + part[1:] for part in parts if part)


def snake(name: str) -> str:
    """``userUuid`` → ``user_uuid``; a Python keyword gets a trailing underscore."""
    text = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).lower()
    return text + "_" if keyword.iskeyword(text) or text == "self" else text


def literal(values: tuple[str, ...]) -> str:
    return "Literal[" + ", ".join(f'"{value}"' for value in values) + "]"


@dataclass
class Node:
    """One field of a response (or a nested request body), with what is inside it."""

    type: FieldType | None = None
    children: dict[str, Node] = field(default_factory=dict)
    items: Node | None = None  # fields of each array element (``a[].b``)
    values: Node | None = None  # fields of each map value (``a{}.b``)
    always: frozenset[str] | None = None  # the ``(shape)`` fields that are always present

    def child(self, name: str) -> Node:
        return self.children.setdefault(name, Node())


def build_tree(fields: dict[str, FieldType]) -> Node:
    """The tree of flattened ``fields`` (see the module docstring)."""
    root = Node()
    for key, kind in fields.items():
        for expanded in _expand(key):
            _insert(root, expanded, kind)
    return root


def _expand(key: str) -> list[str]:
    match = re.search(r"\(([\w|]+)\)", key)
    if match is None or key == "(shape)" or "|" not in match[1]:
        return [key]
    return [key[: match.start()] + name + key[match.end() :] for name in match[1].split("|")]


def _insert(root: Node, key: str, kind: FieldType) -> None:
    segments = key.split(".")
    node = root
    for index, segment in enumerate(segments):
        last = index == len(segments) - 1
        if segment == "(shape)":
            found = _SHAPE_RE.search(kind.note or "")
            assert found is not None, f"unreadable (shape): {kind.source}"
            node.always = frozenset(name.strip() for name in found["names"].split(","))
            return
        if segment.startswith("{") and segment.endswith("}"):
            node.values = node.values or Node()
            node = node.values
        elif segment.endswith("[]"):
            holder = node.child(segment[:-2])
            holder.items = holder.items or Node()
            node = holder.items
        elif segment.endswith("{}"):
            holder = node.child(segment[:-2])
            if last:  # ``a{}`` alone: the map's own type
                holder.type = kind
                return
            holder.values = holder.values or Node()
            node = holder.values
        else:
            node = node.child(segment)
    node.type = kind


@dataclass
class TypedDictDef:
    name: str
    fields: list[tuple[str, str, bool]]  # (key, annotation, required)
    total: bool = True


class TypeRegistry:
    """Every TypedDict and alias of ``_types.py``, deduplicated by shape."""

    def __init__(self, reserved: tuple[str, ...] = ()) -> None:
        self.reserved = frozenset(reserved)  # names the module template defines itself
        self.defs: dict[str, TypedDictDef] = {}
        self.aliases: dict[str, str] = {}
        self._by_shape: dict[tuple[object, ...], str] = {}
        self._alias_by_expr: dict[str, str] = {}

    def typed_dict(
        self, name: str, fields: list[tuple[str, str, bool]], *, total: bool = True
    ) -> str:
        shape = (tuple(fields), total)
        known = self._by_shape.get(shape)
        if known is not None:
            return known
        name = TYPE_NAMES.get(name, name)
        unique, counter = name, 2
        while unique in self.defs or unique in self.aliases or unique in self.reserved:
            unique, counter = f"{name}{counter}", counter + 1
        for key, _, _ in fields:
            assert key.isidentifier(), f"{name}: key {key!r}"
            assert not keyword.iskeyword(key), f"{name}: key {key!r}"
        self.defs[unique] = TypedDictDef(unique, fields, total)
        self._by_shape[shape] = unique
        return unique

    def alias(self, name: str, expression: str) -> str:
        known = self._alias_by_expr.get(expression)
        if known is not None:
            return known
        assert name not in self.defs, name
        assert name not in self.aliases, name
        self.aliases[name] = expression
        self._alias_by_expr[expression] = name
        return name


def scalar(kind: FieldType) -> str:
    """The output annotation of a type with no fields listed for it."""
    if kind.kind == "enum":
        return literal(kind.enum)
    if kind.kind == "string":
        return "str"
    if kind.kind == "number":
        return NUMBER
    if kind.kind == "integer":
        return "int"
    if kind.kind == "boolean":
        return "bool"
    if kind.kind == "array":
        assert kind.items is not None
        return f"list[{scalar(kind.items)}]"
    return ANY_OBJECT if kind.kind == "object" else "Any"


class ResponseTypes:
    """Types of one operation's answer, registered in ``registry``."""

    def __init__(self, registry: TypeRegistry, operation: Operation, base: str) -> None:
        self.registry = registry
        self.operation = operation
        self.base = base  # PascalCase stem of every name, from the operationId
        self.item_type: str | None = None
        shape = operation.response
        self.root = build_tree(dict(shape.fields))
        if shape.body_type is not None:
            self.root.type = shape.body_type
        self.item_tree = build_tree(dict(shape.item_fields)) if shape.item_fields else None
        self.attach: Node | None = None
        if self.item_tree is not None:
            self.attach = self.root if shape.body_type is not None else self._find_attach()

    def _find_attach(self) -> Node:
        found: list[Node] = []

        def visit(node: Node) -> None:
            kind = node.type
            if kind is not None and not node.children and node.items is None:
                is_list = kind.kind == "array" and kind.items is not None
                is_list = is_list and kind.items.kind == "object"  # type: ignore[union-attr]
                is_map = kind.kind == "object" and _map_value(kind) is not None
                if (is_list or is_map) and node.values is None:
                    found.append(node)
            for child in node.children.values():
                visit(child)
            for inner in (node.items, node.values):
                if inner is not None:
                    visit(inner)

        visit(self.root)
        assert len(found) == 1, f"{self.operation.operation_id}: items attach to {len(found)}"
        return found[0]

    def annotation(self) -> str:
        """The return annotation of the operation's page/call method."""
        shape, operation = self.operation.response, self.operation
        if shape.status == 204:
            return "None"
        if shape.content_type == "text/plain":
            return "str"
        keys = set(shape.fields)
        if operation.pagination == "page" and keys == {"data", "pagination"}:
            self._items_only()
            return f"Page[{self.item_type}]"
        if operation.pagination == "cursor" and keys == {"data", "nextCursor"}:
            self._items_only()
            return f"CursorPage[{self.item_type}]"
        expression = self.render(self.root, self.base, is_root=True)
        if expression.startswith(("list[", "dict[")):
            return self.registry.alias(f"{self.base}Response", expression)
        return expression

    def _items_only(self) -> None:
        assert self.item_tree is not None, self.operation.operation_id
        self.item_type = self.object_type(self.item_tree, f"{self.base}Item")

    def render(self, node: Node, name: str, *, is_root: bool = False) -> str:
        """The annotation of ``node`` (without its optionality)."""
        kind = node.type
        if node is self.attach:
            assert self.item_tree is not None
            return self._attached(node, name)
        if node.values is not None:
            value = self.object_type(node.values, f"{name}Entry" if is_root else name,
                                     per_key=_per_key(kind))  # fmt: skip
            return f"dict[str, {value}]"
        if node.items is not None:
            return f"list[{self.object_type(node.items, name)}]"
        if node.children or (kind is None) or (is_root and kind.kind == "object"):
            if is_root:
                return self.object_type(node, f"{name}Response", stem=name)
            return self.object_type(node, name)
        if kind.kind == "object" and kind.properties:
            fields = [
                (key, scalar(inner), not inner.optional) for key, inner in kind.properties.items()
            ]
            return self.registry.typed_dict(name, _optional_fields(fields))
        if kind.kind == "object" and _map_value(kind) is not None:
            return f"dict[str, {self._map_scalar(kind, name)}]"
        return scalar(kind)

    def _attached(self, node: Node, name: str) -> str:
        assert self.item_tree is not None
        assert node.type is not None
        kind = node.type
        if kind.kind == "array":
            self.item_type = self.object_type(self.item_tree, f"{self.base}Item")
            return f"list[{self.item_type}]"
        value = _map_value(kind)
        assert value is not None, f"{self.operation.operation_id}: {kind.source}"
        merged = Node(children=dict(self.item_tree.children), always=self.item_tree.always)
        if node.values is not None:
            merged.children.update(node.values.children)
        entry = f"{self.base}Entry" if node is self.root else name
        self.item_type = self.object_type(merged, entry, per_key=_per_key(kind))
        return f"dict[str, {self.item_type}{' | None' if value.endswith('?') else ''}]"

    def _map_scalar(self, kind: FieldType, name: str) -> str:
        value = _map_value(kind)
        assert value is not None
        if value.startswith("{"):
            inner = parse_type("object" + value)
            fields = [(k, scalar(v), not v.optional) for k, v in inner.properties.items()]
            return self.registry.typed_dict(name, _optional_fields(fields))
        return scalar(parse_type(value))

    def object_type(
        self, node: Node, name: str, *, per_key: bool = False, stem: str | None = None
    ) -> str:
        """A TypedDict of ``node``'s fields, named ``name``; nested ones are ``stem`` + field."""
        fields: list[tuple[str, str, bool]] = []
        for key, child in sorted(node.children.items()):
            inner = self.render(child, (stem or name) + pascal(key))
            optional = child.type is not None and child.type.optional
            if optional:
                inner = f"{inner} | None"
            required = not optional and not per_key
            if node.always is not None and key not in node.always:
                required = False
            fields.append((key, inner, required))
        if not fields:
            return ANY_OBJECT
        return self.registry.typed_dict(name, fields)


def _optional_fields(fields: list[tuple[str, str, bool]]) -> list[tuple[str, str, bool]]:
    return [
        (key, kind if required else f"{kind} | None", required) for key, kind, required in fields
    ]


def _map_value(kind: FieldType) -> str | None:
    match = _MAP_RE.match(kind.note or "")
    if match is None:
        return None
    return match["value"].replace("| PerKeyError", "").strip()


def _per_key(kind: FieldType | None) -> bool:
    return kind is not None and "PerKeyError" in (kind.note or "")


# --- request side -----------------------------------------------------------------------------


def input_type(kind: FieldType, *, body: bool, allowed: tuple[str, ...] = ()) -> str:
    """The annotation of a parameter or body field: what a caller may pass."""
    if allowed and kind.kind in ("string", "enum"):
        return "bool" if set(allowed) == {"true", "false"} else literal(allowed)
    if kind.kind == "enum":
        return literal(kind.enum)
    if kind.kind == "array":
        assert kind.items is not None
        item = literal(allowed) if allowed else input_type(kind.items, body=body)
        return f"Sequence[{item}]"
    if kind.kind == "string":
        if body:
            return "str"
        return {"uuid": "str | UUID", "date-time": "str | datetime", "date": "str | date"}.get(
            kind.format or "", "str"
        )
    if kind.kind == "number":
        return NUMBER
    if kind.kind == "integer":
        return "int"
    if kind.kind == "boolean":
        return "bool"
    return ANY_OBJECT if kind.kind == "object" else "Any"


def body_field_types(
    registry: TypeRegistry, operation: Operation, base: str
) -> dict[str, tuple[FieldType, str]]:
    """Each top-level body field: its type and annotation (nested objects as TypedDicts)."""
    spec = operation.request_body
    assert spec is not None
    tree = build_tree(dict(spec.fields))
    result: dict[str, tuple[FieldType, str]] = {}
    for key, node in tree.children.items():
        assert node.type is not None, f"{operation.operation_id}: body field {key}"
        inner = node.items if node.items is not None else node
        if inner.children:
            # Fanvue states no required set below the top level: every nested key is optional.
            fields = [
                (k, input_type(child.type, body=True), False)
                for k, child in sorted(inner.children.items())
                if child.type is not None
            ]
            typed = registry.typed_dict(base + pascal(key), fields, total=False)
            annotation = f"Sequence[{typed}]" if node.items is not None else typed
        else:
            annotation = input_type(node.type, body=True)
        result[key] = (node.type, annotation)
    return result
