"""Walk the typed API's resource tree by introspection, independent of the generator.

Each public coroutine method of a resource is one operation; its docstring names it
(``GET /users/me``). The ``iterate*`` functions are the page-walking companions.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from fanvue_embedded.spec import Operation, load_spec

_WHERE = re.compile(r"``(GET|POST|PUT|PATCH|DELETE) (/\S*)``")


@dataclass(frozen=True)
class Found:
    """One method of the tree: where it is and the operation its docstring names."""

    where: str  # "api.chats.messages.send"
    function: Callable[..., Any]
    operation: Operation
    iterate: bool


def walk(root: object, prefix: str) -> Iterator[Found]:
    """Every method under ``root`` (resources reached through their cached properties)."""
    spec = load_spec()
    for name in sorted(dir(type(root))):
        if name.startswith("_"):
            continue
        static = inspect.getattr_static(type(root), name)  # the class: a cached value hides it
        where = f"{prefix}.{name}"
        if isinstance(static, cached_property):
            yield from walk(getattr(root, name), where)
            continue
        if not inspect.isfunction(static):
            continue
        match = _WHERE.search(inspect.getdoc(static) or "")
        if match is None:
            continue  # aclose, creator, ...: not an operation
        operation = spec.for_template(match[1], match[2])
        assert operation is not None, f"{where} names {match[0]}, which is no operation"
        bound = getattr(root, name)
        is_iterate = name.startswith("iterate")
        assert inspect.iscoroutinefunction(static) != is_iterate, where
        yield Found(where, bound, operation, is_iterate)
