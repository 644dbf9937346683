"""Fanvue's two pagination styles, exactly as the spec declares them per operation.

Page style: ``{data, pagination: {page, size, hasMore}}`` where ``pagination.size`` is the number
of records returned. Cursor style: ``{data, nextCursor}``, ``nextCursor`` ``null`` at the end.
Both slice a list that the world keeps ready (no per-call sort or copy of the whole list).
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from typing import Any

from fanvue_embedded.spec import Operation

from . import errors

Item = dict[str, Any]


def _encode_cursor(offset: int, key: str) -> str:
    raw = json.dumps([offset, key], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _decode_cursor(cursor: str, name: str) -> tuple[int, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        offset, key = json.loads(raw)
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError):
        raise errors.validation(f"{name} is not a valid cursor") from None
    if not isinstance(offset, int) or isinstance(offset, bool) or offset < 0:
        raise errors.validation(f"{name} is not a valid cursor")
    return offset, str(key)


def _resume_at(items: Sequence[Item], key_of: Callable[[Item], str], offset: int, key: str) -> int:
    """Where the next page starts: just after the item the cursor names.

    The offset is a hint checked in O(1); when writes moved the item, it is looked up.
    """
    if 0 < offset <= len(items) and key_of(items[offset - 1]) == key:
        return offset
    for index, item in enumerate(items):
        if key_of(item) == key:
            return index + 1
    return min(offset, len(items))  # the item is gone: carry on from where it was


def page_of(
    operation: Operation,
    query: dict[str, Any],
    items: Sequence[Item],
    key_of: Callable[[Item], str],
) -> tuple[list[Item], dict[str, Any]]:
    """The slice to return and the envelope fields besides ``data``."""
    if operation.pagination == "cursor":
        size = int(query[operation.size_param]) if operation.size_param in query else 20
        start = 0
        cursor = query.get(operation.cursor_param or "cursor")
        if cursor:
            offset, key = _decode_cursor(str(cursor), operation.cursor_param or "cursor")
            start = _resume_at(items, key_of, offset, key)
        chunk = list(items[start : start + size])
        end = start + len(chunk)
        more = end < len(items) and bool(chunk)
        return chunk, {"nextCursor": _encode_cursor(end, key_of(chunk[-1])) if more else None}
    if operation.page_param is None:
        # Page-shaped response with no page/size parameters declared: everything at once.
        chunk = list(items)
        return chunk, {"pagination": {"page": 1, "size": len(chunk), "hasMore": False}}
    page = int(query.get(operation.page_param, 1))
    size = int(query.get(operation.size_param or "size", 15))
    start = (page - 1) * size
    chunk = list(items[start : start + size])
    return chunk, {
        "pagination": {"page": page, "size": len(chunk), "hasMore": start + size < len(items)}
    }
