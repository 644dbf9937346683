"""The typed API's surface: one method per operation, English names, creator-bound mirrors.

No server: the tree is walked by introspection (``tests/api_tree.py``) and compared with the
spec; a call that the spec rejects is refused before anything is sent, so these tests use a
client pointed at a closed port.
"""

from __future__ import annotations

import inspect
import re
from collections import Counter
from collections.abc import AsyncIterator

import pytest

from fanvue_embedded.api import OMIT, FanvueAPI
from fanvue_embedded.api._runtime import body
from fanvue_embedded.client import FanvueClient
from fanvue_embedded.spec import load_spec
from tests.api_tree import Found, walk

pytestmark = pytest.mark.anyio
SPEC = load_spec()
PREFIX = "/creators/{creatorUserUuid}"
MAX = "6f1c2d3e-4a5b-4c6d-8e7f-8091a2b3c4d5"


@pytest.fixture
async def api() -> AsyncIterator[FanvueAPI]:
    # Port 9 (discard) on loopback: nothing listens, so a request that got out would fail
    # with a transport error, never with the ValueError these tests expect.
    async with FanvueAPI(FanvueClient("token", api_base_url="http://127.0.0.1:9")) as built:
        yield built


def methods(api: FanvueAPI) -> tuple[list[Found], list[Found]]:
    return list(walk(api, "api")), list(walk(api.creator(MAX), "api.creator(uuid)"))


async def test_every_operation_has_exactly_one_method(api: FanvueAPI) -> None:
    root, creator = methods(api)
    calls = [found for found in root + creator if not found.iterate]
    counts = Counter(found.operation.operation_id for found in calls)
    assert set(counts) == {operation.operation_id for operation in SPEC}
    assert all(count == 1 for count in counts.values()), counts.most_common(3)
    assert len(calls) == len(SPEC) == 143


async def test_the_creator_view_has_exactly_the_mirrors(api: FanvueAPI) -> None:
    root, creator = methods(api)
    mirrored = {op.operation_id for op in SPEC if op.path.startswith(PREFIX)}
    assert {found.operation.operation_id for found in creator} == mirrored
    assert not {found.operation.operation_id for found in root} & mirrored
    # Each mirror has the name its creator's-own operation has at the root.
    root_names = {
        (found.operation.method, found.operation.path, found.iterate): found.where for found in root
    }
    for found in creator:
        operation = found.operation
        own = root_names.get((operation.method, operation.path.removeprefix(PREFIX), found.iterate))
        if own is not None:
            assert found.where.removeprefix("api.creator(uuid)") == own.removeprefix("api")


async def test_operations_without_a_mirror_are_absent_from_the_creator_view(api: FanvueAPI) -> None:
    view = api.creator(MAX)
    assert not hasattr(view, "agency")
    assert not hasattr(view, "creators")
    assert not hasattr(view.users, "me")  # GET /users/me has no /creators/{uuid} mirror
    assert not hasattr(view.posts, "get")
    assert hasattr(view.users, "account")


async def test_every_list_has_an_iterate_companion(api: FanvueAPI) -> None:
    root, creator = methods(api)
    iterated = Counter(found.operation.operation_id for found in root + creator if found.iterate)
    paginated = {op.operation_id for op in SPEC if op.pagination is not None}
    assert set(iterated) == paginated
    assert all(count == 1 for count in iterated.values())


async def test_names_read_as_english(api: FanvueAPI) -> None:
    root, creator = methods(api)
    wheres = [found.where for found in root + creator]
    assert len(wheres) == len(set(wheres))
    for where in wheres:
        assert re.fullmatch(r"api(\.creator\(uuid\))?(\.[a-z][a-z0-9_]*)+", where), where
    named = {found.operation.operation_id: found.where for found in root if not found.iterate}
    assert named["getCurrentUser"] == "api.users.me"
    assert named["listChats"] == "api.chats.list"
    assert named["listMessages"] == "api.chats.messages.list"
    assert named["sendMessage"] == "api.chats.messages.send"
    assert named["createPost"] == "api.posts.create"
    assert named["getEarnings"] == "api.insights.earnings"
    assert named["getUserMediaByUuid"] == "api.media.get"
    assert named["listFollowers"] == "api.followers.list"
    assert named["listCreators"] == "api.creators.list"
    assert named["listTeamMembers"] == "api.agency.team_members"


async def test_docstrings_name_method_path_and_scopes_not_fanvues_prose(api: FanvueAPI) -> None:
    root, creator = methods(api)
    for found in root + creator:
        doc = inspect.getdoc(found.function) or ""
        operation = found.operation
        assert f"``{operation.method} {operation.path}``" in doc, found.where
        assert "scopes: " + ", ".join(operation.scopes) in doc, found.where
        if operation.note:
            assert operation.note not in doc


async def test_parameters_are_snake_case_path_positional_and_the_rest_keyword_only(
    api: FanvueAPI,
) -> None:
    root, creator = methods(api)
    for found in root + creator:
        operation = found.operation
        parameters = inspect.signature(found.function).parameters.values()
        positional = [p.name for p in parameters if p.kind is p.POSITIONAL_OR_KEYWORD]
        path = [p.name for p in operation.path_params if p.name != "creatorUserUuid"]
        path.sort(key=operation.path.index)
        assert positional == [re.sub(r"(?<=[a-z])(?=[A-Z])", "_", n).lower() for n in path]
        for parameter in parameters:
            assert re.fullmatch(r"[a-z][a-z0-9_]*", parameter.name), (found.where, parameter)
            if parameter.kind is parameter.KEYWORD_ONLY and parameter.default is parameter.empty:
                wire = re.sub(r"_([a-z])", lambda m: m[1].upper(), parameter.name)
                required = {q.name for q in operation.query if q.required}
                body = operation.request_body
                required |= set(body.required) if body else set()
                assert wire in required, (found.where, parameter.name)


async def test_values_outside_the_spec_are_refused_before_sending(api: FanvueAPI) -> None:
    with pytest.raises(ValueError, match="size must be at most 50"):
        await api.chats.list(size=51)
    with pytest.raises(ValueError, match="sortBy must be one of"):
        await api.chats.list(sort_by="newest")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="path parameter userUuid must be a UUID"):
        await api.chats.messages.list("not-a-uuid")
    with pytest.raises(ValueError, match="page_size must be from 1 to 50"):
        async for _ in api.followers.iterate(page_size=0):
            pass
    with pytest.raises(ValueError, match="creator_uuid must be a UUID"):
        api.creator("max.stone")


def test_body_leaves_out_omitted_fields_and_sends_null_where_fanvue_takes_it() -> None:
    assert body({"text": None, "price": OMIT}) == {}
    assert body({"text": "hi", "price": None}, "price") == {"text": "hi", "price": None}
    assert body({"text": None, "price": OMIT}, "text", "price") == {"text": None}
    assert repr(OMIT) == "OMIT"
