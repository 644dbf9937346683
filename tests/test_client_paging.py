"""FanvueClient.paginate: both of Fanvue's list styles walked to the end over real sockets.

Against the emulator: page lists (``/followers``: ``page``/``size`` -> ``pagination.hasMore``)
and cursor lists (``/tracking-links``: ``limit``; ``/insights/earnings``: ``size`` ->
``nextCursor``) with page sizes 1, default and 50, an empty list and lists that end exactly on
a page boundary. Against a deliberately broken server (a real uvicorn socket too): the loop
guards, which no well-behaved emulator can trigger.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from fanvue_embedded import errors
from fanvue_embedded.client import FanvueClient
from tests.support.api_access import access_token, api_calls
from tests.support.emulator import EmulatorHandle
from tests.support.servers import serve_in_thread

pytestmark = pytest.mark.anyio


@pytest.fixture
async def api(emulator: EmulatorHandle) -> AsyncIterator[FanvueClient]:
    token = await access_token(emulator)
    async with FanvueClient(token, api_base_url=emulator.base_url) as client:
        yield client


async def collect(iterator: AsyncIterator[Any]) -> list[Any]:
    return [item async for item in iterator]


def uuids(items: list[dict[str, Any]]) -> list[str]:
    return [str(item["uuid"]) for item in items]


# --- page style ---------------------------------------------------------------------------------


@pytest.mark.parametrize("page_size", [1, None, 50])
async def test_page_list_walked_to_the_end(
    emulator: EmulatorHandle, api: FanvueClient, page_size: int | None
) -> None:
    emulator.seed_world(followers=45)
    followers = await collect(api.paginate("/followers", page_size=page_size))
    assert len(followers) == 45  # the old cursor-only walk stopped after page 1 (15 of 45)
    assert len(set(uuids(followers))) == 45
    # Same list, same order, as one call for a page of 50 returns it.
    one_page = await api.call("listFollowers", params={"size": 50})
    assert uuids(followers) == uuids(one_page["data"])


async def test_page_list_by_operation_id_with_path_params(
    emulator: EmulatorHandle, api: FanvueClient
) -> None:
    # luna.rivers is an agency managing max.stone: the /creators/{uuid}/... mirror lists his.
    emulator.make_agency("luna.rivers", "max.stone")
    emulator.seed_world("max.stone", followers=45)
    creator = emulator.creator_uuid("max.stone")
    by_path = await collect(api.paginate(f"/creators/{creator}/followers", page_size=20))
    by_id = await collect(
        api.paginate("listCreatorFollowers", path={"creatorUserUuid": creator}, page_size=20)
    )
    assert len(by_id) == 45
    assert uuids(by_id) == uuids(by_path)


@pytest.mark.parametrize(("count", "page_size"), [(45, 15), (45, 9), (50, 50), (1, 1)])
async def test_page_list_ending_on_a_page_boundary(
    emulator: EmulatorHandle, api: FanvueClient, count: int, page_size: int
) -> None:
    emulator.seed_world(followers=count)
    before = api_calls(emulator)
    followers = await collect(api.paginate("/followers", page_size=page_size))
    assert len(set(uuids(followers))) == count
    # Fanvue answers hasMore=false on the last full page: no extra call for an empty page.
    assert api_calls(emulator) - before == count // page_size


async def test_empty_page_list(emulator: EmulatorHandle, api: FanvueClient) -> None:
    emulator.seed_world(followers=0)
    before = api_calls(emulator)
    assert await collect(api.paginate("/followers")) == []
    assert api_calls(emulator) - before == 1


async def test_max_items_stops_early(emulator: EmulatorHandle, api: FanvueClient) -> None:
    emulator.seed_world(followers=45, tracking_links=25)
    before = api_calls(emulator)
    followers = await collect(api.paginate("/followers", page_size=10, max_items=12))
    assert len(followers) == 12
    assert api_calls(emulator) - before == 2  # pages 1 and 2, never page 3
    links = await collect(api.paginate("listTrackingLinks", page_size=10, max_items=10))
    assert len(links) == 10
    assert await collect(api.paginate("/followers", max_items=0)) == []


async def test_page_size_checked_against_the_spec_before_any_call(
    emulator: EmulatorHandle, api: FanvueClient
) -> None:
    before = api_calls(emulator)
    for bad in (0, 51, -1):
        with pytest.raises(ValueError, match="page_size must be from 1 to 50"):
            await collect(api.paginate("/followers", page_size=bad))
    with pytest.raises(ValueError, match="listTrackingLinks: page_size must be from 1 to 50"):
        await collect(api.paginate("listTrackingLinks", page_size=51))
    with pytest.raises(ValueError, match="not a paginated list"):
        await collect(api.paginate("getCurrentUser"))
    with pytest.raises(ValueError, match="no Fanvue operation serves GET /no/such/list"):
        await collect(api.paginate("/no/such/list"))
    with pytest.raises(ValueError, match="listFollowers has no query parameter 'sizee'"):
        await collect(api.paginate("/followers", sizee=3))
    assert api_calls(emulator) == before


# --- cursor style ---------------------------------------------------------------------------------


@pytest.mark.parametrize("page_size", [1, None, 50])
async def test_cursor_list_with_limit_walked_to_the_end(
    emulator: EmulatorHandle, api: FanvueClient, page_size: int | None
) -> None:
    emulator.seed_world(tracking_links=25)
    links = await collect(api.paginate("/tracking-links", page_size=page_size))
    assert len(set(uuids(links))) == 25


@pytest.mark.parametrize("page_size", [1, None, 50])
async def test_cursor_list_with_size_walked_to_the_end(
    emulator: EmulatorHandle, api: FanvueClient, page_size: int | None
) -> None:
    emulator.seed_world(earnings=60)
    earnings = await collect(api.paginate("getEarnings", page_size=page_size))
    assert len(earnings) == 60
    assert len({repr(sorted(item.items())) for item in earnings}) == 60


@pytest.mark.parametrize(("count", "page_size"), [(25, 5), (25, 25), (0, 20)])
async def test_cursor_list_ending_on_a_page_boundary_or_empty(
    emulator: EmulatorHandle, api: FanvueClient, count: int, page_size: int
) -> None:
    emulator.seed_world(tracking_links=count)
    links = await collect(api.paginate("listTrackingLinks", page_size=page_size))
    assert len(set(uuids(links))) == count


# --- a server that breaks the rules (real socket; the emulator never does this) ------------------


@pytest.fixture
def broken() -> Iterator[Callable[[Callable[[Request], Any]], FanvueClient]]:
    """``make(handler)``: a client whose every call is answered by ``handler(request)``."""
    servers: list[Any] = []

    def make(handler: Callable[[Request], Any]) -> FanvueClient:
        async def endpoint(request: Request) -> JSONResponse:
            return JSONResponse(handler(request))

        app = Starlette(routes=[Route("/{path:path}", endpoint, methods=["GET"])])
        server = serve_in_thread(app)
        servers.append(server)
        return FanvueClient("test-token", api_base_url=server.__enter__())

    yield make
    for server in servers:
        server.__exit__(None, None, None)


async def test_page_server_ignoring_page_param_is_an_error(broken: Any) -> None:
    seen: list[str | None] = []

    def always_page_one(request: Request) -> dict[str, Any]:
        seen.append(request.query_params.get("page"))
        return {"data": [{"uuid": "a"}], "pagination": {"page": 1, "size": 1, "hasMore": True}}

    async with broken(always_page_one) as api:
        with pytest.raises(errors.ProtocolError, match="answered page 1 when asked for page 2"):
            await collect(api.paginate("/followers"))
    assert seen == ["1", "2"]


async def test_page_repeated_without_page_number_is_an_error(broken: Any) -> None:
    def same_page(request: Request) -> dict[str, Any]:
        return {"data": [{"uuid": "a"}], "pagination": {"hasMore": True}}

    async with broken(same_page) as api:
        with pytest.raises(errors.ProtocolError, match="the same as the page before"):
            await collect(api.paginate("/followers"))


async def test_has_more_forever_stops_at_max_pages(broken: Any) -> None:
    def endless(request: Request) -> dict[str, Any]:
        page = int(request.query_params["page"])
        return {"data": [{"uuid": str(page)}], "pagination": {"page": page, "hasMore": True}}

    async with broken(endless) as api:
        with pytest.raises(errors.ProtocolError, match="still had more after 7 pages"):
            await collect(api.paginate("/followers", max_pages=7))


async def test_cursor_seen_twice_is_an_error(broken: Any) -> None:
    cursors = {None: "c1", "c1": "c2", "c2": "c1"}

    def looping(request: Request) -> dict[str, Any]:
        cursor = request.query_params.get("cursor")
        return {"data": [{"uuid": str(cursor)}], "nextCursor": cursors[cursor]}

    async with broken(looping) as api:
        with pytest.raises(errors.ProtocolError, match="nextCursor it had given before"):
            await collect(api.paginate("/tracking-links"))


async def test_wrong_list_shape_is_an_error_not_a_silent_stop(broken: Any) -> None:
    # The old client's bug: a page list read as a cursor list ended after page 1, silently.
    def cursor_shaped(request: Request) -> dict[str, Any]:
        return {"data": [{"uuid": "a"}], "nextCursor": None}

    async with broken(cursor_shaped) as api:
        with pytest.raises(errors.ProtocolError, match="without pagination"):
            await collect(api.paginate("/followers"))

    def page_shaped(request: Request) -> dict[str, Any]:
        return {"data": [], "pagination": {"page": 1, "size": 0, "hasMore": False}}

    async with broken(page_shaped) as api:
        with pytest.raises(errors.ProtocolError, match="without nextCursor"):
            await collect(api.paginate("/tracking-links"))


async def test_walk_sends_the_spec_parameter_names(broken: Any) -> None:
    queries: list[dict[str, str]] = []

    def record(request: Request) -> dict[str, Any]:
        queries.append(dict(request.query_params))
        if request.url.path == "/followers":
            return {"data": [], "pagination": {"page": 1, "size": 0, "hasMore": False}}
        return {"data": [], "nextCursor": None}

    async with broken(record) as api:
        await collect(api.paginate("/followers", page_size=7))
        await collect(api.paginate("/tracking-links", page_size=7))
        await collect(api.paginate("/insights/earnings", page_size=7, source=["tip", "post"]))
    assert queries == [
        {"page": "1", "size": "7"},
        {"limit": "7"},
        {"size": "7", "source": "tip,post"},
    ]
