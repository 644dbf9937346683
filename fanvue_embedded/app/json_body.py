"""Bounded JSON request bodies: the one reader every JSON-taking route uses.

A body is refused before it is parsed when it is too large (413 ``payload_too_large``) or
nested deeper than ``MAX_JSON_DEPTH`` (400 ``invalid_json``): Python's parser recurses once per
level, so a few kilobytes of ``[[[[…`` would otherwise end in a ``RecursionError`` — a 500.
These are request errors (the client sent something unusable), not ``FanvueError``s.
"""

from __future__ import annotations

import json
import re
from typing import Any

from starlette.requests import ClientDisconnect, Request

__all__ = [
    "MAX_JSON_BODY",
    "MAX_JSON_DEPTH",
    "BadRequest",
    "json_depth_exceeds",
    "loads_bounded",
    "read_body",
    "read_json_object",
]

MAX_JSON_BODY = 8 * 1024
MAX_JSON_DEPTH = 32

# The only bytes that matter to nesting: quotes and backslashes (strings), brackets.
_STRUCTURE = re.compile(rb'[\\"\[\]{}]')
_OPEN = frozenset(b"[{")
_CLOSE = frozenset(b"]}")


class BadRequest(Exception):
    """Malformed input: answered ``status_code`` ``{"error", "message"}``, never a 500."""

    def __init__(self, status_code: int, error: str, message: str) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.error = error
        self.message = message


def json_depth_exceeds(raw: bytes, limit: int = MAX_JSON_DEPTH) -> bool:
    """True when ``raw`` opens more than ``limit`` arrays/objects inside each other.

    One linear pass over the structural bytes; brackets inside strings do not count. It does
    not validate: the parser still refuses whatever else is wrong.
    """
    depth = 0
    in_string = False
    escaped_at = -1  # the byte after a backslash inside a string is literal
    for match in _STRUCTURE.finditer(raw):
        position = match.start()
        if position == escaped_at:
            continue
        byte = raw[position]
        if in_string:
            if byte == 0x5C:  # backslash
                escaped_at = position + 1
            elif byte == 0x22:  # closing quote
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in _OPEN:
            depth += 1
            if depth > limit:
                return True
        elif byte in _CLOSE:
            depth -= 1
    return False


def loads_bounded(raw: bytes, *, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """Parse ``raw`` as JSON no deeper than ``max_depth``; ``BadRequest`` 400 ``invalid_json``."""
    if json_depth_exceeds(raw, max_depth):
        raise BadRequest(400, "invalid_json", f"the JSON is nested deeper than {max_depth} levels")
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise BadRequest(400, "invalid_json", "the body is not valid JSON") from exc


async def read_body(request: Request, limit: int) -> bytes:
    """The raw body, at most ``limit`` bytes (``Content-Length`` is checked first, then every
    chunk as it arrives); ``BadRequest`` 413 beyond, 400 when the client hung up."""
    declared = request.headers.get("content-length")
    too_large = BadRequest(413, "payload_too_large", f"the body is limited to {limit} bytes")
    if declared is not None and (not declared.isdigit() or int(declared) > limit):
        raise too_large
    body = bytearray()
    try:
        async for chunk in request.stream():
            body.extend(chunk)
            if len(body) > limit:
                raise too_large
    except ClientDisconnect as exc:
        raise BadRequest(400, "invalid_request", "the request body was cut off") from exc
    return bytes(body)


async def read_json_object(
    request: Request, limit: int = MAX_JSON_BODY, *, max_depth: int = MAX_JSON_DEPTH
) -> dict[str, Any]:
    """The request body as a JSON object, bounded in size and depth; ``BadRequest`` otherwise."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/json":
        raise BadRequest(415, "unsupported_media_type", "send application/json")
    data = loads_bounded(await read_body(request, limit), max_depth=max_depth)
    if not isinstance(data, dict):
        raise BadRequest(400, "invalid_request", "the body must be a JSON object")
    return data
