"""The client reaches every one of Fanvue's operations through ``call()``, against the emulator.

Values come from the spec's types; ids come from what earlier calls created or listed (a
custom list made by ``createCustomList`` is the ``{uuid}`` of ``getCustomListMembers``), so
operations run in dependency order: creations, then reads, then the rest, deletions last.
Mirrors (``/creators/{creatorUserUuid}/...``) act on max.stone, whom luna.rivers manages as an
agency. Each answer must be the documented success, decoded as documented: ``None`` for 204,
text for ``text/plain``, JSON otherwise.
"""

from __future__ import annotations

import datetime
from typing import Any

import pytest

from fanvue_embedded.client import FanvueClient
from fanvue_embedded.spec import FieldType, Operation, load_spec
from tests.support.api_access import access_token, seed_world
from tests.support.emulator import EmulatorHandle

pytestmark = pytest.mark.anyio
SPEC = load_spec()
MIRROR = "/creators/{creatorUserUuid}"
APP_UUID = "0f5d2c1a-3b4e-4f60-8a9b-7c6d5e4f3a2b"
NOW = datetime.datetime.now(datetime.UTC).replace(microsecond=0)
ID_FIELDS = ("uuid", "id", "mediaUuid", "messageUuid", "userUuid")


class Ids:
    """Ids seen so far, per world and per collection path (mirror prefix removed)."""

    def __init__(self, self_uuid: str, managed_uuid: str) -> None:
        self.self_uuid = self_uuid
        self.managed_uuid = managed_uuid
        self.pool: dict[tuple[bool, str], str] = {}

    def put(self, mirror: bool, collection: str, value: object) -> None:
        if isinstance(value, str) and value:
            self.pool.setdefault((mirror, collection), value)

    def path_values(self, operation: Operation) -> dict[str, object] | None:
        """Every path parameter's value, or ``None`` while one is still unknown."""
        mirror = operation.path.startswith(MIRROR + "/")
        template = operation.path.removeprefix(MIRROR) if mirror else operation.path
        values: dict[str, object] = {}
        for param in operation.path_params:
            if param.name == "creatorUserUuid":
                values[param.name] = self.managed_uuid
                continue
            collection = template.split("/{" + param.name + "}", 1)[0]
            value = self._lookup(mirror, collection, param.name)
            if value is None:
                return None
            values[param.name] = value
        return values

    def _lookup(self, mirror: bool, collection: str, name: str) -> object | None:
        if name == "partNumber":
            return 1
        if name == "appUuid":
            return APP_UUID
        if collection.endswith("/chats/lists/smart"):
            return "subscribers"
        if name == "userUuid" or collection.endswith("/users"):
            return self.pool.get((mirror, "fan"))
        if name == "mediaUuid" or collection.endswith("/media/links"):
            return self.pool.get((mirror, "/media"))
        return self.pool.get((mirror, collection))


def sample(kind: FieldType, name: str, ids: Ids, mirror: bool) -> Any:
    """A valid value of ``kind`` for a field or parameter called ``name``."""
    if kind.kind == "array":
        assert kind.items is not None
        return [sample(kind.items, name, ids, mirror)]
    if kind.kind == "enum":
        return kind.enum[0]
    if kind.kind == "boolean":
        return False
    if kind.kind in ("number", "integer"):
        return 500 if name == "price" else 1
    if kind.kind == "object":
        return {}
    if kind.format == "date-time" or name.endswith(("Date", "At", "After", "Before")):
        offset = datetime.timedelta(days=-7 if "start" in name.lower() else 1)
        return (NOW + offset).isoformat().replace("+00:00", "Z")
    if kind.format == "uuid" or name.lower().endswith(("uuid", "uuids", "id", "ids")):
        if "media" in name.lower():
            return ids.pool.get((mirror, "/media"), APP_UUID)
        return ids.pool.get((mirror, "fan"), APP_UUID)
    if kind.format == "email":
        return "creator@example.com"
    return f"test {name}"


def build_body(operation: Operation, ids: Ids, mirror: bool) -> dict[str, Any] | None:
    spec = operation.request_body
    if spec is None:
        return None
    body: dict[str, Any] = {}
    wanted = set(spec.required) | {"text"} & set(spec.fields)
    for field, kind in spec.fields.items():
        top, _, child = field.partition(".")
        if top not in wanted or "[" in field:
            continue
        if child:
            body.setdefault(top, {})[child] = sample(kind, child, ids, mirror)
        elif kind.kind == "array" and f"{field}[]." in " ".join(spec.fields):
            prefix = f"{field}[]."
            item = {
                name.removeprefix(prefix): sample(sub, name.removeprefix(prefix), ids, mirror)
                for name, sub in spec.fields.items()
                if name.startswith(prefix)
            }
            body[field] = [item]
        else:
            body.setdefault(field, sample(kind, field, ids, mirror))
    if "name" in body:  # names must be unique per creator (409 otherwise)
        body["name"] = f"{operation.operation_id} list"
    if "label" in body:
        body["label"] = f"{operation.operation_id} label"
    return body


def build_query(operation: Operation, ids: Ids, mirror: bool) -> dict[str, Any]:
    return {
        param.name: sample(param.type, param.name, ids, mirror)
        for param in operation.query
        if param.required
    }


def phase(operation: Operation) -> int:
    """Creations first, then reads, then updates; deletions last."""
    has_ids = any(p.name != "creatorUserUuid" for p in operation.path_params)
    if operation.method == "DELETE":
        return 4
    if operation.method == "POST" and not has_ids:
        return 0
    if operation.method == "GET":
        return 1 if not has_ids else 2
    return 3


def harvest(operation: Operation, result: Any, ids: Ids, body: dict[str, Any] | None) -> None:
    mirror = operation.path.startswith(MIRROR + "/")
    collection = operation.path.removeprefix(MIRROR) if mirror else operation.path
    items: list[Any] = []
    if isinstance(result, dict):
        data = result.get("data")
        items = data if isinstance(data, list) else [result]
    elif isinstance(result, list):
        items = result
    for item in items[:1]:
        if not isinstance(item, dict):
            continue
        user = item.get("user")
        if isinstance(user, dict):
            ids.put(mirror, "fan", user.get("uuid"))
        for field in ID_FIELDS:
            ids.put(mirror, collection, item.get(field))
        if "uploadId" in item:
            ids.put(mirror, collection, item["uploadId"])
            ids.put(mirror, "/media", item.get("mediaUuid"))
    if operation.method == "POST" and body and "name" in body and "folders" in collection:
        ids.put(mirror, collection, body["name"])


def decoded_as_documented(operation: Operation, result: Any) -> bool:
    if operation.response.status == 204:
        return result is None
    if operation.response.content_type == "text/plain":
        return isinstance(result, str) and bool(result)
    return isinstance(result, dict | list)


async def test_every_operation_through_call(emulator: EmulatorHandle) -> None:
    emulator.control("PUT", "/creators/luna.rivers/agency", json={"manages": ["max.stone"]})
    emulator.control("PUT", f"/apps/{APP_UUID}/subscription", json={"status": "active"})
    for creator in ("luna.rivers", "max.stone"):
        seed_world(emulator, creator, followers=5, chats=3)
    token = await access_token(emulator)
    ids = Ids(emulator.creator_uuid("luna.rivers"), emulator.creator_uuid("max.stone"))
    reached: set[str] = set()
    failures: list[str] = []
    async with FanvueClient(token, api_base_url=emulator.base_url) as api:
        # Chats give the fans every /chats/{userUuid}/... call needs.
        for mirror, operation_id in ((False, "listChats"), (True, "listCreatorChats")):
            operation = SPEC.get(operation_id)
            path = ids.path_values(operation)
            assert path is not None
            harvest(operation, await api.call(operation_id, path=path), ids, None)
            assert (mirror, "fan") in ids.pool
        pending = sorted(SPEC, key=lambda op: (phase(op), op.path.count("{"), op.operation_id))
        while pending:
            waiting: list[Operation] = []
            for operation in pending:
                path = ids.path_values(operation)
                if path is None:
                    waiting.append(operation)
                    continue
                mirror = operation.path.startswith(MIRROR + "/")
                body = build_body(operation, ids, mirror)
                query = build_query(operation, ids, mirror)
                try:
                    result = await api.call(
                        operation.operation_id, path=path, params=query, json=body
                    )
                except Exception as exc:
                    failures.append(f"{operation.operation_id} {path} {query} {body}: {exc!r}")
                    continue
                if not decoded_as_documented(operation, result):
                    failures.append(f"{operation.operation_id}: answered {result!r:.80}")
                    continue
                harvest(operation, result, ids, body)
                reached.add(operation.operation_id)
            if len(waiting) == len(pending):
                failures += [f"{op.operation_id}: no ids for its path parameters" for op in waiting]
                break
            pending = waiting
    assert not failures, "\n".join(failures)
    assert reached == {operation.operation_id for operation in SPEC}
    calls = emulator.counters()["calls"]
    for operation in SPEC:
        assert calls.get(f"{operation.method} {operation.path}", 0) >= 1, operation.operation_id
