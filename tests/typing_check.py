"""What mypy --strict must see in the typed API (checked in CI with the rest of tests/; never
run). Each assignment below fails to type-check if the generated types regress: answers are
TypedDicts whose fields have the spec's types, lists are ``Page``/``CursorPage`` of typed
items, ``iterate`` yields typed items, optional fields are ``T | None`` and maybe absent.
``tests/test_api_generator.py`` checks the other direction: misuse is an error.
"""

from __future__ import annotations

from typing import Literal

from fanvue_embedded.api import OMIT, CreatorAPI, CursorPage, FanvueAPI, Page
from fanvue_embedded.api.shapes import (
    GetCurrentUserResponse,
    GetEarningsItem,
    ListChatsItem,
    SendMessageResponse,
    UserSummary,
)
from fanvue_embedded.tokens import TokenManager


async def profile(api: FanvueAPI) -> None:
    user: GetCurrentUserResponse = await api.users.me()
    handle: str = user["handle"]
    is_creator: bool = user["isCreator"]
    likes: int | float = user["likesCount"]
    posts: int | float = user["contentCounts"]["postCount"]
    avatar: str | None = user.get("avatarUrl")
    assert handle, (is_creator, likes, posts, avatar)


async def chats(api: FanvueAPI, fan: str) -> None:
    page: Page[ListChatsItem] = await api.chats.list(size=50, filter=["unread", "online"])
    more: bool = page["pagination"]["hasMore"]
    for chat in page["data"]:
        fan_handle: str = chat["user"]["handle"]
        unread: int | float = chat["unreadMessagesCount"]
        last = chat.get("lastMessage")
        if last is not None:
            text: str | None = last.get("text")
            assert text is None or fan_handle, unread
    sent: SendMessageResponse = await api.chats.messages.send(fan, text="hi", price=None)
    message_uuid: str = sent["messageUuid"]
    await api.chats.messages.send(fan, media_uuids=[message_uuid], text=OMIT)
    assert more or message_uuid


async def lists(api: FanvueAPI) -> None:
    async for follower in api.followers.iterate(page_size=50):
        item: UserSummary = follower
        follower_handle: str = item["handle"]
        assert follower_handle
    earnings: CursorPage[GetEarningsItem] = await api.insights.earnings(source=["tip"])
    cursor: str | None = earnings.get("nextCursor")
    source: Literal["tip", "post"] | str = earnings["data"][0]["source"]
    assert cursor or source


async def posts_and_media(api: FanvueAPI, media_uuid: str) -> None:
    post = await api.posts.create(audience="subscribers", text="new", media_uuids=[media_uuid])
    post_uuid: str = post["uuid"]
    await api.posts.update(post_uuid, price=None, text=OMIT)
    media = await api.media.get(media_uuid, variants=["main", "thumbnail"])
    status: Literal["created", "processing", "ready", "error"] = media["status"]
    for variant in media.get("variants", []):
        url: str = variant["url"]
        assert url, status


async def agency(api: FanvueAPI, manager: TokenManager, creator_uuid: str) -> None:
    view: CreatorAPI = api.creator(creator_uuid)
    account = await view.users.account()
    balance: int | float = account["account"]["earnings"]["availableBalance"]
    async for creator in api.creators.iterate():
        creator_handle: str = creator["handle"]
        assert creator_handle, balance
    members = await api.agency.team_members()
    admins: list[bool] = [member["isAdmin"] for member in members]
    typed: FanvueAPI = manager.api(creator_uuid)
    assert admins, typed
