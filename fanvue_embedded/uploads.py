"""Media uploads: Fanvue's multipart flow in one call, parts in parallel, each part retried.

The flow (``conventions.md``, "Media upload flow")::

    POST  /media/uploads {name, filename, mediaType}       -> {mediaUuid, uploadId}
    GET   /media/uploads/{uploadId}/parts/{n}/url          -> presigned URL (text/plain)
    PUT   <presigned URL>  (the part's bytes, no Authorization)   -> ETag
    PATCH /media/uploads/{uploadId} {parts: [{PartNumber, ETag}]} -> {status: processing}
    GET   /media/{mediaUuid}  until status is ready (optional)

With ``creator_uuid`` the agency mirror under ``/creators/{creatorUserUuid}/`` is used.
Fanvue documents no part size, part count or session lifetime: we follow S3's multipart rules
(every part but the last at least 5 MiB, at most 10,000 parts), which the presigned URLs
point at. Fanvue has no call to abort an upload: a failed one is left for Fanvue to expire.
"""

from __future__ import annotations

import asyncio
import inspect
import os
import random
import time
from collections.abc import AsyncGenerator, AsyncIterable, AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import httpx

from .client import FanvueClient
from .errors import ProtocolError, TransientError

__all__ = [
    "DEFAULT_CONCURRENCY",
    "DEFAULT_PART_SIZE",
    "MAX_PARTS",
    "MEDIA_TYPES",
    "MIN_PART_SIZE",
    "ProgressCallback",
    "UploadError",
    "UploadResult",
    "upload_media",
]

MIN_PART_SIZE = 5 * 1024 * 1024
"""S3's multipart minimum for every part but the last (Fanvue documents none: an assumption)."""
DEFAULT_PART_SIZE = 8 * 1024 * 1024
MAX_PARTS = 10_000
"""S3's multipart maximum."""
DEFAULT_CONCURRENCY = 4
MAX_CONCURRENCY = 32
MEDIA_TYPES = ("image", "video", "audio", "document")
MAX_NAME = 255
# Answers of the object store worth another try: timeouts, throttling, server trouble.
_RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})

ProgressCallback = Callable[[int, int | None], Awaitable[None] | None]
"""Called with ``(bytes_sent, total_bytes_or_None)``: once at the start, then per part done."""
Source = str | os.PathLike[str] | bytes | bytearray | memoryview | AsyncIterable[bytes]


class UploadError(TransientError):
    """An upload could not finish: a part failed every attempt, or the media failed
    processing (``status == "error"``) or was not ready within ``ready_timeout``. Transient:
    nothing was lost, and the upload can be run again."""

    code = "upload_failed"

    def __init__(
        self,
        message: str,
        *,
        media_uuid: str | None = None,
        part_number: int | None = None,
        status: str | None = None,
    ) -> None:
        super().__init__(message)
        self.media_uuid = media_uuid
        self.part_number = part_number
        self.status = status


@dataclass(frozen=True, slots=True)
class UploadResult:
    """A finished upload: the new media's uuid and its status (``processing`` unless waited
    for, then ``ready``), with the bytes and parts sent."""

    media_uuid: str
    status: str
    size: int
    parts: int


async def upload_media(
    client: FanvueClient,
    source: Source,
    *,
    name: str,
    media_type: str,
    filename: str | None = None,
    part_size: int = DEFAULT_PART_SIZE,
    concurrency: int = DEFAULT_CONCURRENCY,
    progress: ProgressCallback | None = None,
    wait_ready: bool = False,
    creator_uuid: str | None = None,
    allow_small_parts: bool = False,
    max_part_attempts: int = 4,
    retry_delay: float = 0.5,
    ready_timeout: float = 600.0,
    poll_interval: float = 2.0,
) -> UploadResult:
    """Upload ``source`` (a file path, bytes, or an async iterator of bytes) as new media.

    ``name`` is the media's title (1-255 characters), ``media_type`` one of ``MEDIA_TYPES``,
    ``filename`` defaults to the path's name (else ``name``). Parts of ``part_size`` bytes go
    up ``concurrency`` at a time (an async iterator is read one part ahead, so memory stays at
    about ``(concurrency + 1) * part_size``); each part is tried up to ``max_part_attempts``
    times with exponential backoff from ``retry_delay``. ``part_size`` below ``MIN_PART_SIZE``
    is refused unless ``allow_small_parts`` (tests, or a store known to take small parts).
    ``creator_uuid`` uploads to a managed creator (agency scopes). ``wait_ready`` polls the
    media every ``poll_interval`` seconds until it is ready (at most ``ready_timeout``).

    Bad arguments raise ``ValueError`` (``TypeError`` for a source of another type) before
    anything is sent; an empty source is one. A part that fails every attempt raises
    :class:`UploadError`; API errors propagate as the client raises them.
    """
    _check_arguments(name, media_type, filename, part_size, concurrency, allow_small_parts)
    if max_part_attempts < 1:
        raise ValueError(f"max_part_attempts must be at least 1, got {max_part_attempts}")
    parts, total, default_filename = await _open_source(source, part_size)
    try:
        first = await anext(parts, None)
        if first is None:
            raise ValueError("the upload source is empty: there is nothing to upload")
        if total is not None and -(-total // part_size) > MAX_PARTS:
            raise ValueError(
                f"{total} bytes in parts of {part_size} would take more than {MAX_PARTS} parts; "
                "choose a larger part_size"
            )
        chosen_filename = filename or default_filename or name
        session = _Session(
            client, creator_uuid, max_part_attempts, retry_delay, progress, total, name=name
        )
        await session.report()
        await session.create(chosen_filename, media_type)
        await session.send_all(first, parts, concurrency)
    finally:
        await parts.aclose()
    status = await session.complete()
    if wait_ready and status != "ready":
        status = await session.wait_ready(ready_timeout, poll_interval)
    return UploadResult(session.media_uuid, status, session.sent, len(session.etags))


def _check_arguments(
    name: str,
    media_type: str,
    filename: str | None,
    part_size: int,
    concurrency: int,
    allow_small_parts: bool,
) -> None:
    if not isinstance(name, str) or not 1 <= len(name) <= MAX_NAME or not name.strip():
        raise ValueError(f"name must be 1-{MAX_NAME} characters and not blank")
    if filename is not None and (not 1 <= len(filename) <= MAX_NAME or not filename.strip()):
        raise ValueError(f"filename must be 1-{MAX_NAME} characters and not blank")
    if media_type not in MEDIA_TYPES:
        raise ValueError(f"media_type must be one of {', '.join(MEDIA_TYPES)}, got {media_type!r}")
    if isinstance(part_size, bool) or not isinstance(part_size, int) or part_size < 1:
        raise ValueError(f"part_size must be a positive number of bytes, got {part_size!r}")
    if part_size < MIN_PART_SIZE and not allow_small_parts:
        raise ValueError(
            f"part_size {part_size} is below {MIN_PART_SIZE} bytes (5 MiB), the multipart "
            "minimum for every part but the last; pass allow_small_parts=True to override"
        )
    if not 1 <= concurrency <= MAX_CONCURRENCY:
        raise ValueError(f"concurrency must be 1-{MAX_CONCURRENCY}, got {concurrency}")


async def _open_source(
    source: Source, part_size: int
) -> tuple[AsyncGenerator[bytes, None], int | None, str | None]:
    """The source as an iterator of parts, its size when known, and its file name if any."""
    if isinstance(source, bytes | bytearray | memoryview):
        data = bytes(source)
        return _slices(data, part_size), len(data), None
    if isinstance(source, str | os.PathLike):
        path = Path(source)
        handle, size = await asyncio.to_thread(_open_file, path)
        return _file_parts(handle, part_size), size, path.name
    if isinstance(source, AsyncIterable):
        return _rechunk(source, part_size), None, None
    raise TypeError(
        "source must be a file path, bytes or an async iterator of bytes, "
        f"got {type(source).__name__}"
    )


def _open_file(path: Path) -> tuple[BinaryIO, int]:
    if not path.is_file():
        raise ValueError(f"{path} is not a readable file")
    handle = path.open("rb")
    size = os.fstat(handle.fileno()).st_size
    if size == 0:
        handle.close()
        raise ValueError(f"{path} is empty: there is nothing to upload")
    return handle, size


async def _slices(data: bytes, part_size: int) -> AsyncGenerator[bytes, None]:
    for offset in range(0, len(data), part_size):
        yield data[offset : offset + part_size]


async def _file_parts(handle: BinaryIO, part_size: int) -> AsyncGenerator[bytes, None]:
    try:
        while chunk := await asyncio.to_thread(handle.read, part_size):
            yield chunk
    finally:
        handle.close()


async def _rechunk(chunks: AsyncIterable[bytes], part_size: int) -> AsyncGenerator[bytes, None]:
    """Whatever sizes the caller yields, parts of exactly ``part_size`` (the last shorter)."""
    buffer = bytearray()
    async for chunk in chunks:
        if not isinstance(chunk, bytes | bytearray | memoryview):
            raise TypeError(f"the upload iterator yielded {type(chunk).__name__}, not bytes")
        buffer += chunk
        while len(buffer) >= part_size:
            yield bytes(buffer[:part_size])
            del buffer[:part_size]
    if buffer:
        yield bytes(buffer)


class _Session:
    """One upload session's calls, with the agency mirror chosen once."""

    def __init__(
        self,
        client: FanvueClient,
        creator_uuid: str | None,
        max_attempts: int,
        retry_delay: float,
        progress: ProgressCallback | None,
        total: int | None,
        *,
        name: str,
    ) -> None:
        self._client = client
        self._creator = creator_uuid
        self._max_attempts = max_attempts
        self._retry_delay = retry_delay
        self._progress = progress
        self._total = total
        self._name = name
        self.media_uuid = ""
        self._upload_id = ""
        self.etags: dict[int, str] = {}
        self.sent = 0

    def _operation(self, self_id: str, mirror_id: str, **path: object) -> tuple[str, Any]:
        if self._creator is None:
            return self_id, path
        return mirror_id, {"creatorUserUuid": self._creator, **path}

    async def report(self) -> None:
        if self._progress is not None:
            outcome = self._progress(self.sent, self._total)
            if inspect.isawaitable(outcome):
                await outcome

    async def create(self, filename: str, media_type: str) -> None:
        operation, path = self._operation("createUploadSession", "createCreatorUploadSession")
        body = {"name": self._name, "filename": filename, "mediaType": media_type}
        created = await self._client.call(operation, path=path, json=body)
        try:
            self.media_uuid, self._upload_id = str(created["mediaUuid"]), str(created["uploadId"])
        except (KeyError, TypeError) as exc:
            raise ProtocolError("the upload session answer has no mediaUuid/uploadId") from exc

    async def send_all(self, first: bytes, rest: AsyncIterator[bytes], concurrency: int) -> None:
        """PUT every part, at most ``concurrency`` at a time; the first failure cancels the rest."""
        slots = asyncio.Semaphore(concurrency)

        async def one(number: int, data: bytes) -> None:
            try:
                self.etags[number] = await self._send_part(number, data)
                self.sent += len(data)
                await self.report()
            finally:
                slots.release()

        try:
            async with asyncio.TaskGroup() as group:
                number, data = 1, first
                while True:
                    await slots.acquire()
                    group.create_task(one(number, data))
                    following = await anext(rest, None)
                    if following is None:
                        break
                    number, data = number + 1, following
                    if number > MAX_PARTS:
                        raise ValueError(
                            f"the source needs more than {MAX_PARTS} parts; choose a larger "
                            "part_size"
                        )
        except BaseExceptionGroup as failed:
            raise _first_error(failed) from None

    async def _part_url(self, number: int) -> str:
        operation, path = self._operation(
            "getUploadPartUrl", "getCreatorUploadPartUrl", uploadId=self._upload_id
        )
        url = await self._client.call(operation, path={**path, "partNumber": number})
        if not isinstance(url, str) or not url.startswith(("https://", "http://")):
            raise ProtocolError(f"the URL for part {number} is not a URL")
        return url.strip()

    async def _send_part(self, number: int, data: bytes) -> str:
        url: str | None = None
        problem = ""
        for attempt in range(1, self._max_attempts + 1):
            if attempt > 1:
                delay = self._retry_delay * 2 ** (attempt - 2)
                await asyncio.sleep(delay * (0.5 + random.random()))  # noqa: S311 - jitter
            try:
                url = url or await self._part_url(number)
                response = await self._put(url, data)
            except TransientError as exc:  # part URL call: Fanvue busy or unreachable
                problem = type(exc).__name__
                continue
            except httpx.TransportError as exc:  # the object store dropped or timed out
                problem = type(exc).__name__
                continue
            if response.is_success:
                etag = response.headers.get("ETag")
                if not etag:
                    raise ProtocolError(f"the object store sent no ETag for part {number}")
                return str(etag)
            problem = f"HTTP {response.status_code}"
            if response.status_code in (400, 403):
                url = None  # an expired or refused presigned URL: ask Fanvue for a new one
            elif response.status_code not in _RETRY_STATUSES:
                break
        raise UploadError(
            f"part {number} failed after {attempt} attempt(s) ({problem})",
            media_uuid=self.media_uuid,
            part_number=number,
        )

    async def _put(self, url: str, data: bytes) -> httpx.Response:
        http = self._client.http
        # The presigned URL is the permission: the API's bearer token must never go there.
        request = http.build_request("PUT", url, content=data)
        request.headers.pop("Authorization", None)
        request.headers.pop("Cookie", None)
        response = await http.send(request, auth=None)
        await response.aclose()
        return response

    async def complete(self) -> str:
        operation, path = self._operation(
            "completeUploadSession", "completeCreatorUploadSession", uploadId=self._upload_id
        )
        parts = [{"PartNumber": n, "ETag": self.etags[n]} for n in sorted(self.etags)]
        answer = await self._client.call(operation, path=path, json={"parts": parts})
        status = answer.get("status") if isinstance(answer, dict) else None
        return str(status or "processing")

    async def wait_ready(self, within: float, interval: float) -> str:
        operation, path = self._operation(
            "getUserMediaByUuid", "getCreatorMediaByUuid", uuid=self.media_uuid
        )
        deadline = time.monotonic() + within
        while True:
            media = await self._client.call(operation, path=path)
            status = str(media.get("status")) if isinstance(media, dict) else "unknown"
            if status == "ready":
                return status
            if status == "error":
                raise UploadError(
                    "Fanvue could not process the uploaded media",
                    media_uuid=self.media_uuid,
                    status=status,
                )
            if time.monotonic() + interval > deadline:
                raise UploadError(
                    f"the media was not ready within {within:g} s (status {status})",
                    media_uuid=self.media_uuid,
                    status=status,
                )
            await asyncio.sleep(interval)


def _first_error(group: BaseExceptionGroup[BaseException]) -> BaseException:
    """The task group's first real failure (the others are the cancellations it caused)."""
    for error in group.exceptions:
        if isinstance(error, BaseExceptionGroup):
            return _first_error(error)
        if not isinstance(error, asyncio.CancelledError):
            return error
    return group.exceptions[0]
