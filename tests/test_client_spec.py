"""FanvueClient.call: every operation checked against Fanvue's spec before anything is sent.

The encoding rules are pure functions (``api_params``) tested directly; that nothing is sent on
a bad call is proven on the emulator's own call counters, and what is sent on a good call by a
real socket server that records the request.
"""

from __future__ import annotations

import datetime
import re
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from fanvue_embedded.api_params import check_body, encode_query
from fanvue_embedded.client import FanvueClient
from fanvue_embedded.spec import load_spec
from tests.support.api_access import access_token, api_calls
from tests.support.emulator import EmulatorHandle
from tests.support.servers import serve_in_thread

pytestmark = pytest.mark.anyio
SPEC = load_spec()
UUID = "5f0b6a1e-8f0c-4a53-9d6e-0a4b1c2d3e4f"


# --- query encoding (pure) ------------------------------------------------------------------------


def test_query_encoding_follows_fanvue_conventions() -> None:
    list_chats = SPEC.get("listChats")
    assert encode_query(list_chats, {"page": 2, "size": 50, "filter": ["unread", "online"]}) == {
        "page": "2",
        "size": "50",
        "filter": "unread,online",
    }
    assert encode_query(SPEC.get("listMassMessages"), {"includeDeleted": True}) == {
        "includeDeleted": "true"
    }
    assert encode_query(SPEC.get("listMessages"), {"markAsRead": False, "page": None}) == {
        "markAsRead": "false"
    }
    since = datetime.datetime(2025, 1, 15, tzinfo=datetime.UTC)
    earnings = encode_query(
        SPEC.get("getEarnings"), {"startDate": since, "source": ("tip", "post"), "size": 20.0}
    )
    assert earnings == {
        "startDate": "2025-01-15T00:00:00+00:00",
        "source": "tip,post",
        "size": "20",
    }


@pytest.mark.parametrize(
    ("operation", "params", "message"),
    [
        ("listFollowers", {"sizee": 3}, "listFollowers has no query parameter 'sizee' (it takes: page, size)"),
        ("listFollowers", {"size": 51}, "listFollowers: query parameter size must be at most 50, got 51"),
        ("listFollowers", {"size": 0}, "size must be at least 1, got 0"),
        ("listFollowers", {"page": "two"}, "query parameter page must be a number, got 'two'"),
        ("listFollowers", {"page": [1, 2]}, "page must be a number, got list"),
        ("listCreatorNotifications", {"eventType": 1.5}, "eventType must be a whole number"),
        ("listChats", {"sortBy": "newest"}, "sortBy must be one of most_recent_messages"),
        ("listChats", {"filter": ["unread", "vip"]}, "filter must be one of unread"),
        ("listChats", {"customListId": "not-a-uuid"}, "customListId must be a UUID"),
        ("listMassMessages", {"includeDeleted": "yes"}, "includeDeleted must be one of true, false"),
        ("getEarnings", {"startDate": "yesterday"}, "startDate must be an ISO 8601 date-time"),
        ("listAgencyEarningsByDay", {"startDate": "2025-01-01"}, "needs query parameter(s) endDate"),
        ("listAgencyEarningsByDay", {"startDate": "2025-01-01", "endDate": "2025-02-01",
                                     "creatorUuids": [UUID] * 51}, "at most 50 items"),
        ("listFollowers", {"size": True}, "size must be a number, got a boolean"),
    ],
)  # fmt: skip
def test_bad_query_values_name_the_parameter(
    operation: str, params: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        encode_query(SPEC.get(operation), params)


@pytest.mark.parametrize(
    ("operation", "body", "message"),
    [
        ("createCustomList", None, "createCustomList needs a JSON body with name"),
        ("createCustomList", {}, "needs body field(s) name"),
        ("createCustomList", {"name": "VIP", "colour": "red"}, "has no body field(s) colour"),
        ("createCustomList", {"name": 7}, "body field name must be a string, got int"),
        ("createCustomList", ["VIP"], "takes a JSON object body, got list"),
        ("createTrackingLink", {"name": "x", "externalSocialPlatform": "myspace"},
         "externalSocialPlatform must be one of facebook"),
        ("createPost", {"audience": "subscribers", "price": True}, "price must be a number"),
        ("getCurrentUser", {"x": 1}, "getCurrentUser takes no request body"),
        ("createUploadSession", {"name": "a", "filename": None, "mediaType": "image"},
         "filename may not be null"),
    ],
)  # fmt: skip
def test_bad_bodies_name_the_field(operation: str, body: Any, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        check_body(SPEC.get(operation), body)


def test_good_bodies_pass() -> None:
    check_body(SPEC.get("createCustomList"), {"name": "VIP"})
    check_body(SPEC.get("updateTeamMember"), {"creatorUuids": None})  # nullable, but required
    check_body(SPEC.get("updateChat"), None)  # nothing required
    check_body(SPEC.get("sendMessage"), {"text": "hi", "price": None, "mediaUuids": [UUID]})


# --- nothing is sent for a bad call (emulator counters) -------------------------------------------


@pytest.fixture
async def api(emulator: EmulatorHandle) -> AsyncIterator[FanvueClient]:
    token = await access_token(emulator)
    async with FanvueClient(token, api_base_url=emulator.base_url) as client:
        yield client


async def test_bad_calls_raise_before_any_request(
    emulator: EmulatorHandle, api: FanvueClient
) -> None:
    await api.call("getCurrentUser")  # the counters do count a good call
    before = api_calls(emulator)
    assert before >= 1
    cases: list[tuple[str, dict[str, Any], str]] = [
        ("getFollowers", {}, "unknown Fanvue operation 'getFollowers'"),
        ("listfollowers", {}, "did you mean listFollowers?"),
        ("listFollowers", {"params": {"cursor": "x"}}, "has no query parameter 'cursor'"),
        ("listMessages", {}, "listMessages needs path parameter(s) userUuid"),
        ("listMessages", {"path": {"userUuid": UUID, "chat": "x"}}, "has no path parameter(s) chat"),
        ("listMessages", {"path": {"userUuid": "nope"}}, "path parameter userUuid must be a UUID"),
        ("getUploadPartUrl", {"path": {"uploadId": "u1", "partNumber": "one"}},
         "partNumber must be a whole number"),
        ("createCustomList", {"json": {}}, "needs body field(s) name"),
        ("listFollowers", {"params": {"size": 500}}, "size must be at most 50"),
    ]  # fmt: skip
    for operation_id, kwargs, message in cases:
        with pytest.raises(ValueError, match=re.escape(message)):
            await api.call(operation_id, **kwargs)
    assert api_calls(emulator) == before


# --- what a good call sends (a recording server on a real socket) ---------------------------------


@pytest.fixture
def recorder() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    seen: list[dict[str, Any]] = []

    async def endpoint(request: Request) -> Response:
        body = await request.body()
        seen.append(
            {
                "method": request.method,
                "raw_path": request.scope["raw_path"].decode(),
                "query": request.scope["query_string"].decode(),
                "body": body.decode(),
                "version": request.headers.get("X-Fanvue-API-Version"),
            }
        )
        if request.url.path.endswith("/url"):
            return PlainTextResponse("https://s3.example/part?X-Amz-Signature=abc")
        if request.method == "DELETE":
            return Response(status_code=204)
        return JSONResponse({"ok": True}, status_code=201 if request.method == "POST" else 200)

    methods = ["GET", "POST", "PATCH", "PUT", "DELETE"]
    app = Starlette(routes=[Route("/{path:path}", endpoint, methods=methods)])
    with serve_in_thread(app) as base_url:
        yield base_url, seen


async def test_call_encodes_path_query_and_body(
    recorder: tuple[str, list[dict[str, Any]]],
) -> None:
    base_url, seen = recorder
    async with FanvueClient("t", api_base_url=base_url) as api:
        folder = await api.call("getVaultFolder", path={"folderName": "Summer 24/25 & more"})
        chats = await api.call(
            "listChats", params={"filter": ["unread", "online"], "size": 5, "search": None}
        )
        created = await api.call("createCustomList", json={"name": "VIP"})
        part_url = await api.call("getUploadPartUrl", path={"uploadId": "up-1", "partNumber": 3})
        gone = await api.call("deleteCustomList", path={"uuid": uuid.UUID(UUID)})
    assert folder == chats == {"ok": True}
    assert created == {"ok": True}
    assert part_url == "https://s3.example/part?X-Amz-Signature=abc"
    assert gone is None
    assert [s["raw_path"] for s in seen] == [
        "/vault/folders/Summer%2024%2F25%20%26%20more",
        "/chats",
        "/chats/lists/custom",
        "/media/uploads/up-1/parts/3/url",
        f"/chats/lists/custom/{UUID}",
    ]
    assert seen[1]["query"] == "filter=unread%2Conline&size=5"
    assert seen[2]["method"] == "POST"
    assert seen[2]["body"] == '{"name":"VIP"}'
    assert {s["version"] for s in seen} == {"2025-06-26"}


async def test_request_takes_json_like_httpx(recorder: tuple[str, list[dict[str, Any]]]) -> None:
    base_url, seen = recorder
    async with FanvueClient("t", api_base_url=base_url) as api:
        await api.request("POST", "/chats/lists/custom", json={"name": "A"})
        await api.request("POST", "/chats/lists/custom", json_body={"name": "B"})
        with pytest.raises(ValueError, match="not both"):
            await api.request("POST", "/x", json={}, json_body={})
        with pytest.raises(ValueError, match="carry no query"):
            await api.request("GET", "/followers?size=5")
    assert [s["body"] for s in seen] == ['{"name":"A"}', '{"name":"B"}']
