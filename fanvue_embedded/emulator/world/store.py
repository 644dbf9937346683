"""An ordered, keyed collection with cached views, so paging 10,000 items stays O(page)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

Item = dict[str, Any]


class Store:
    """Items by key in insertion order (oldest first); views are cached until the next write."""

    def __init__(self, key: str = "uuid", items: Iterable[Item] = ()) -> None:
        self.key = key
        self._items: dict[str, Item] = {}
        self._views: dict[str, list[Item]] = {}
        for item in items:
            self._items[str(item[key])] = item

    def _changed(self) -> None:
        self._views.clear()

    def touch(self) -> None:
        """Call after changing an item in place, so ordered views are rebuilt."""
        self._changed()

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, key: object) -> bool:
        return key in self._items

    def __iter__(self) -> Iterator[Item]:
        return iter(self._items.values())

    def get(self, key: str) -> Item | None:
        return self._items.get(key)

    def key_of(self, item: Item) -> str:
        return str(item[self.key])

    def add(self, item: Item) -> Item:
        """Insert as the newest item (or replace the item with the same key in place)."""
        self._items[str(item[self.key])] = item
        self._changed()
        return item

    def add_oldest(self, item: Item) -> Item:
        self._items = {str(item[self.key]): item, **self._items}
        self._changed()
        return item

    def remove(self, key: str) -> Item | None:
        item = self._items.pop(key, None)
        if item is not None:
            self._changed()
        return item

    def replace_all(self, items: Iterable[Item]) -> None:
        self._items = {str(item[self.key]): item for item in items}
        self._changed()

    def newest_first(self) -> list[Item]:
        return self.view("newest", lambda items: list(reversed(items)))

    def view(self, name: str, build: Callable[[list[Item]], list[Item]]) -> list[Item]:
        """A derived list (filtered/sorted), built once per version of the store."""
        cached = self._views.get(name)
        if cached is None:
            cached = build(list(self._items.values()))
            self._views[name] = cached
        return cached

    def sorted_view(self, name: str, sort_key: Callable[[Item], Any], reverse: bool) -> list[Item]:
        return self.view(name, lambda items: sorted(items, key=sort_key, reverse=reverse))
