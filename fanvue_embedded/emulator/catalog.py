"""Deterministic API data (followers, chats) and the cursor pagination over it."""

from __future__ import annotations

import uuid
from typing import Any

FOLLOWERS_PER_CREATOR = 45
CHATS_PER_CREATOR = 7
DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 50
_EPOCH = 1_735_689_600  # 2025-01-01T00:00:00Z: fixed so the data never changes between runs


def followers(creator_uuid: str) -> list[dict[str, Any]]:
    base = uuid.UUID(creator_uuid)
    return [
        {
            "uuid": str(uuid.uuid5(base, f"follower-{i}")),
            "handle": f"fan{i:02d}",
            "displayName": f"Fan {i:02d}",
            "followedAt": _EPOCH + i * 3600,
        }
        for i in range(FOLLOWERS_PER_CREATOR)
    ]


def chats(creator_uuid: str) -> list[dict[str, Any]]:
    base = uuid.UUID(creator_uuid)
    return [
        {
            "uuid": str(uuid.uuid5(base, f"chat-{i}")),
            "user": {"uuid": str(uuid.uuid5(base, f"follower-{i}")), "handle": f"fan{i:02d}"},
            "lastMessage": f"Hello from fan {i:02d}",
            "unreadCount": i % 3,
        }
        for i in range(CHATS_PER_CREATOR)
    ]


class PageError(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def paginate(items: list[dict[str, Any]], cursor: str | None, size: str | None) -> dict[str, Any]:
    """``{"data", "nextCursor"}``; the cursor is the next offset as an opaque ``c<n>`` string."""
    page_size = DEFAULT_PAGE_SIZE
    if size is not None:
        if not size.isdigit() or not 1 <= int(size) <= MAX_PAGE_SIZE:
            raise PageError("size", f"size must be an integer from 1 to {MAX_PAGE_SIZE}")
        page_size = int(size)
    offset = 0
    if cursor is not None:
        if not cursor.startswith("c") or not cursor[1:].isdigit() or int(cursor[1:]) > len(items):
            raise PageError("cursor", "unknown cursor")
        offset = int(cursor[1:])
    end = offset + page_size
    next_cursor = f"c{end}" if end < len(items) else None
    return {"data": items[offset:end], "nextCursor": next_cursor}
