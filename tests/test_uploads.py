"""upload_media against the emulator over real sockets: multi-part files, bytes and async
iterators, a part that fails once (the emulator's object-store fault), waiting for ready on the
emulator clock, the agency mirror, and bad input refused before any call."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from fanvue_embedded._http import build_async_client
from fanvue_embedded.client import FanvueClient
from fanvue_embedded.uploads import MIN_PART_SIZE, UploadError, upload_media
from tests.support.api_access import access_token, api_calls
from tests.support.emulator import EmulatorHandle

pytestmark = pytest.mark.anyio

PART = 64 * 1024  # small parts for tests (allow_small_parts); production keeps >= 5 MiB
PUTS = "PUT /_objects/{token}"


def calls(emulator: EmulatorHandle, name: str) -> int:
    return int(emulator.counters()["calls"].get(name, 0))


class Recorder:
    """Every request the client's httpx client sends: method, URL and whether it had auth."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str, bool]] = []

    async def __call__(self, request: httpx.Request) -> None:
        self.seen.append((request.method, str(request.url), "authorization" in request.headers))


@pytest.fixture
async def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
async def api(emulator: EmulatorHandle, recorder: Recorder) -> AsyncIterator[FanvueClient]:
    token = await access_token(emulator)
    http = build_async_client()
    http.event_hooks["request"] = [recorder]
    async with FanvueClient(token, api_base_url=emulator.base_url, http=http) as client:
        yield client
    await http.aclose()


def payload(size: int) -> bytes:
    return bytes((index * 7 + 3) % 251 for index in range(size))


async def test_multipart_file_upload_in_parallel_parts(
    emulator: EmulatorHandle, api: FanvueClient, recorder: Recorder, tmp_path: Path
) -> None:
    data = payload(3 * PART + 1000)
    source = tmp_path / "clip.mp4"
    source.write_bytes(data)
    reports: list[tuple[int, int | None]] = []

    result = await upload_media(
        api,
        source,
        name="Beach day",
        media_type="video",
        part_size=PART,
        allow_small_parts=True,
        concurrency=3,
        progress=lambda sent, total: reports.append((sent, total)),
    )

    assert (result.parts, result.size, result.status) == (4, len(data), "processing")
    assert reports[0] == (0, len(data))
    assert reports[-1] == (len(data), len(data))
    assert [sent for sent, _ in reports] == sorted(sent for sent, _ in reports)
    assert calls(emulator, PUTS) == 4
    # The presigned URLs never see the bearer token; every API call carries it.
    puts = [entry for entry in recorder.seen if entry[0] == "PUT"]
    assert len(puts) == 4
    assert not any(has_auth for _, _, has_auth in puts)
    assert all(has_auth for method, _, has_auth in recorder.seen if method != "PUT")
    media = await api.call("getUserMediaByUuid", path={"uuid": result.media_uuid})
    assert media == {"uuid": result.media_uuid, "status": "processing"}
    emulator.advance(60)
    ready = await api.call("getUserMediaByUuid", path={"uuid": result.media_uuid})
    assert ready["status"] == "ready"
    assert ready["name"] == "Beach day"


async def test_a_part_that_fails_once_is_retried(
    emulator: EmulatorHandle, api: FanvueClient
) -> None:
    emulator.faults(fail_next={"objects": 1})
    result = await upload_media(
        api,
        payload(2 * PART + 10),
        name="Retry me",
        media_type="image",
        filename="retry.jpg",
        part_size=PART,
        allow_small_parts=True,
        retry_delay=0.01,
    )
    assert (result.parts, result.status) == (3, "processing")
    assert calls(emulator, PUTS) == 4  # three parts, one of them twice


async def test_a_part_failing_every_attempt_stops_the_upload(
    emulator: EmulatorHandle, api: FanvueClient
) -> None:
    emulator.faults(fail_next={"objects": 50})
    with pytest.raises(UploadError) as failed:
        await upload_media(
            api,
            payload(3 * PART),
            name="Doomed",
            media_type="image",
            filename="doomed.jpg",
            part_size=PART,
            allow_small_parts=True,
            concurrency=1,
            max_part_attempts=2,
            retry_delay=0.01,
        )
    assert failed.value.part_number == 1
    assert "HTTP 503" in str(failed.value)
    assert calls(emulator, PUTS) == 2  # one part, two attempts; the others never started
    assert calls(emulator, "PATCH /media/uploads/{uploadId}") == 0  # never completed


async def test_async_iterator_source_is_rechunked_into_exact_parts(
    emulator: EmulatorHandle, api: FanvueClient
) -> None:
    data = payload(2 * PART + 5)

    async def odd_chunks() -> AsyncIterator[bytes]:
        for offset in range(0, len(data), 10_007):
            yield data[offset : offset + 10_007]

    reports: list[tuple[int, int | None]] = []

    async def progress(sent: int, total: int | None) -> None:
        reports.append((sent, total))

    result = await upload_media(
        api,
        odd_chunks(),
        name="Streamed",
        media_type="audio",
        filename="voice.m4a",
        part_size=PART,
        allow_small_parts=True,
        concurrency=1,
        progress=progress,
    )
    assert (result.parts, result.size) == (3, len(data))
    assert [sent for sent, _ in reports] == [0, PART, 2 * PART, len(data)]
    assert {total for _, total in reports} == {None}  # the total is unknown up front


async def test_wait_ready_follows_the_emulator_clock(
    emulator: EmulatorHandle, api: FanvueClient
) -> None:
    emulator.settings(upload_ready_seconds=300)
    upload = asyncio.ensure_future(
        upload_media(
            api,
            payload(1000),
            name="Slow to process",
            media_type="document",
            filename="notes.pdf",
            wait_ready=True,
            poll_interval=0.02,
        )
    )
    while calls(emulator, "GET /media/{uuid}") < 2:  # completed, and polled at least twice
        assert not upload.done(), upload
        await asyncio.sleep(0.02)
    assert not upload.done()
    emulator.advance(300)  # within the access token's lifetime
    result = await asyncio.wait_for(upload, 30)
    assert result.status == "ready"


async def test_wait_ready_gives_up_after_its_bound(
    emulator: EmulatorHandle, api: FanvueClient
) -> None:
    emulator.settings(upload_ready_seconds=3600)
    with pytest.raises(UploadError) as late:
        await upload_media(
            api,
            b"x" * 100,
            name="Never ready",
            media_type="image",
            filename="n.png",
            wait_ready=True,
            ready_timeout=0.1,
            poll_interval=0.02,
        )
    assert late.value.status == "processing"
    assert late.value.media_uuid


async def test_agency_mirror_upload_lands_in_the_managed_creators_media(
    emulator: EmulatorHandle, api: FanvueClient
) -> None:
    emulator.make_agency("luna.rivers", "max.stone")
    managed = emulator.creator_uuid("max.stone")
    result = await upload_media(
        api,
        payload(PART + 1),
        name="For Max",
        media_type="image",
        filename="max.jpg",
        part_size=PART,
        allow_small_parts=True,
        creator_uuid=managed,
        wait_ready=True,
        poll_interval=0.02,
        ready_timeout=30,
    )
    assert (result.parts, result.status) == (2, "ready")
    counters = emulator.counters()["calls"]
    assert counters.get("POST /creators/{creatorUserUuid}/media/uploads") == 1
    assert counters.get("POST /media/uploads") is None
    media = await api.call(
        "getCreatorMediaByUuid", path={"creatorUserUuid": managed, "uuid": result.media_uuid}
    )
    assert media["name"] == "For Max"
    with pytest.raises(Exception, match=r"(?i)not found"):
        await api.call("getUserMediaByUuid", path={"uuid": result.media_uuid})


# --- bad input: a clear error before any call ---------------------------------------------------


async def _empty() -> AsyncIterator[bytes]:
    if False:
        yield b""


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"source": b""}, ValueError, "empty"),
        ({"source": "EMPTY_FILE"}, ValueError, "empty"),
        ({"source": "MISSING_FILE"}, ValueError, "not a readable file"),
        ({"source": "EMPTY_ITERATOR"}, ValueError, "empty"),
        ({"media_type": "gif"}, ValueError, "media_type must be one of"),
        ({"name": ""}, ValueError, "name must be"),
        ({"name": "   "}, ValueError, "name must be"),
        ({"name": "n" * 256}, ValueError, "name must be"),
        ({"filename": "f" * 256}, ValueError, "filename must be"),
        ({"part_size": MIN_PART_SIZE - 1}, ValueError, "allow_small_parts"),
        ({"part_size": 0, "allow_small_parts": True}, ValueError, "part_size"),
        ({"concurrency": 0}, ValueError, "concurrency"),
        ({"max_part_attempts": 0}, ValueError, "max_part_attempts"),
        ({"source": 42}, TypeError, "source must be"),
        ({"source": b"x" * 20, "part_size": 1, "allow_small_parts": True}, ValueError, "10000"),
    ],
)
async def test_bad_input_is_refused_before_any_call(
    emulator: EmulatorHandle,
    api: FanvueClient,
    tmp_path: Path,
    kwargs: dict[str, Any],
    error: type[Exception],
    match: str,
) -> None:
    arguments: dict[str, Any] = {"source": b"data", "name": "ok", "media_type": "image"}
    arguments.update(kwargs)
    if arguments["source"] == "EMPTY_FILE":
        (tmp_path / "empty.jpg").write_bytes(b"")
        arguments["source"] = tmp_path / "empty.jpg"
    elif arguments["source"] == "MISSING_FILE":
        arguments["source"] = tmp_path / "missing.jpg"
    elif arguments["source"] == "EMPTY_ITERATOR":
        arguments["source"] = _empty()
    if arguments.get("part_size") == 1:
        # 20 bytes in 1-byte parts is fine; make it exceed 10,000 parts instead.
        arguments["source"] = b"x" * 10_001
    source = arguments.pop("source")
    with pytest.raises(error, match=match):
        await upload_media(api, source, **arguments)
    assert api_calls(emulator) == 0


# --- the command line ---------------------------------------------------------------------------


def test_cli_upload_shows_progress_and_prints_the_media(
    emulator: EmulatorHandle, redis_standalone_url: str, tmp_path: Path
) -> None:
    from fanvue_embedded import _upload_cli, uploads
    from fanvue_embedded.cli import dev_environment
    from fanvue_embedded.config import Settings
    from fanvue_embedded.crypto import generate_key
    from fanvue_embedded.services import build_services
    from tests.support.servers import bare_env

    assert _upload_cli.MEDIA_TYPES == uploads.MEDIA_TYPES
    assert _upload_cli.DEFAULT_PART_SIZE == uploads.DEFAULT_PART_SIZE
    assert _upload_cli.DEFAULT_CONCURRENCY == uploads.DEFAULT_CONCURRENCY
    scopes = "read:self read:media write:media"
    emulator.control("PATCH", "/app", json={"scopes": scopes.split()})
    emulator.settings(upload_ready_seconds=0)
    env = dev_environment(
        app_url="http://127.0.0.1:8000", platform_url=emulator.base_url, environ={}
    )
    env.update(
        REDIS_URL=redis_standalone_url,
        TOKEN_ENCRYPTION_KEYS=generate_key("k1"),
        OAUTH_SCOPES=scopes,
    )

    async def authorize() -> str:
        services = build_services(Settings.from_env(env))
        try:
            result = await services.exchange.exchange(emulator.session_token())
            return result.user.uuid
        finally:
            await services.aclose()

    creator = asyncio.run(authorize())
    source = tmp_path / "clip.mp4"
    source.write_bytes(payload(MIN_PART_SIZE + 4096))

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "fanvue_embedded.cli", "media", "upload", *args],
            capture_output=True,
            text=True,
            timeout=120,
            env=bare_env(env),
            check=False,
        )

    done = cli(
        str(source),
        "--creator",
        creator,
        "--name",
        "CLI clip",
        "--type",
        "video",
        "--part-size",
        "5",
        "--wait",
    )
    assert done.returncode == 0, done.stderr
    media_uuid, status = done.stdout.split()[:2]
    assert status == "ready"
    assert "(2 parts" in done.stdout
    assert "100%" in done.stderr
    assert calls(emulator, PUTS) == 2
    refused = cli(
        str(source), "--creator", creator, "--name", "x", "--type", "video", "--part-size", "1"
    )
    assert refused.returncode == 1
    assert "upload failed: part_size" in refused.stderr
    assert "Traceback" not in refused.stderr
    assert media_uuid


async def test_the_typed_api_uploads_through_the_same_flow(
    emulator: EmulatorHandle, api: FanvueClient
) -> None:
    from fanvue_embedded.api import FanvueAPI

    typed = FanvueAPI(api)
    data = payload(6 * 1024 * 1024)  # two parts at the 5 MiB minimum
    result = await typed.media.upload(
        data, name="Typed", media_type="image", part_size=5 * 1024 * 1024
    )
    assert (result.parts, result.size) == (2, len(data))
    emulator.advance(60)
    media = await typed.media.get(result.media_uuid)
    assert media["uuid"] == result.media_uuid
    assert media.get("status") == "ready"
