"""Walk Fanvue's two list styles to the end, with guards against a list that never ends.

* **page** — query ``page`` (from 1) + ``size``; answer ``{data, pagination: {page, size,
  hasMore}}``; the walk stops when ``hasMore`` is false.
* **cursor** — query ``cursor`` (omitted the first time) + ``limit`` or ``size`` (per
  operation); answer ``{data, nextCursor}``; the walk stops at ``nextCursor: null``.

The style and parameter names come from the spec (``Operation.pagination``). A cursor seen
twice, a page answered for another page number, the same page twice, or more than
``max_pages`` pages raise ``ProtocolError``: a broken server never loops us forever. An answer
of the wrong shape is a ``ProtocolError`` too, never a silent stop after page 1.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncGenerator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from .errors import ProtocolError
from .spec import Operation

__all__ = ["DEFAULT_MAX_PAGES", "PagePlan", "plan_for", "walk"]

DEFAULT_MAX_PAGES = 100_000
"""Pages one walk may fetch before it is called a loop (5 million items at size 50)."""

_FALLBACK_MAX_SIZE = 50
"""Fanvue's documented ceiling for every list that declares one; used where the spec declares
no maximum (tracking links) or no size parameter at all."""

FetchPage = Callable[[Mapping[str, str]], Awaitable[Any]]


@dataclass(frozen=True, slots=True)
class PagePlan:
    """How one operation pages: its style and the names of its query parameters."""

    operation_id: str
    style: str  # "page" or "cursor"
    page_param: str | None
    size_param: str
    cursor_param: str | None
    max_size: int

    def size_query(self, page_size: int | None) -> dict[str, str]:
        """``{size_param: page_size}`` after checking the bounds; empty for the default."""
        if page_size is None:
            return {}
        if isinstance(page_size, bool) or not isinstance(page_size, int):
            raise ValueError(f"page_size must be an integer, got {page_size!r}")
        if not 1 <= page_size <= self.max_size:
            raise ValueError(
                f"{self.operation_id}: page_size must be from 1 to {self.max_size}, got {page_size}"
            )
        return {self.size_param: str(page_size)}


def plan_for(operation: Operation) -> PagePlan:
    """The paging plan of a list operation; ``ValueError`` naming it when it is not one."""
    if operation.method != "GET" or operation.pagination is None:
        raise ValueError(
            f"{operation.operation_id} ({operation.method} {operation.path}) is not a "
            "paginated list: use call()"
        )
    # Three page-shaped lists (collections, vault folders) declare no page/size query
    # parameters; their answers echo page and size, so the usual names are assumed.
    size_param = operation.size_param or "size"
    declared = operation.query_by_name.get(size_param)
    maximum = declared.maximum if declared is not None else None
    max_size = int(maximum) if maximum is not None else _FALLBACK_MAX_SIZE
    if operation.pagination == "page":
        return PagePlan(
            operation.operation_id, "page", operation.page_param or "page", size_param, None,
            max_size,
        )  # fmt: skip
    return PagePlan(
        operation.operation_id, "cursor", None, size_param, operation.cursor_param or "cursor",
        max_size,
    )  # fmt: skip


async def walk(
    fetch: FetchPage,
    plan: PagePlan,
    what: str,
    query: Mapping[str, str],
    *,
    max_items: int | None = None,
    max_pages: int = DEFAULT_MAX_PAGES,
) -> AsyncGenerator[list[Any], None]:
    """Yield the list page by page (each page's items), ``max_items`` in all at most.

    ``fetch(query)`` performs one GET; ``what`` names the call in errors (method + path).
    A ``page`` or ``cursor`` already in ``query`` is where the walk starts. Pages, not items,
    are yielded: one async-generator hop per page keeps the walk's overhead per item at zero.
    """
    if max_items is not None and max_items < 0:
        raise ValueError(f"max_items must be 0 or more, got {max_items}")
    if max_pages < 1:
        raise ValueError(f"max_pages must be 1 or more, got {max_pages}")
    if max_items == 0:
        return
    walker = _page_walk if plan.style == "page" else _cursor_walk
    left = max_items
    async with contextlib.aclosing(walker(fetch, plan, what, dict(query), max_pages)) as pages:
        async for items in pages:
            if left is not None and len(items) >= left:
                yield items[:left]
                return
            yield items
            if left is not None:
                left -= len(items)


async def _page_walk(
    fetch: FetchPage, plan: PagePlan, what: str, query: dict[str, str], max_pages: int
) -> AsyncGenerator[list[Any], None]:
    assert plan.page_param is not None
    start = query.get(plan.page_param, "1")
    page_number = int(start) if start.isdigit() else 1
    previous: list[Any] | None = None
    for _ in range(max_pages):
        query[plan.page_param] = str(page_number)
        body = await fetch(query)
        items, pagination = _page_parts(body, what)
        echoed = pagination.get("page")
        numeric = isinstance(echoed, int | float) and not isinstance(echoed, bool)
        if numeric and echoed != page_number:
            raise ProtocolError(f"{what} answered page {echoed} when asked for page {page_number}")
        has_more = pagination.get("hasMore")
        if not isinstance(has_more, bool):
            raise ProtocolError(f"{what} answered a page without a boolean pagination.hasMore")
        if has_more and previous is not None and items == previous:
            raise ProtocolError(f"{what} answered page {page_number} the same as the page before")
        yield items
        if not has_more:
            return
        previous = items
        page_number += 1
    raise ProtocolError(f"{what} still had more after {max_pages} pages (max_pages)")


def _page_parts(body: Any, what: str) -> tuple[list[Any], Mapping[str, Any]]:
    if not isinstance(body, dict) or not isinstance(body.get("data"), list):
        raise ProtocolError(f"{what} did not answer a list page ({{data, pagination}})")
    pagination = body.get("pagination")
    if not isinstance(pagination, dict):
        raise ProtocolError(f"{what} answered a page without pagination")
    return body["data"], pagination


async def _cursor_walk(
    fetch: FetchPage, plan: PagePlan, what: str, query: dict[str, str], max_pages: int
) -> AsyncGenerator[list[Any], None]:
    assert plan.cursor_param is not None
    seen: set[str] = set()
    if plan.cursor_param in query:
        seen.add(query[plan.cursor_param])
    for _ in range(max_pages):
        body = await fetch(query)
        if not isinstance(body, dict) or not isinstance(body.get("data"), list):
            raise ProtocolError(f"{what} did not answer a list page ({{data, nextCursor}})")
        if "nextCursor" not in body:
            raise ProtocolError(f"{what} answered a page without nextCursor")
        yield body["data"]
        cursor = body["nextCursor"]
        if cursor is None:
            return
        if not isinstance(cursor, str) or not cursor:
            raise ProtocolError(f"{what} answered an invalid nextCursor")
        if cursor in seen:
            raise ProtocolError(f"{what} answered a nextCursor it had given before (a loop)")
        seen.add(cursor)
        query[plan.cursor_param] = cursor
    raise ProtocolError(f"{what} still had more after {max_pages} pages (max_pages)")
