"""The typed API over real sockets: ``iterate`` walks every list to the end, the agency tree
reaches managed creators, ``TokenManager.api()`` refreshes once on a 401.

Against the emulator, with its deterministic world seeded to known sizes.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from typing import Any

import pytest

from fanvue_embedded.api import FanvueAPI
from fanvue_embedded.client import FanvueClient
from fanvue_embedded.errors import APIError
from fanvue_embedded.store import MemoryTokenStore
from tests.support.api_access import access_token
from tests.support.emulator import EmulatorHandle
from tests.support.storm import OffsetClock, Setup, authorize, open_manager

pytestmark = pytest.mark.anyio


@pytest.fixture
async def api(emulator: EmulatorHandle) -> AsyncIterator[FanvueAPI]:
    token = await access_token(emulator)
    async with FanvueAPI(FanvueClient(token, api_base_url=emulator.base_url)) as built:
        yield built


async def collect(iterator: AsyncIterator[Any]) -> list[Any]:
    return [item async for item in iterator]


# --- iterate ------------------------------------------------------------------------------------


@pytest.mark.parametrize("page_size", [None, 7, 50])
async def test_iterate_walks_a_page_list_to_the_end(
    emulator: EmulatorHandle, api: FanvueAPI, page_size: int | None
) -> None:
    emulator.seed_world(followers=45)
    followers = [f async for f in api.followers.iterate(page_size=page_size)]
    assert len(followers) == 45
    assert len({follower["uuid"] for follower in followers}) == 45
    # The same list, in the same order, as one page of 50 gives it.
    page = await api.followers.list(size=50)
    assert [f["uuid"] for f in followers] == [f["uuid"] for f in page["data"]]
    assert page["pagination"]["hasMore"] is False


async def test_iterate_walks_a_cursor_list_to_the_end(
    emulator: EmulatorHandle, api: FanvueAPI
) -> None:
    emulator.seed_world(tracking_links=25, earnings=60)
    links = await collect(api.tracking_links.iterate(page_size=10))  # ``limit`` on the wire
    assert len({link["uuid"] for link in links}) == 25
    earnings = await collect(api.insights.iterate_earnings(page_size=7))  # ``size``
    assert len(earnings) == 60
    first = await api.insights.earnings(size=7)
    assert first["data"] == earnings[:7]
    assert first.get("nextCursor")


async def test_iterate_stops_at_max_items_and_keeps_filters(
    emulator: EmulatorHandle, api: FanvueAPI
) -> None:
    emulator.seed_world(followers=45)
    assert len(await collect(api.followers.iterate(page_size=10, max_items=12))) == 12
    everything = await collect(api.media.iterate())
    ready = await collect(api.media.iterate(status=["ready"]))
    assert ready
    assert all(item["status"] == "ready" for item in ready)
    assert len(ready) <= len(everything)


async def test_a_bool_query_flag_is_sent_as_fanvues_string(api: FanvueAPI) -> None:
    # markAsRead is a "true"/"false" string in Fanvue's spec (default "true"); False must
    # reach the server as "false" and leave the chat unread.
    unread = [chat async for chat in api.chats.iterate() if chat["unreadMessagesCount"] > 0]
    assert unread
    user = unread[0]["user"]["uuid"]
    await api.chats.messages.list(user, mark_as_read=False)
    assert await unread_count(api, user) > 0
    await api.chats.messages.list(user, mark_as_read=True)
    assert await unread_count(api, user) == 0


async def unread_count(api: FanvueAPI, user: str) -> int | float:
    async for chat in api.chats.iterate():
        if chat["user"]["uuid"] == user:
            return chat["unreadMessagesCount"]
    raise AssertionError(f"no chat with {user}")


# --- agency -------------------------------------------------------------------------------------


async def test_agency_reaches_its_managed_creators(
    emulator: EmulatorHandle, api: FanvueAPI
) -> None:
    emulator.make_agency("luna.rivers", "max.stone")
    emulator.seed_world("max.stone", followers=30)
    max_uuid = emulator.creator_uuid("max.stone")
    managed = await collect(api.creators.iterate())
    assert max_uuid in {creator["uuid"] for creator in managed}

    view = api.creator(max_uuid)
    account = await view.users.account()
    assert account["uuid"] == max_uuid
    assert account["handle"] == "max.stone"
    followers = await collect(view.followers.iterate(page_size=20))
    assert len(followers) == 30
    own = await collect(api.followers.iterate())
    assert {f["uuid"] for f in followers} != {f["uuid"] for f in own}

    members = await api.agency.team_members()
    assert isinstance(members, list)
    assert (await api.agency.chats(size=5))["pagination"]["page"] == 1


async def test_a_creator_the_agency_does_not_manage_is_refused(
    emulator: EmulatorHandle, api: FanvueAPI
) -> None:
    emulator.make_agency("luna.rivers", "max.stone")
    stranger = "00000000-0000-4000-8000-000000000000"
    with pytest.raises(APIError) as raised:
        await api.creator(stranger).users.account()
    assert raised.value.status_code in (403, 404)


# --- TokenManager.api -----------------------------------------------------------------------------


async def test_token_manager_api_refreshes_once_on_401_and_retries(
    emulator: EmulatorHandle,
) -> None:
    clock = OffsetClock()
    setup = Setup("redis://unused", emulator.base_url, os.urandom(32))
    store = MemoryTokenStore(setup.keyring(), clock=clock)
    async with open_manager(setup, clock, store=store) as manager:
        creator = await authorize(
            emulator.base_url, store, emulator.session_token("luna.rivers"), clock
        )
        api = manager.api(creator)
        assert (await api.users.me())["uuid"] == creator
        emulator.control("POST", f"/creators/{creator}/expire-access-tokens")
        me = await api.users.me()  # 401, one refresh, one retry
        assert me["uuid"] == creator
        counters = emulator.counters()
        assert counters["refresh_requests"] == 1
        assert counters["calls"]["GET /users/me"] == 4  # authorize's, ours, the 401, the retry
        assert api.client.api_version == manager.client(creator).api_version
