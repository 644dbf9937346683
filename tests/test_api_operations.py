"""Every typed method reaches its operation against the emulator, and the answer has the shape
its return type declares.

The arguments come from the emulator's samples (``tests/emulator_samples.py``: real ids found
through the API, Luna an agency managing Max), turned into the method's Python arguments the
way a caller writes them: path parameters positional, query and body fields as snake_case
keywords, lists as lists. The method is found by walking the tree (``tests/api_tree.py``), not
through the generator. Each answer must carry every key its TypedDict requires (items of a
list and values of a map included), and the emulator must count the call under the template.
"""

from __future__ import annotations

import re
import typing
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from fanvue_embedded._http import shared_tls_context
from fanvue_embedded.api import CursorPage, FanvueAPI, Page
from fanvue_embedded.client import FanvueClient
from fanvue_embedded.spec import Operation, load_spec
from tests.api_tree import Found, walk
from tests.emulator_samples import Ids, World, body_for, path_values, query_values
from tests.support.emulator import EmulatorHandle

pytestmark = pytest.mark.anyio
OPERATIONS = list(load_spec())
PREFIX = "/creators/{creatorUserUuid}"


@pytest.fixture
def control(emulator: EmulatorHandle) -> Iterator[httpx.Client]:
    with httpx.Client(
        verify=shared_tls_context(), base_url=emulator.base_url, timeout=10
    ) as client:
        yield client


def snake(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).lower()


def method_for(api: FanvueAPI, operation: Operation, creator: str) -> Found:
    if operation.path.startswith(PREFIX):
        tree = walk(api.creator(creator), "api.creator(uuid)")
    else:
        tree = walk(api, "api")
    (found,) = [f for f in tree if f.operation == operation and not f.iterate]
    return found


def arguments(
    operation: Operation, path: dict[str, Any], query: dict[str, Any], body: dict[str, Any] | None
) -> tuple[list[Any], dict[str, Any]]:
    names = sorted(path, key=operation.path.index)
    positional = [path[name] for name in names if name != "creatorUserUuid"]
    keywords: dict[str, Any] = {}
    for name, value in query.items():
        param = operation.query_by_name[name]
        if param.type.kind == "array" and isinstance(value, str):
            value = value.split(",")  # a caller passes a list
        keywords[snake(name)] = value
    for name, value in (body or {}).items():
        keywords[snake(name)] = value
    return positional, keywords


def assert_shape(value: Any, annotation: Any, where: str) -> None:
    """``value`` has every key ``annotation`` (a TypedDict, list, dict or Page) requires."""
    origin = typing.get_origin(annotation)
    if origin in (Page, CursorPage):
        assert_shape(value, annotation.__origin__, where)
        for item in value["data"]:
            assert_shape(item, typing.get_args(annotation)[0], f"{where}.data[]")
        return
    if origin is list:
        assert isinstance(value, list), where
        for item in value:
            assert_shape(item, typing.get_args(annotation)[0], f"{where}[]")
        return
    if origin is dict:
        assert isinstance(value, dict), where
        for item in value.values():
            assert_shape(item, typing.get_args(annotation)[1], f"{where}{{}}")
        return
    if typing.is_typeddict(annotation):
        assert isinstance(value, dict), where
        missing = annotation.__required_keys__ - value.keys()
        assert not missing, f"{where} lacks {sorted(missing)}"
        hints = typing.get_type_hints(annotation)
        for key in annotation.__required_keys__:
            assert_shape(value[key], hints[key], f"{where}.{key}")
    # Scalars, unions and Any: the client already decoded them as JSON.


@pytest.mark.parametrize("operation", OPERATIONS, ids=lambda op: op.operation_id)
async def test_method_reaches_its_operation(
    emulator: EmulatorHandle, control: httpx.Client, operation: Operation
) -> None:
    world = World(control)
    mirror = operation.path.startswith(PREFIX)
    ids = Ids(world, f"/creators/{world.max}" if mirror else "")
    path = path_values(operation, ids, world)
    query = query_values(operation, ids, world)
    body = body_for(operation, ids, world)
    positional, keywords = arguments(operation, path, query, body)
    template = f"{operation.method} {operation.path}"
    before = emulator.counters()["calls"].get(template, 0)
    async with FanvueAPI(FanvueClient(world.token, api_base_url=emulator.base_url)) as api:
        found = method_for(api, operation, world.max)
        result = await found.function(*positional, **keywords)
    returns = typing.get_type_hints(found.function)["return"]
    if operation.response.status == 204:
        assert result is None
        assert returns is type(None)
    elif operation.response.content_type == "text/plain":
        assert isinstance(result, str)
        assert result.startswith("http")
    else:
        assert_shape(result, returns, found.where)
    assert emulator.counters()["calls"].get(template, 0) == before + 1


PAGINATED = [op for op in OPERATIONS if op.pagination is not None]


@pytest.mark.parametrize("operation", PAGINATED, ids=lambda op: op.operation_id)
async def test_iterate_companion_walks_the_same_list(
    emulator: EmulatorHandle, control: httpx.Client, operation: Operation
) -> None:
    world = World(control)
    mirror = operation.path.startswith(PREFIX)
    ids = Ids(world, f"/creators/{world.max}" if mirror else "")
    path = path_values(operation, ids, world)
    query = query_values(operation, ids, world)
    positional, keywords = arguments(operation, path, query, None)
    async with FanvueAPI(FanvueClient(world.token, api_base_url=emulator.base_url)) as api:
        tree = walk(api.creator(world.max), "") if mirror else walk(api, "")
        (iterate,) = [f for f in tree if f.operation == operation and f.iterate]
        page = await method_for(api, operation, world.max).function(*positional, **keywords)
        items = [item async for item in iterate.function(*positional, **keywords, max_items=3)]
        everything = [item async for item in iterate.function(*positional, **keywords)]
    assert items == page["data"][:3]
    assert everything[: len(page["data"])] == page["data"]
    assert len(everything) >= len(page["data"])
