"""fanvue_embedded.client: FanvueClient against the emulator over a real socket.

Answers the emulator never gives (a malformed user, 204, HTML) come from a
small scripted server on a real socket too: httpx is never mocked.
"""

from __future__ import annotations

import email.utils
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from fanvue_embedded import errors
from fanvue_embedded._devdefaults import DEV_CLIENT_ID, DEV_CLIENT_SECRET, DEV_REDIRECT_URI
from fanvue_embedded.client import FanvueClient, RateLimit, parse_retry_after
from fanvue_embedded.config import DEFAULT_API_VERSION
from fanvue_embedded.oauth import OAuthClient
from fanvue_embedded.platform import PlatformClient
from tests.support.emulator import EmulatorHandle
from tests.support.protocol import fresh_tokens
from tests.support.servers import free_port, serve_in_thread

pytestmark = pytest.mark.anyio


@pytest.fixture
async def access(emulator: EmulatorHandle, oauth: OAuthClient, platform: PlatformClient) -> str:
    token, _ = await fresh_tokens(emulator, oauth, platform)
    return token


# --- the emulator ---------------------------------------------------------------------------


async def test_calls_carry_bearer_token_and_version_header(
    emulator: EmulatorHandle, access: str
) -> None:
    async with FanvueClient(access, api_base_url=emulator.base_url + "/") as api:
        user = await api.get_current_user()
        assert api.api_version == DEFAULT_API_VERSION
        assert api.last_rate_limit is not None
        assert api.last_rate_limit.limit is not None
        assert api.last_rate_limit.remaining == api.last_rate_limit.limit - 1
    assert user.handle == "luna.rivers"
    assert user.uuid == emulator.creator_uuid()
    # The call reached the emulator (a separate server on a socket), not a stand-in.
    assert emulator.counters()["calls"]["GET /users/me"] == 1


async def test_api_version_header_and_errors(emulator: EmulatorHandle, access: str) -> None:
    async with FanvueClient(
        access, api_base_url=emulator.base_url, api_version="1999-01-01"
    ) as api:
        with pytest.raises(errors.BadRequestError) as bad:
            await api.get_current_user()
    assert bad.value.status_code == 400
    # Fanvue's UnsupportedVersionError {error, message}: both kept (the strings are Fanvue's).
    assert bad.value.error
    assert str(bad.value) == bad.value.message
    async with FanvueClient(
        access, api_base_url=emulator.base_url, api_version="2024-01-01"
    ) as api:
        with pytest.raises(errors.APIVersionGoneError):
            await api.get_current_user()
    async with FanvueClient(access, api_base_url=emulator.base_url) as api:
        with pytest.raises(errors.NotFoundError):
            await api.get("/no-such-endpoint")
        emulator.control("POST", f"/creators/{emulator.creator_uuid()}/expire-access-tokens")
        with pytest.raises(errors.UnauthorizedError) as expired:
            await api.get_current_user()  # a fixed token cannot be refreshed: no retry
    assert expired.value.status_code == 401


async def test_upstream_failures_are_typed(emulator: EmulatorHandle, access: str) -> None:
    emulator.faults(fail_next={"api": 1})
    async with FanvueClient(access, api_base_url=emulator.base_url) as api:
        with pytest.raises(errors.UpstreamServerError) as failed:
            await api.get_current_user()
        assert failed.value.status_code == 503
        assert (await api.get_current_user()).handle == "luna.rivers"  # one-shot fault
    async with FanvueClient(access, api_base_url=f"http://127.0.0.1:{free_port()}") as down:
        with pytest.raises(errors.UpstreamUnavailable):
            await down.get_current_user()


async def test_a_collections_outage_is_fanvues_503_with_its_message(
    emulator: EmulatorHandle, access: str
) -> None:
    # conventions.md: 503 {message} on /collections* when the collections service is down.
    emulator.faults(fail_next={"api": 1})
    async with FanvueClient(access, api_base_url=emulator.base_url) as api:
        with pytest.raises(errors.UpstreamServerError) as failed:
            await api.call("listCollections")
        assert failed.value.status_code == 503
        assert "collections service is unavailable" in str(failed.value)
        # One-shot: the next call reaches the API's own checks (this token lacks read:post).
        with pytest.raises(errors.ForbiddenError):
            await api.call("listCollections")


async def test_401_triggers_one_refresh_and_retry(
    emulator: EmulatorHandle, oauth: OAuthClient, platform: PlatformClient
) -> None:
    access, refresh = await fresh_tokens(emulator, oauth, platform)
    current = {"access": access, "refresh": refresh}
    rejected_tokens: list[str | None] = []

    async def provider(*, rejected: str | None = None) -> str:
        rejected_tokens.append(rejected)
        if rejected is not None:
            fresh = await oauth.refresh(current["refresh"])
            assert fresh.refresh_token
            current.update(access=fresh.access_token, refresh=fresh.refresh_token)
        return current["access"]

    emulator.control("POST", f"/creators/{emulator.creator_uuid()}/expire-access-tokens")
    async with FanvueClient(provider, api_base_url=emulator.base_url) as api:
        user = await api.get_current_user()
    assert user.handle == "luna.rivers"
    assert rejected_tokens == [None, access]
    assert emulator.counters()["rotations"] == 1


async def test_a_second_401_is_a_real_refusal(emulator: EmulatorHandle, access: str) -> None:
    asked: list[str | None] = []

    async def stale_provider(*, rejected: str | None = None) -> str:
        asked.append(rejected)
        return access  # never manages to refresh

    emulator.control("POST", f"/creators/{emulator.creator_uuid()}/expire-access-tokens")
    async with FanvueClient(stale_provider, api_base_url=emulator.base_url) as api:
        with pytest.raises(errors.UnauthorizedError):
            await api.get_current_user()
    assert asked == [None, access]  # one forced refresh, then the refusal stands


async def test_pagination_to_the_end(emulator: EmulatorHandle, access: str) -> None:
    async with FanvueClient(access, api_base_url=emulator.base_url) as api:
        followers = [item async for item in api.paginate("/followers", page_size=10)]
        first_page = await api.get("/followers", {"size": 10})
    assert len(followers) == 45
    assert len({follower["uuid"] for follower in followers}) == 45
    assert followers[:10] == first_page["data"]


async def test_pagination_passes_params_and_surfaces_page_errors(
    emulator: EmulatorHandle, access: str
) -> None:
    calls_before = emulator.counters()["calls"].get("GET /followers", 0)
    async with FanvueClient(access, api_base_url=emulator.base_url) as api:
        # Out of the documented range (1-50): refused before anything is sent.
        with pytest.raises(ValueError, match="page_size"):
            _ = [item async for item in api.paginate("/followers", page_size=0)]
        # /followers is page-based: a cursor is not one of its parameters.
        with pytest.raises(ValueError, match="cursor"):
            _ = [item async for item in api.paginate("/followers", params={"cursor": "zz"})]
        # A page past the end is Fanvue's to answer: an empty page ends the walk.
        late = [item async for item in api.paginate("/followers", params={"page": 999})]
    assert late == []
    assert emulator.counters()["calls"].get("GET /followers", 0) == calls_before + 1


async def test_rate_limit_waits_out_retry_after(emulator: EmulatorHandle, access: str) -> None:
    emulator.settings(rate_limit=2, rate_window=5)
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        # Waiting is simulated by moving the emulator's clock: no real sleep in tests.
        waits.append(seconds)
        emulator.advance(seconds)

    async with FanvueClient(access, api_base_url=emulator.base_url, sleep=sleep) as api:
        for _ in range(3):
            await api.get_current_user()
        assert api.last_rate_limit is not None
        assert api.last_rate_limit.limit == 2
    assert len(waits) == 1
    assert 0 < waits[0] <= 5
    assert emulator.counters()["rate_limited"] == 1
    emulator.settings(rate_window=60)
    async with FanvueClient(
        access, api_base_url=emulator.base_url, sleep=sleep, max_retry_after=10
    ) as api:
        await api.get_current_user()  # the last call this window allows
        with pytest.raises(errors.RateLimitedError) as info:  # a 60 s wait is not waited out
            await api.get_current_user()
    assert len(waits) == 1
    assert info.value.rate_limit["X-RateLimit-Remaining"] == "0"
    assert info.value.retry_after is not None
    assert info.value.retry_after > 10


async def test_rate_limit_retries_are_bounded(emulator: EmulatorHandle, access: str) -> None:
    emulator.settings(rate_limit=1, rate_window=5)
    waits: list[float] = []

    async def sleep_without_time_passing(seconds: float) -> None:
        waits.append(seconds)  # the window never ends: every retry is limited again

    async with FanvueClient(
        access,
        api_base_url=emulator.base_url,
        sleep=sleep_without_time_passing,
        rate_limit_retries=2,
    ) as api:
        await api.get_current_user()
        with pytest.raises(errors.RateLimitedError):
            await api.get_current_user()
    assert len(waits) == 2
    assert emulator.counters()["rate_limited"] == 3


async def test_scope_missing_is_forbidden(
    emulator: EmulatorHandle, platform: PlatformClient
) -> None:
    emulator.control(
        "PATCH", "/app", json={"scopes": ["openid", "offline_access", "offline", "read:fan"]}
    )
    oauth = OAuthClient(
        client_id=DEV_CLIENT_ID,
        client_secret=DEV_CLIENT_SECRET,
        issuer_base_url=emulator.base_url,
        redirect_uri=DEV_REDIRECT_URI,
        scopes=("read:fan",),
    )
    try:
        access, _ = await fresh_tokens(emulator, oauth, platform)
    finally:
        await oauth.aclose()
    async with FanvueClient(access, api_base_url=emulator.base_url) as api:
        with pytest.raises(errors.ForbiddenError) as info:
            await api.get_current_user()
        page = await api.get("/followers")
    assert info.value.status_code == 403
    assert info.value.error  # Fanvue's UnauthorizedResponse {error}
    assert isinstance(page["data"], list)


# --- answers the emulator never gives -------------------------------------------------------


SCRIPT: dict[str, Response] = {
    "/no-content": Response(status_code=204),
    "/empty-ok": Response(status_code=200),
    "/html-ok": Response("<html>hi</html>", media_type="text/html"),
    "/html-error": Response("<html>oops</html>", status_code=418, media_type="text/html"),
    "/users/me": JSONResponse({"handle": "no uuid"}),
    "/not-a-list": JSONResponse({"data": "nope"}),
    "/echo": JSONResponse({}),
}


async def scripted(request: Request) -> Response:
    if request.url.path == "/echo":
        body = await request.body()
        return JSONResponse(
            {
                "method": request.method,
                "query": dict(request.query_params),
                "body": body.decode(),
                "version": request.headers.get("X-Fanvue-API-Version"),
            }
        )
    return SCRIPT[request.url.path]


@pytest.fixture(scope="module")
def script_url() -> Iterator[str]:
    app = Starlette(routes=[Route(path, scripted, methods=["GET", "POST"]) for path in SCRIPT])
    with serve_in_thread(app) as base_url:
        yield base_url


async def test_request_sends_method_params_and_json(script_url: str) -> None:
    async with FanvueClient("tok", api_base_url=script_url, api_version="2025-06-26") as api:
        echoed: dict[str, Any] = await api.request(
            "POST", "/echo", params={"page": 2}, json_body={"text": "hi"}
        )
    assert echoed == {
        "method": "POST",
        "query": {"page": "2"},
        "body": '{"text":"hi"}',
        "version": "2025-06-26",
    }


async def test_unusual_answers(script_url: str) -> None:
    async with FanvueClient("tok", api_base_url=script_url) as api:
        assert await api.get("/no-content") is None
        with pytest.raises(errors.ProtocolError, match="without a JSON body"):
            await api.get("/empty-ok")
        with pytest.raises(errors.ProtocolError, match="without a JSON body"):
            await api.get("/html-ok")
        with pytest.raises(errors.APIError) as teapot:
            await api.get("/html-error")
        with pytest.raises(errors.ProtocolError, match="malformed user"):
            await api.get_current_user()
        # paginate() knows lists from Fanvue's spec: a path it does not serve is named.
        with pytest.raises(ValueError, match="/not-a-list"):
            _ = [item async for item in api.paginate("/not-a-list")]
    assert type(teapot.value) is errors.APIError  # no narrower class for 418
    assert teapot.value.status_code == 418
    assert teapot.value.error is None


async def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ValueError, match="empty"):
        FanvueClient("", api_base_url="http://127.0.0.1:9")
    async with FanvueClient("tok", api_base_url="http://127.0.0.1:9") as api:
        with pytest.raises(ValueError, match="must start with '/'"):
            await api.get("users/me")
        assert "tok" not in repr(api)


async def test_a_shared_http_client_is_not_closed() -> None:
    async with httpx.AsyncClient() as http:
        async with FanvueClient("tok", api_base_url="http://127.0.0.1:9", http=http):
            pass
        assert not http.is_closed


# --- pure helpers ---------------------------------------------------------------------------


def test_parse_retry_after_reads_seconds_and_dates() -> None:
    assert parse_retry_after(None, now=0.0) is None
    assert parse_retry_after(" 7 ", now=0.0) == 7.0
    assert parse_retry_after("soon", now=0.0) is None
    when = email.utils.formatdate(1_700_000_030, usegmt=True)
    assert parse_retry_after(when, now=1_700_000_000.0) == 30.0
    assert parse_retry_after(when, now=1_700_000_100.0) == 0.0  # already past


def test_rate_limit_headers_tolerate_garbage() -> None:
    headers = httpx.Headers({"X-RateLimit-Limit": "100", "X-RateLimit-Remaining": "lots"})
    assert RateLimit.from_headers(headers) == RateLimit(limit=100, remaining=None, reset=None)
