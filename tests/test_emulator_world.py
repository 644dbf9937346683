"""The emulator's API world over a real socket: pagination walks in both styles, writes that
show up in reads, agency access, the upload flow with bytes, and the world control API."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from fanvue_embedded._http import shared_tls_context
from fanvue_embedded.emulator import EmulatorConfig, create_emulator_app
from tests.emulator_kit import MAX
from tests.emulator_samples import World, access_token, control
from tests.support.servers import serve_in_thread


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    with serve_in_thread(create_emulator_app(EmulatorConfig())) as url:
        yield url


@pytest.fixture
def world(base_url: str) -> Iterator[World]:
    with httpx.Client(verify=shared_tls_context(), base_url=base_url, timeout=10) as client:
        world = World(client)
        control(client, "PATCH", "/settings", json={"rate_limit": 10_000})
        yield world


def seed(world: World, creator: str = "luna.rivers", **counts: int) -> dict[str, int]:
    result: dict[str, int] = control(
        world.client, "POST", f"/creators/{creator}/world", json=counts
    )
    return result


def page_walk(world: World, path: str, size: int | None, **params: Any) -> list[dict[str, Any]]:
    """Every item of a page-style list, checking each envelope on the way."""
    items: list[dict[str, Any]] = []
    page = 1
    while True:
        query = {**params, "page": page, **({} if size is None else {"size": size})}
        body = world.ok("GET", path, params=query)
        assert body["pagination"]["page"] == page
        assert body["pagination"]["size"] == len(body["data"])
        assert len(body["data"]) <= (size or 15)
        items += body["data"]
        if not body["pagination"]["hasMore"]:
            return items
        assert len(body["data"]) == (size or 15)
        page += 1


def cursor_walk(world: World, path: str, size_param: str, size: int | None) -> list[Any]:
    items: list[Any] = []
    cursor: str | None = None
    while True:
        query: dict[str, Any] = {} if size is None else {size_param: size}
        if cursor is not None:
            query["cursor"] = cursor
        body = world.ok("GET", path, params=query)
        assert set(body) == {"data", "nextCursor"}
        items += body["data"]
        cursor = body["nextCursor"]
        if cursor is None:
            return items
        assert len(body["data"]) == (size or 20)


# -- pagination ------------------------------------------------------------------------------


@pytest.mark.parametrize("size", [1, None, 50])
@pytest.mark.parametrize("count", [0, 45, 50, 100])
def test_page_style_walk(world: World, size: int | None, count: int) -> None:
    seed(world, followers=count)
    items = page_walk(world, "/followers", size)
    assert len(items) == len({item["uuid"] for item in items}) == count


def test_page_past_the_end_is_empty(world: World) -> None:
    seed(world, followers=30)
    body = world.ok("GET", "/followers", params={"page": 3, "size": 15})
    assert body == {"data": [], "pagination": {"page": 3, "size": 0, "hasMore": False}}


@pytest.mark.parametrize("size", [1, None, 50])
@pytest.mark.parametrize("count", [0, 20, 100, 101])
def test_cursor_style_walk(world: World, size: int | None, count: int) -> None:
    seed(world, earnings=count, tracking_links=count)
    rows = cursor_walk(world, "/insights/earnings", "size", size)
    assert len({row["transactionOrderId"] for row in rows}) == len(rows) == count
    links = cursor_walk(world, "/tracking-links", "limit", size)
    assert len({link["uuid"] for link in links}) == len(links) == count


def test_a_forged_cursor_is_400(world: World) -> None:
    response = world.api("GET", "/insights/earnings", params={"cursor": "%%%"})
    assert response.status_code == 400
    assert response.json() == {"errors": ["cursor is not a valid cursor"]}


def test_ten_thousand_followers(world: World) -> None:
    assert seed(world, followers=10_000)["followers"] == 10_000
    assert len(page_walk(world, "/followers", 50)) == 10_000
    me = world.ok("GET", "/users/me")
    assert me["fanCounts"]["followersCount"] == 10_000


def test_world_is_deterministic(world: World) -> None:
    first = world.ok("GET", "/followers", params={"size": 50})
    seed(world, followers=45)
    assert world.ok("GET", "/followers", params={"size": 50}) == first


# -- writes show up in reads -----------------------------------------------------------------


def test_sent_message_appears_and_reading_clears_unread(world: World) -> None:
    unread = world.ok("GET", "/chats", params={"filter": "unread", "size": 50})["data"]
    chat = unread[0]
    user = chat["user"]["uuid"]
    before = world.ok("GET", "/chats/unread")
    sent = world.ok("POST", f"/chats/{user}/message", json={"text": "Hello there"})
    newest = world.ok("GET", f"/chats/{user}/messages", params={"size": 1, "markAsRead": "false"})
    assert newest["data"][0]["uuid"] == sent["messageUuid"]
    assert newest["data"][0]["text"] == "Hello there"
    top = world.ok("GET", "/chats", params={"size": 1})["data"][0]
    assert top["user"]["uuid"] == user
    assert top["lastMessage"]["uuid"] == sent["messageUuid"]
    world.ok("GET", f"/chats/{user}/messages")  # markAsRead defaults to "true"
    after = world.ok("GET", "/chats/unread")
    assert after["unreadChatsCount"] == before["unreadChatsCount"] - 1
    cleared = before["unreadMessagesCount"] - chat["unreadMessagesCount"]
    assert after["unreadMessagesCount"] == cleared
    assert world.api("DELETE", f"/chats/{user}/messages/{sent['messageUuid']}").status_code == 204
    again = world.ok("GET", f"/chats/{user}/messages", params={"size": 50})["data"]
    assert sent["messageUuid"] not in {m["uuid"] for m in again}


def test_created_post_is_listed_then_deleted(world: World) -> None:
    made = world.ok("POST", "/posts", json={"audience": "subscribers", "text": "Fresh"})
    posts = world.ok("GET", "/posts", params={"size": 50})["data"]
    assert made["uuid"] in {p["uuid"] for p in posts}
    assert world.ok("GET", "/users/me")["contentCounts"]["postCount"] == 9
    comment = world.ok("POST", f"/posts/{made['uuid']}/comments", json={"text": "first"})
    assert world.ok("GET", f"/posts/{made['uuid']}")["commentsCount"] == 1
    assert world.ok("GET", f"/posts/{made['uuid']}/comments")["data"][0]["uuid"] == comment["uuid"]
    assert world.api("DELETE", f"/posts/{made['uuid']}").status_code == 204
    assert world.api("GET", f"/posts/{made['uuid']}").status_code == 404
    assert world.ok("GET", "/users/me")["contentCounts"]["postCount"] == 8


def test_duplicate_names_are_409(world: World) -> None:
    made = world.ok("POST", "/chats/lists/custom", json={"name": "Night owls"})
    again = world.api("POST", "/chats/lists/custom", json={"name": "Night owls"})
    assert again.status_code == 409
    assert list(again.json()) == ["message"]
    fan = world.ok("GET", "/followers", params={"size": 1})["data"][0]["uuid"]
    added = world.ok(
        "POST", f"/chats/lists/custom/{made['uuid']}/members", json={"userUuids": [fan]}
    )
    assert added == {"added": 1, "skipped": 0}
    repeat = world.ok(
        "POST", f"/chats/lists/custom/{made['uuid']}/members", json={"userUuids": [fan]}
    )
    assert repeat == {"added": 0, "skipped": 1}
    lists = world.ok("GET", "/chats/lists/custom", params={"search": "night"})["data"]
    assert [(item["name"], item["membersCount"]) for item in lists] == [("Night owls", 1)]
    assert world.api("POST", "/vault/folders", json={"name": "Customs"}).status_code == 409
    assert world.api("POST", "/collections", json={"label": "Summer"}).status_code == 409


def test_validation_names_the_field(world: World) -> None:
    response = world.api("POST", "/chats/lists/custom", json={})
    assert response.json() == {"errors": ["name should not be empty"]}
    response = world.api(
        "POST", "/tracking-links", json={"name": "x", "externalSocialPlatform": "myspace"}
    )
    assert response.status_code == 400
    assert "externalSocialPlatform" in response.json()["errors"][0]
    response = world.api("GET", "/chats", params={"sortBy": "loudest"})
    assert response.status_code == 400
    assert response.json()["errors"][0].startswith("sortBy must be one of")
    response = world.api("POST", "/chats/lists/custom", content=b"name=x")
    assert response.status_code == 400


def test_deleted_mass_message_only_with_include_deleted(world: World) -> None:
    lists = {"smartListUuids": ["followers"], "customListUuids": []}
    sent = world.ok("POST", "/chats/mass-messages", json={"text": "Hi all", "includedLists": lists})
    assert sent["recipientCount"] == 45
    assert world.api("DELETE", f"/chats/mass-messages/{sent['id']}").status_code == 204
    shown = world.ok("GET", "/chats/mass-messages", params={"size": 50})["data"]
    assert sent["id"] not in {m["uuid"] for m in shown}
    everything = world.ok(
        "GET", "/chats/mass-messages", params={"size": 50, "includeDeleted": "true"}
    )["data"]
    assert {m["uuid"]: m["status"] for m in everything}[sent["id"]] == "UNSENT"


# -- agency ----------------------------------------------------------------------------------


def test_agency_reads_managed_creators_only(world: World) -> None:
    creators = world.ok("GET", "/creators")["data"]
    assert [c["uuid"] for c in creators] == [world.max]
    followers = world.ok("GET", f"/creators/{world.max}/followers", params={"size": 50})
    own = world.ok("GET", "/followers", params={"size": 50})
    assert {f["uuid"] for f in followers["data"]}.isdisjoint({f["uuid"] for f in own["data"]})
    chats = world.ok("GET", "/agencies/chats", params={"size": 50})["data"]
    assert chats
    assert {chat["creatorUuid"] for chat in chats} == {world.max}
    unmanaged = world.api("GET", f"/creators/{world.luna}/followers")
    assert unmanaged.status_code == 404
    assert list(unmanaged.json()) == ["message"]
    no_404 = world.api("GET", f"/creators/{world.luna}/tracking-links")
    assert no_404.status_code == 403
    control(world.client, "DELETE", f"/creators/{world.luna}/agency/creators/{MAX}")
    assert world.api("GET", f"/creators/{world.max}/followers").status_code == 404
    control(world.client, "DELETE", f"/creators/{world.luna}/agency")
    response = world.api("GET", "/creators")
    assert response.status_code == 403
    assert list(response.json()) == ["error"]


def test_agency_writes_land_in_the_managed_world(world: World) -> None:
    made = world.ok("POST", f"/creators/{world.max}/posts", json={"audience": "subscribers"})
    assert world.api("GET", f"/posts/{made['uuid']}").status_code == 404
    max_token = access_token(world.client, MAX)
    headers = {**world.headers, "Authorization": f"Bearer {max_token}"}
    mine = world.client.get(f"/posts/{made['uuid']}", headers=headers)
    assert mine.status_code == 200


def test_each_creator_route_has_its_own_rate_bucket(world: World) -> None:
    control(world.client, "PATCH", "/settings", json={"rate_limit": 2})
    assert world.api("GET", "/users/me").headers["X-RateLimit-Remaining"] == "1"
    assert world.api("GET", "/followers").headers["X-RateLimit-Remaining"] == "0"
    assert world.api("GET", "/chats").status_code == 429
    mirror = world.api("GET", f"/creators/{world.max}/followers")
    assert mirror.status_code == 200
    assert mirror.headers["X-RateLimit-Remaining"] == "1"
    assert world.api("GET", "/agencies/chats").status_code == 429  # shares the caller's bucket


# -- uploads ---------------------------------------------------------------------------------


@pytest.mark.parametrize("prefix", ["", "/creators/{max}"])
def test_upload_flow_with_bytes(world: World, prefix: str) -> None:
    prefix = prefix.format(max=world.max)
    control(world.client, "PATCH", "/settings", json={"upload_ready_seconds": 30})
    session = world.ok(
        "POST",
        f"{prefix}/media/uploads",
        json={"name": "Beach", "filename": "beach.mp4", "mediaType": "video"},
    )
    upload, media = session["uploadId"], session["mediaUuid"]
    etags = []
    for number, chunk in ((1, b"a" * 5000), (2, b"b" * 100)):
        url = world.api("GET", f"{prefix}/media/uploads/{upload}/parts/{number}/url")
        assert url.headers["content-type"].startswith("text/plain")
        put = httpx.put(url.text, content=chunk)  # no Authorization: the URL is the permission
        assert put.status_code == 200
        etags.append({"PartNumber": number, "ETag": put.headers["ETag"]})
    assert httpx.put(url.text.rsplit("/", 1)[0] + "/guessed", content=b"x").status_code == 403
    wrong = [etags[0], {"PartNumber": 2, "ETag": '"0000"'}]
    bad = world.api("PATCH", f"{prefix}/media/uploads/{upload}", json={"parts": wrong})
    assert bad.status_code == 400
    done = world.ok("PATCH", f"{prefix}/media/uploads/{upload}", json={"parts": etags})
    assert done == {"status": "processing"}
    assert world.ok("GET", f"{prefix}/media/{media}") == {"uuid": media, "status": "processing"}
    control(world.client, "POST", "/clock", json={"advance": 31})
    ready = world.ok("GET", f"{prefix}/media/{media}", params={"variants": "thumbnail"})
    assert ready["status"] == "ready"
    assert [v["variantType"] for v in ready["variants"]] == ["thumbnail"]
    plain = world.ok("GET", f"{prefix}/media/{media}")
    assert plain["variants"] == []
    listed = world.ok("GET", f"{prefix}/media", params={"size": 1})["data"][0]
    assert listed["uuid"] == media


# -- control API -----------------------------------------------------------------------------


def test_world_control_api(world: World) -> None:
    counts = seed(world, "max.stone", followers=7, subscribers=2, chats=5, media=3)
    assert {k: counts[k] for k in ("followers", "subscribers", "chats", "media")} == {
        "followers": 7,
        "subscribers": 2,
        "chats": 5,
        "media": 3,
    }
    assert control(world.client, "GET", "/creators/max.stone/world")["followers"] == 7
    keys = control(world.client, "GET", "/creators/max.stone/world/chats")
    assert keys["count"] == 5
    bad = world.client.post("/_emulator/creators/max.stone/world", json={"unicorns": 1})
    assert bad.status_code == 400
    assert bad.json()["field"] == "unicorns"
    negative = world.client.post("/_emulator/creators/max.stone/world", json={"followers": -1})
    assert negative.status_code == 422


def test_retired_versions_are_configurable(world: World) -> None:
    control(
        world.client,
        "PATCH",
        "/settings",
        json={"api_versions": ["2025-06-26", "2026-01-01"], "retired_api_versions": ["2025-06-26"]},
    )
    response = world.api("GET", "/users/me")
    assert response.status_code == 410
    assert response.json()["nextVersion"] == "2026-01-01"
    newer = {**world.headers, "X-Fanvue-API-Version": "2026-01-01"}
    assert world.client.get("/users/me", headers=newer).status_code == 200


def test_app_subscription_state(world: World) -> None:
    app = "0d5c7c1e-3a55-4d5a-8f61-7b0e2d9c4a11"
    assert world.api("GET", f"/apps/{app}/subscription/me").status_code == 404
    control(world.client, "PUT", f"/apps/{app}/subscription", json={"status": "cancelled"})
    me = world.ok("GET", f"/apps/{app}/subscription/me")
    assert me["hasActiveSubscription"] is False
    assert me["status"] == "none"  # Luna is an agency: her own status is none
    assert [c["status"] for c in me["managedCreators"]] == ["cancelled"]
    control(world.client, "DELETE", f"/creators/{world.luna}/agency")
    control(world.client, "PUT", f"/apps/{app}/subscription", json={"status": "active"})
    me = world.ok("GET", f"/apps/{app}/subscription/me")
    assert (me["status"], me["hasActiveSubscription"], me["managedCreators"]) == (
        "active",
        True,
        [],
    )
    control(world.client, "PUT", f"/apps/{app}/subscription", json={"upstream": "failure"})
    assert world.api("GET", f"/apps/{app}/subscription-status").status_code == 502
