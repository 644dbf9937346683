"""A valid request for every Fanvue operation, with ids found through the API itself.

``World`` drives one emulator (real socket, sync httpx) as Luna: every scope granted, Luna an
agency managing Max. Ids are looked up lazily, each through the API (or the control API where
Fanvue's API offers no way to list a thing, e.g. media links), so only what an operation needs
is fetched. ``request_for`` turns an operation into ``(path, query, body)``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import httpx

from fanvue_embedded._devdefaults import DEV_CLIENT_ID, DEV_CLIENT_SECRET, DEV_REDIRECT_URI
from fanvue_embedded.spec import Operation
from tests.emulator_kit import LUNA, MAX, VERSION, basic, pkce

ALL_SCOPES = [
    "read:agency",
    "read:chat",
    "read:creator",
    "read:fan",
    "read:insights",
    "read:media",
    "read:post",
    "read:self",
    "read:tracking_links",
    "write:agency",
    "write:chat",
    "write:creator",
    "write:media",
    "write:post",
    "write:tracking_links",
]
APP_UUID = "5f0c8a43-1d7e-4c41-9a55-8e2f3b6a7d10"
FUTURE = "2099-01-01T00:00:00.000Z"


def control(client: httpx.Client, method: str, path: str, **kwargs: Any) -> Any:
    if method != "GET" and "json" not in kwargs:
        kwargs["headers"] = {"Content-Type": "application/json"}  # the emulator wants JSON
    response = client.request(method, f"/_emulator{path}", **kwargs)
    assert response.status_code < 300, (path, response.status_code, response.text)
    return response.json() if response.content else None


def access_token(client: httpx.Client, creator: str = LUNA) -> str:
    """The embedded flow over HTTP: session token → authorize-on-behalf → code exchange."""
    session = control(client, "POST", "/session-tokens", json={"creator": creator})["token"]
    verifier, challenge = pkce()
    code = client.post(
        "/api/v1/app-integrations/authorize-on-behalf",
        headers={"Authorization": f"Bearer {session}"},
        json={"code_challenge": challenge, "code_challenge_method": "S256", "state": "s"},
    ).json()["code"]
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": DEV_REDIRECT_URI,
        "code_verifier": verifier,
    }
    token = client.post("/oauth2/token", data=form, headers=basic(DEV_CLIENT_ID, DEV_CLIENT_SECRET))
    assert token.status_code == 200, token.text
    return str(token.json()["access_token"])


class World:
    """A freshly reset emulator prepared for one operation, and the ids it may need."""

    def __init__(self, client: httpx.Client, scopes: list[str] = ALL_SCOPES) -> None:
        self.client = client
        control(client, "POST", "/reset")
        control(client, "PATCH", "/app", json={"scopes": scopes})
        creators = {c["handle"]: c["uuid"] for c in control(client, "GET", "/creators")}
        self.luna, self.max = creators[LUNA], creators[MAX]
        control(client, "PUT", f"/creators/{self.max}/consent")
        control(client, "PUT", f"/creators/{self.luna}/agency", json={"manages": [MAX]})
        control(client, "PUT", f"/apps/{APP_UUID}/subscription", json={"status": "active"})
        self.token = access_token(client)
        self.headers = {**VERSION, "Authorization": f"Bearer {self.token}"}

    def api(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return self.client.request(method, path, headers=self.headers, **kwargs)

    def ok(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.api(method, path, **kwargs)
        assert response.status_code < 300, (method, path, response.status_code, response.text)
        return response.json() if response.content else None

    def first(self, path: str, **params: Any) -> Any:
        body = self.ok("GET", path, params=params)
        items = body if isinstance(body, list) else body["data"]
        assert items, f"{path} returned no items"
        return items[0]


class Ids:
    """Ids inside one creator's world (``prefix`` ``""`` for Luna, ``/creators/{max}`` for Max)."""

    def __init__(self, world: World, prefix: str) -> None:
        self.w = world
        self.p = prefix
        self.creator = world.max if prefix else world.luna

    @functools.cached_property
    def chat_user(self) -> str:
        return str(self.w.first(f"{self.p}/chats", size=1)["user"]["uuid"])

    @functools.cached_property
    def fan(self) -> str:
        return str(self.w.first(f"{self.p}/followers", size=1)["uuid"])

    @functools.cached_property
    def media(self) -> str:
        return str(self.w.first(f"{self.p}/media", size=1, status="ready")["uuid"])

    @functools.cached_property
    def message(self) -> str:
        """A message Luna (or Max) sent with media: deletable, and its media resolvable."""
        body = {"text": "sample", "mediaUuids": [self.media]}
        sent = self.w.ok("POST", f"{self.p}/chats/{self.chat_user}/message", json=body)
        return str(sent["messageUuid"])

    @functools.cached_property
    def custom_list(self) -> str:
        return str(self.w.first(f"{self.p}/chats/lists/custom", size=1)["uuid"])

    @functools.cached_property
    def list_member(self) -> str:
        self.w.ok(
            "POST",
            f"/chats/lists/custom/{self.custom_list}/members",
            json={"userUuids": [self.fan]},
        )
        return self.fan

    @functools.cached_property
    def mass_message(self) -> str:
        body = {
            "text": "scheduled",
            "includedLists": {"smartListUuids": ["subscribers"], "customListUuids": []},
            "scheduledAt": FUTURE,
        }
        return str(self.w.ok("POST", f"{self.p}/chats/mass-messages", json=body)["id"])

    @functools.cached_property
    def template(self) -> str:
        return str(self.w.first("/chats/templates", size=1)["uuid"])

    @functools.cached_property
    def post(self) -> str:
        return str(self.w.first(f"{self.p}/posts", size=1)["uuid"])

    @functools.cached_property
    def comment(self) -> str:
        made = self.w.ok("POST", f"{self.p}/posts/{self.post}/comments", json={"text": "hi"})
        return str(made["uuid"])

    @functools.cached_property
    def collection(self) -> str:
        return str(self.w.first("/collections")["uuid"])

    @functools.cached_property
    def folder(self) -> str:
        return str(self.w.first(f"{self.p}/vault/folders")["name"])

    @functools.cached_property
    def folder_media(self) -> str:
        path = f"{self.p}/vault/folders/{self.folder}/media"
        self.w.ok("POST", path, json={"mediaUuids": [self.media]})
        return self.media

    @functools.cached_property
    def link(self) -> str:
        return self.link_and_user[0]

    @functools.cached_property
    def link_and_user(self) -> tuple[str, str]:
        links = self.w.ok("GET", f"{self.p}/tracking-links", params={"limit": 50})["data"]
        for link in links:
            users = self.w.ok("GET", f"{self.p}/tracking-links/{link['uuid']}/users")["data"]
            if users:
                return str(link["uuid"]), str(users[0]["uuid"])
        raise AssertionError("no tracking link with users")

    @functools.cached_property
    def upload(self) -> str:
        body = {"name": "clip", "filename": "clip.mp4", "mediaType": "video"}
        return str(self.w.ok("POST", f"{self.p}/media/uploads", json=body)["uploadId"])

    @functools.cached_property
    def uploaded_part(self) -> str:
        """Part 1 of the upload, PUT to its presigned URL: its ETag."""
        url = self.w.api("GET", f"{self.p}/media/uploads/{self.upload}/parts/1/url").text
        put = httpx.put(url, content=b"x" * 1024)
        assert put.status_code == 200, put.text
        return put.headers["ETag"]

    @functools.cached_property
    def media_link(self) -> str:
        keys = control(self.w.client, "GET", f"/creators/{self.creator}/world/media_links")
        return str(keys["keys"][0])

    @functools.cached_property
    def team_member(self) -> str:
        return str(self.w.first("/agencies/team-members")["uuid"])


def path_values(operation: Operation, ids: Ids, world: World) -> dict[str, Any]:
    """A real value for each path parameter of ``operation``."""
    path = operation.path.removeprefix("/creators/{creatorUserUuid}")
    values: dict[str, Any] = {}
    for param in operation.path_params:
        name = param.name
        if name == "creatorUserUuid":
            values[name] = world.max
        elif name == "userUuid":
            if path.startswith("/insights/fans"):
                values[name] = ids.fan
            elif path.startswith("/chats/lists/custom"):
                values[name] = ids.list_member
            elif path.startswith("/tracking-links"):
                values[name] = ids.link_and_user[1]
            else:
                values[name] = ids.chat_user
        elif name == "uuid":
            values[name] = _uuid_for(path, ids)
        elif name == "messageUuid":
            values[name] = ids.mass_message if "mass-messages" in path else ids.message
        else:
            lookups: dict[str, Callable[[], object]] = {
                "templateUuid": lambda: ids.template,
                "commentUuid": lambda: ids.comment,
                "folderName": lambda: ids.folder,
                "mediaUuid": lambda: ids.folder_media,
                "uploadId": lambda: ids.upload,
                "partNumber": lambda: 1,
                "userId": lambda: ids.team_member,
                "appUuid": lambda: APP_UUID,
            }
            values[name] = lookups[name]()
    return values


def _uuid_for(path: str, ids: Ids) -> str:
    if path.startswith("/chats/lists/custom"):
        return ids.custom_list
    if path.startswith("/chats/lists/smart"):
        return "subscribers"
    if path.startswith("/collections"):
        return ids.collection
    if path.startswith("/media/links"):
        return ids.media_link
    if path.startswith("/media"):
        return ids.media
    if path.startswith("/posts"):
        return ids.post
    if path.startswith("/tracking-links"):
        return ids.link
    raise AssertionError(f"no sample uuid for {path}")


def query_values(operation: Operation, ids: Ids, world: World) -> dict[str, Any]:
    """Required query parameters, plus ``variants`` so media come with URLs."""
    names = {param.name for param in operation.query}
    query: dict[str, Any] = {}
    if "startDate" in names and any(p.required for p in operation.query):
        query.update(startDate="2025-01-01T00:00:00Z", endDate="2025-06-02T00:00:00Z")
    if operation.operation_id in ("getMessageMediaByUuids", "getCreatorMessageMediaByUuids"):
        query["mediaUuids"] = ids.media
        ids.message  # noqa: B018 - the message that carries the media
    if operation.operation_id == "getBulkMedia":
        query["mediaUuids"] = ids.media
    if operation.operation_id == "getBulkFanInsights":
        query["fanUuids"] = ids.fan
    if operation.operation_id == "getEntitledMedia":
        consumer = "2b9d3f5a-7c1e-4e8f-9a0b-1c2d3e4f5a6b"
        grant = {"consumerId": consumer, "source": "shop", "sourceRef": "order-1"}
        world.ok("POST", f"/media/{ids.media}/grant", json=grant)
        query["consumerId"] = consumer
    if "variants" in names:
        query["variants"] = "main,thumbnail"
    return query


def body_for(operation: Operation, ids: Ids, world: World) -> dict[str, Any] | None:
    """A valid JSON body for ``operation`` (``None`` when it takes none)."""
    if operation.request_body is None:
        return None
    own = operation.operation_id
    lists = {"smartListUuids": ["subscribers"], "customListUuids": []}
    samples: dict[str, Callable[[], dict[str, Any]]] = {
        "createCreatorInvite": lambda: {"email": "new.creator@example.test"},
        "createAgencyInvite": lambda: {"email": "new.member@example.test"},
        "updateTeamMember": lambda: {"creatorUuids": [world.max], "nickname": "Night shift"},
        "createChat": lambda: {"userUuid": ids.fan},
        "createCreatorChat": lambda: {"userUuid": ids.fan},
        "createCustomList": lambda: {"name": "Brand new list"},
        "updateCustomList": lambda: {"name": "Renamed list"},
        "addMembersToCustomList": lambda: {"userUuids": [ids.fan]},
        "sendMassMessage": lambda: {"text": "hello all", "includedLists": lists},
        "sendCreatorMassMessage": lambda: {"text": "hello all", "includedLists": lists},
        "updateMassMessage": lambda: {"text": "edited"},
        "updateCreatorMassMessage": lambda: {"text": "edited"},
        "messagesBatch": lambda: {"chatUuids": [ids.chat_user], "limit": 5},
        "getBatchStatuses": lambda: {"userUuids": [ids.fan]},
        "updateChat": lambda: {"isRead": True, "isMuted": False, "nickname": "Bestie"},
        "updateCreatorChat": lambda: {"isRead": True},
        "sendMessage": lambda: {"text": "hello"},
        "sendCreatorMessage": lambda: {"text": "hello"},
        "createCollection": lambda: {"label": "Brand new"},
        "renameCollection": lambda: {"label": "Renamed"},
        "createCreatorPost": lambda: {"audience": "subscribers", "text": "new post"},
        "createPost": lambda: {"audience": "subscribers", "text": "new post"},
        "updatePost": lambda: {"text": "edited post"},
        "updateCreatorPost": lambda: {"text": "edited post"},
        "createPostComment": lambda: {"text": "nice"},
        "createCreatorPostComment": lambda: {"text": "nice"},
        "createTrackingLink": lambda: {"name": "Bio link", "externalSocialPlatform": "tiktok"},
        "createCreatorTrackingLink": lambda: {
            "name": "Bio link",
            "externalSocialPlatform": "tiktok",
        },
        "createVaultFolder": lambda: {"name": "Brand new folder"},
        "createCreatorVaultFolder": lambda: {"name": "Brand new folder"},
        "renameVaultFolder": lambda: {"name": "Renamed folder"},
        "renameCreatorVaultFolder": lambda: {"name": "Renamed folder"},
        "attachMediaToVaultFolder": lambda: {"mediaUuids": [ids.media]},
        "attachCreatorVaultMedia": lambda: {"mediaUuids": [ids.media]},
        "batchFanInsights": lambda: {
            "userUuids": [ids.fan, "00000000-0000-4000-8000-000000000000"]
        },
        "grantMedia": lambda: {
            "consumerId": "2b9d3f5a-7c1e-4e8f-9a0b-1c2d3e4f5a6b",
            "source": "shop",
            "sourceRef": "order-1",
        },
        "createUploadSession": lambda: {
            "name": "clip",
            "filename": "clip.mp4",
            "mediaType": "video",
        },
        "createCreatorUploadSession": lambda: {
            "name": "clip",
            "filename": "clip.mp4",
            "mediaType": "video",
        },
        "completeUploadSession": lambda: {"parts": [{"PartNumber": 1, "ETag": ids.uploaded_part}]},
        "completeCreatorUploadSession": lambda: {
            "parts": [{"PartNumber": 1, "ETag": ids.uploaded_part}]
        },
    }
    return dict(samples[own]())


def request_for(operation: Operation, world: World) -> tuple[str, dict[str, Any], Any]:
    """``(concrete path, query, json body)`` for a successful call of ``operation``."""
    mirror = "{creatorUserUuid}" in operation.path
    ids = Ids(world, f"/creators/{world.max}" if mirror else "")
    path = operation.expand_path(path_values(operation, ids, world))
    return path, query_values(operation, ids, world), body_for(operation, ids, world)
