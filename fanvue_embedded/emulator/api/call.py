"""One validated API call as the handlers see it, with the helpers they share."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from fanvue_embedded.spec import Operation

from ..world.model import World
from ..world.registry import Worlds
from ..world.store import Item
from . import errors, paging
from .render import render


@dataclass
class Call:
    """The operation, its checked inputs, who calls, and the world it acts on.

    ``world`` is the caller's own world, or the managed creator's for ``/creators/{uuid}/*``.
    """

    operation: Operation
    path: dict[str, Any]
    query: dict[str, Any]
    body: dict[str, Any]
    caller: str
    worlds: Worlds
    world: World
    base_url: str
    settings: Any

    def param(self, name: str) -> Any:
        return self.path[name]

    def shape(self, source: Item, seed: str | None = None) -> dict[str, Any]:
        """The response object: every spec field, from ``source`` or generated."""
        key = seed or str(source.get("uuid", self.operation.operation_id))
        return render(self.operation.response.fields, source, key)

    def shape_item(self, source: Item, seed: str | None = None) -> dict[str, Any]:
        """One list item, shaped by the operation's ``itemFields``."""
        key = seed or str(source.get("uuid", source.get("name", "")))
        return render(self.operation.response.item_fields, source, key)

    def listing(
        self,
        items: Sequence[Item],
        project: Callable[[Item], Item] | None = None,
        key_of: Callable[[Item], str] | None = None,
        shape: Callable[[Item], Item] | None = None,
    ) -> dict[str, Any]:
        """A paginated list in the operation's own style, each item projected and shaped.

        Only the page's items are projected and shaped, so a long list costs O(page size).
        """
        key = key_of or (lambda item: str(item.get("uuid", item.get("name"))))
        chunk, envelope = paging.page_of(self.operation, self.query, items, key)
        data = []
        for item in chunk:
            source = project(item) if project else item
            data.append(shape(source) if shape else self.shape_item(source, key(item)))
        return {"data": data, **envelope}

    def require(self, found: Item | None, what: str) -> Item:
        """``found`` or 404 ``{message}`` naming what was not found."""
        if found is None:
            raise errors.not_found(f"{what} not found")
        return found

    def values(self, name: str) -> list[str]:
        """A comma-separated query parameter as a list (already split by the validator)."""
        raw = self.query.get(name)
        if raw is None:
            return []
        parts = raw if isinstance(raw, list) else str(raw).split(",")
        return list(dict.fromkeys(str(part).strip() for part in parts if str(part).strip()))

    def flag(self, name: str) -> bool:
        """A ``"true"``/``"false"`` query flag (defaults already applied)."""
        return self.query.get(name) == "true"
