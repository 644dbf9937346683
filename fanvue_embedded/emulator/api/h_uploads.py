"""The media upload flow: session → presigned part URLs → complete → processing → ready.

The part URLs point at the emulator itself (``/_objects/{token}``), which plays the object
store: unauthenticated, unguessable, answering a PUT with the part's ``ETag``.
"""

from __future__ import annotations

import secrets
from typing import Any

from ..world.registry import Upload
from . import errors
from .call import Call

MAX_NAME = 255
OBJECT_PATH = "/_objects/"


def create_upload(call: Call) -> Any:
    world = call.world
    body = call.body
    problems = [
        f"{name} must be 1-{MAX_NAME} characters long"
        for name in ("name", "filename")
        if not 1 <= len(str(body[name])) <= MAX_NAME
    ]
    if problems:
        raise errors.validation(*problems)
    media_uuid = world.new_uuid("media")
    world.media.add(
        {
            "uuid": media_uuid,
            "status": "created",
            "mediaType": body["mediaType"],
            "name": body["name"],
            "caption": None,
            "description": None,
            "createdAt": world.now_iso(),
            "recommendedPrice": None,
            "tags": None,
            "_variants": [],
            "_usage": None,
            "_purchasers": [],
            "_filename": body["filename"],
        }
    )
    upload_id = secrets.token_urlsafe(24)
    call.worlds.uploads[upload_id] = Upload(upload_id, media_uuid, world.owner.uuid)
    return call.shape({"mediaUuid": media_uuid, "uploadId": upload_id})


def _upload(call: Call) -> Upload:
    upload = call.worlds.uploads.get(call.param("uploadId"))
    if upload is None or upload.owner != call.world.owner.uuid:
        raise errors.not_found("Upload not found")
    if upload.completed:
        raise errors.bad_request("This upload is already complete")
    return upload


def part_url(call: Call) -> Any:
    upload = _upload(call)
    token = secrets.token_urlsafe(32)
    call.worlds.objects[token] = (upload.upload_id, int(call.param("partNumber")))
    return f"{call.base_url}{OBJECT_PATH}{token}"


def complete_upload(call: Call) -> Any:
    world = call.world
    upload = _upload(call)
    parts = call.body.get("parts") or []
    if not parts:
        raise errors.bad_request("parts must list every uploaded part")
    for part in parts:
        number, etag = part.get("PartNumber"), str(part.get("ETag") or "").strip('"')
        stored = upload.parts.get(int(number)) if isinstance(number, int | float) else None
        if stored is None:
            raise errors.bad_request(f"part {number} was never uploaded")
        if stored.strip('"') != etag:
            raise errors.bad_request(f"the ETag of part {number} does not match")
    upload.completed = True
    media = world.media.get(upload.media_uuid)
    if media is not None:
        media["status"] = "processing"
        media["_readyAt"] = world.now() + float(call.settings.upload_ready_seconds)
        media["_size"] = sum(upload.sizes.values())
        world.media.touch()
    for token in [t for t, (uid, _n) in call.worlds.objects.items() if uid == upload.upload_id]:
        del call.worlds.objects[token]
    return call.shape({"status": "processing"})
