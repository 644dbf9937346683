"""Hardening of the app's HTTP surface (README "Security"): the login state lives in a sealed
cookie (nothing stored per unauthenticated request), failed session exchanges are limited per
client address, JSON bodies are bounded, cookie mode keeps the session away from scripts, and
the page's CSP names its image origins."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from starlette.applications import Starlette
from starlette.routing import Mount

from fanvue_embedded._devdefaults import DEV_SESSION_SECRET, DEV_WEBHOOK_SECRET
from fanvue_embedded.app import create_app
from fanvue_embedded.app.json_body import MAX_JSON_DEPTH, json_depth_exceeds
from fanvue_embedded.app.login_state import LoginState, open_login_state, seal_login_state
from fanvue_embedded.app.oauth_routes import STATE_COOKIE
from fanvue_embedded.attempts import MAX_SUSPECTS, FailureLimiter, address_bucket
from fanvue_embedded.config import Secret, Settings
from fanvue_embedded.crypto import Keyring
from fanvue_embedded.ephemeral import MemoryEphemeralStore, RedisEphemeralStore
from fanvue_embedded.errors import ConfigurationError
from fanvue_embedded.store import MemoryTokenStore, RedisTokenStore
from tests.support.emulator import EmulatorHandle
from tests.support.errors import error_code
from tests.support.redis_topology import key_count, sync_client
from tests.support.servers import free_port
from tests.test_app import Clock, settings_for
from tests.test_webhooks import post_signed

pytestmark = pytest.mark.anyio


def client_for(app: Any, address: str = "203.0.113.7") -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=(address, 40000), raise_app_exceptions=False)
    return httpx.AsyncClient(transport=transport, base_url="https://app.test")


def redis_stores(redis_url: str) -> dict[str, Any]:
    return {
        "store": RedisTokenStore.from_url(redis_url, Keyring.generate_ephemeral()),
        "ephemeral": RedisEphemeralStore.from_url(redis_url),
    }


def keys_in(redis_url: str) -> int:
    client = sync_client(redis_url)
    try:
        return key_count(client)
    finally:
        client.close()


def set_cookie_headers(response: httpx.Response, name: str) -> list[str]:
    return [h for h in response.headers.get_list("set-cookie") if h.startswith(f"{name}=")]


def attributes(set_cookie: str) -> dict[str, str]:
    parts = [part.strip() for part in set_cookie.split(";")[1:]]
    return {k.lower(): v for k, _, v in (part.partition("=") for part in parts)}


# --- 1a. the login state is a sealed cookie, not a Redis record ------------------------------


async def test_login_writes_nothing_to_the_store(emulator: EmulatorHandle, redis_url: str) -> None:
    app = create_app(settings_for(emulator), **redis_stores(redis_url))
    try:
        before = keys_in(redis_url)
        async with client_for(app) as client:
            for _ in range(50):
                login = await client.get("/oauth/login")
                assert login.status_code == 302
        assert keys_in(redis_url) == before
    finally:
        await app.state.fanvue.aclose()


async def test_login_cookie_is_sealed_lax_httponly_short_lived(emulator: EmulatorHandle) -> None:
    app = create_app(settings_for(emulator))
    try:
        async with client_for(app) as client:
            login = await client.get("/oauth/login")
    finally:
        await app.state.fanvue.aclose()
    query = parse_qs(urlsplit(login.headers["location"]).query)
    (cookie,) = set_cookie_headers(login, STATE_COOKIE)
    value = cookie.split(";")[0].partition("=")[2]
    attrs = attributes(cookie)
    assert attrs["path"] == "/oauth"
    assert attrs["max-age"] == "600"
    assert attrs["samesite"].lower() == "lax"
    assert "httponly" in attrs
    assert "secure" in attrs  # https
    # Neither the state nor anything readable: the browser holds ciphertext only.
    assert query["state"][0] not in value
    assert "{" not in value
    opened = open_login_state(value, DEV_SESSION_SECRET, time.time())
    assert opened is not None
    assert opened.state == query["state"][0]
    assert len(opened.verifier) >= 43


async def test_login_works_while_the_store_is_down(emulator: EmulatorHandle) -> None:
    dead = f"redis://127.0.0.1:{free_port()}"
    app = create_app(
        settings_for(emulator),
        store=RedisTokenStore.from_url(dead, Keyring.generate_ephemeral()),
        ephemeral=RedisEphemeralStore.from_url(dead),
    )
    try:
        async with client_for(app) as client:
            login = await client.get("/oauth/login")
    finally:
        await app.state.fanvue.aclose()
    assert login.status_code == 302


async def _authorize(login: httpx.Response) -> str:
    async with httpx.AsyncClient() as browser:
        decision = await browser.get(login.headers["location"])
    assert decision.status_code == 302
    return urlsplit(decision.headers["location"]).query


async def test_standard_flow_under_a_mount_prefix(emulator: EmulatorHandle) -> None:
    inner = create_app(settings_for(emulator))
    outer = Starlette(routes=[Mount("/fanvue", app=inner)])
    try:
        async with client_for(outer) as client:
            login = await client.get("/fanvue/oauth/login")
            (cookie,) = set_cookie_headers(login, STATE_COOKIE)
            assert attributes(cookie)["path"] == "/fanvue/oauth"
            query = await _authorize(login)
            done = await client.get(f"/fanvue/oauth/callback?{query}")
            assert done.status_code == 200, done.text
            assert done.json()["creator"]["handle"] == "luna.rivers"
            # The callback spent the cookie at the same path.
            (cleared,) = set_cookie_headers(done, STATE_COOKIE)
            assert attributes(cleared)["path"] == "/fanvue/oauth"
            assert attributes(cleared)["max-age"] == "0"
            replay = await client.get(f"/fanvue/oauth/callback?{query}")
            assert error_code(replay) == "invalid_state"
    finally:
        await inner.state.fanvue.aclose()


async def test_forged_stale_and_foreign_login_cookies_are_refused(
    emulator: EmulatorHandle,
) -> None:
    clock = Clock()
    app = create_app(settings_for(emulator), clock=clock)
    try:
        async with client_for(app) as client:
            login = await client.get("/oauth/login")
            query = await _authorize(login)
            sealed = client.cookies[STATE_COOKIE]
            state = parse_qs(query)["state"][0]
            forged = [
                sealed[:-2] + ("AA" if not sealed.endswith("AA") else "BB"),  # tampered
                seal_login_state(  # sealed under another secret
                    LoginState(state, "v" * 43, time.time() + 600), "another-secret-" * 3
                ),
                "not base64 at all!",
                "",
            ]
            for value in forged:
                client.cookies.set(STATE_COOKIE, value, domain="app.test", path="/oauth")
                response = await client.get(f"/oauth/callback?{query}")
                assert error_code(response) == "invalid_state", value
                # Every answer spends the cookie.
                assert attributes(set_cookie_headers(response, STATE_COOKIE)[0])["max-age"] == "0"
            # The genuine cookie, but past its ten minutes (the sealed expiry, not Max-Age).
            clock.offset = 601
            client.cookies.set(STATE_COOKIE, sealed, domain="app.test", path="/oauth")
            assert error_code(await client.get(f"/oauth/callback?{query}")) == "invalid_state"
            clock.offset = 0
            client.cookies.set(STATE_COOKIE, sealed, domain="app.test", path="/oauth")
            assert (await client.get(f"/oauth/callback?{query}")).status_code == 200
    finally:
        await app.state.fanvue.aclose()


def test_sealed_login_state_roundtrip_and_purpose_binding() -> None:
    login = LoginState("s" * 43, "v" * 64, 2_000_000_000.0)
    sealed = seal_login_state(login, DEV_SESSION_SECRET)
    assert open_login_state(sealed, DEV_SESSION_SECRET, 1_999_999_999.0) == login
    assert open_login_state(sealed, DEV_SESSION_SECRET, 2_000_000_000.0) is None  # expired
    assert open_login_state(sealed, DEV_SESSION_SECRET + "x", 0.0) is None
    assert open_login_state("A" * 2000, DEV_SESSION_SECRET, 0.0) is None
    assert "v" * 64 not in repr(login)


# --- 1b. failed session exchanges are limited per client address -----------------------------


async def _junk(client: httpx.AsyncClient) -> httpx.Response:
    # JWT-shaped, so it is not refused locally: each one costs an authorize-on-behalf call.
    return await client.post("/api/fanvue/session", json={"token": "eyJhbGciOiJub25lIn0.e30.x"})


def _upstream_calls(emulator: EmulatorHandle) -> int:
    """Every authorize-on-behalf request the emulator received, refused ones included."""
    calls: dict[str, int] = emulator.counters()["calls"]
    return sum(n for name, n in calls.items() if name.endswith("/authorize-on-behalf"))


async def _limit_is_enforced(emulator: EmulatorHandle, apps: list[Starlette]) -> None:
    """Three failures (spread over ``apps``, the workers) and the address is refused."""
    calls_before = _upstream_calls(emulator)
    clients = [client_for(app) for app in apps]
    try:
        for attempt in range(3):
            refused = await _junk(clients[attempt % len(clients)])
            assert error_code(refused) == "invalid_session_token"
        for client in clients:
            limited = await _junk(client)
            assert limited.status_code == 429
            assert error_code(limited) == "rate_limited"
            assert 1 <= int(limited.headers["retry-after"]) <= 120
            # A good token from the same address is refused too: nothing reaches Fanvue.
            good = await client.post(
                "/api/fanvue/session", json={"token": emulator.session_token()}
            )
            assert good.status_code == 429
        assert _upstream_calls(emulator) == calls_before + 3
        # Another address is not affected.
        async with client_for(apps[0], address="198.51.100.9") as other:
            ok = await other.post("/api/fanvue/session", json={"token": emulator.session_token()})
            assert ok.status_code == 200, ok.text
    finally:
        for client in clients:
            await client.aclose()


def _token_calls(emulator: EmulatorHandle) -> int:
    return int(emulator.counters()["calls"].get("POST /oauth2/token", 0))


async def test_failed_exchanges_are_limited_across_workers_on_redis(
    emulator: EmulatorHandle, redis_url: str
) -> None:
    limited = settings_for(emulator, exchange_failure_limit=3, exchange_failure_window=120.0)
    apps = [create_app(limited, **redis_stores(redis_url)) for _ in range(3)]
    try:
        await _limit_is_enforced(emulator, apps[:2])
        # A worker that never saw the address fail checks it while its first code is being
        # requested: that one authorize-on-behalf call is made, its code never redeemed, and
        # the answer is the limit's. The worker now knows the address: nothing more goes out.
        calls, tokens = _upstream_calls(emulator), _token_calls(emulator)
        async with client_for(apps[2]) as fresh:
            for _ in range(3):
                good = await fresh.post(
                    "/api/fanvue/session", json={"token": emulator.session_token()}
                )
                assert good.status_code == 429
                assert error_code(good) == "rate_limited"
        assert _upstream_calls(emulator) == calls + 1
        assert _token_calls(emulator) == tokens
        # One small counter key per address, expiring with its window.
        raw = sync_client(redis_url)
        try:
            counters = [k for k in raw.scan_iter(match="*exchange-failures*")]
            assert len(counters) == 1
            assert 0 < raw.pttl(counters[0]) <= 120_000
        finally:
            raw.close()
    finally:
        for app in apps:
            await app.state.fanvue.aclose()


async def test_failed_exchanges_are_limited_on_the_memory_store(emulator: EmulatorHandle) -> None:
    clock = Clock()
    app = create_app(
        settings_for(emulator, exchange_failure_limit=3, exchange_failure_window=120.0),
        clock=clock,
    )
    try:
        await _limit_is_enforced(emulator, [app])
        clock.offset = 121  # the window passed: the address may try again
        async with client_for(app) as client:
            assert error_code(await _junk(client)) == "invalid_session_token"
    finally:
        await app.state.fanvue.aclose()


async def test_successes_and_local_refusals_do_not_count(emulator: EmulatorHandle) -> None:
    app = create_app(settings_for(emulator, exchange_failure_limit=2))
    try:
        async with client_for(app) as client:
            for _ in range(4):
                ok = await client.post(
                    "/api/fanvue/session", json={"token": emulator.session_token()}
                )
                assert ok.status_code == 200
                bad = await client.post("/api/fanvue/session", json={"token": 42})
                assert error_code(bad) == "invalid_request"
    finally:
        await app.state.fanvue.aclose()


async def test_suspects_are_remembered_for_one_window_and_bounded() -> None:
    clock = Clock()
    limiter = FailureLimiter(MemoryEphemeralStore(clock=clock), limit=3, window=60.0, clock=clock)
    assert not limiter.suspect("192.0.2.1")
    await limiter.record_failure("192.0.2.1")  # one failure makes a suspect, long before 3
    assert limiter.suspect("192.0.2.1")
    assert not limiter.suspect("192.0.2.2")
    clock.offset = 61  # the window passed
    assert not limiter.suspect("192.0.2.1")
    # Unauthenticated clients cannot grow the map without bound: the oldest go first.
    for n in range(MAX_SUSPECTS + 5):
        await limiter.record_failure(f"10.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}")
    assert len(limiter._suspects) == MAX_SUSPECTS
    assert not limiter.suspect("10.0.0.0")
    assert limiter.suspect(f"10.0.{(MAX_SUSPECTS + 4) >> 8 & 255}.{(MAX_SUSPECTS + 4) & 255}")


@pytest.mark.parametrize("kind", ["memory", "redis"])
async def test_counter_is_a_fixed_window(kind: str, request: pytest.FixtureRequest) -> None:
    clock = Clock()
    store: MemoryEphemeralStore | RedisEphemeralStore
    if kind == "memory":
        store = MemoryEphemeralStore(clock=clock)
    else:
        store = RedisEphemeralStore.from_url(request.getfixturevalue("redis_standalone_url"))
    try:
        assert await store.expires_in("n") is None
        assert [await store.increment("n", 60) for _ in range(3)] == [1, 2, 3]
        first = await store.expires_in("n")
        assert first is not None
        assert 0 < first <= 60
        # Later increments (even with another TTL) keep the first one's expiry.
        assert await store.increment("n", 3600) == 4
        later = await store.expires_in("n")
        assert later is not None
        assert later <= first
        assert await store.get("n") == b"4"
        if kind == "memory":
            clock.offset = 61
            assert await store.expires_in("n") is None
            assert await store.increment("n", 60) == 1  # a new window
    finally:
        await store.aclose()


def test_address_buckets() -> None:
    assert address_bucket("203.0.113.7") == "203.0.113.7"
    # One IPv6 client owns a /64: every address in it is one counter.
    assert address_bucket("2001:db8:1:2:aaaa::1") == address_bucket("2001:db8:1:2:ffff::9")
    assert address_bucket("2001:db8:1:2::1") == "2001:db8:1:2::/64"
    assert address_bucket("2001:db8:1:3::1") != address_bucket("2001:db8:1:2::1")
    assert address_bucket("::ffff:203.0.113.7") == "203.0.113.7"
    assert address_bucket(None) == address_bucket("") == address_bucket("unix-peer") == "other"


def test_limit_settings_from_the_environment() -> None:
    base = {
        "OAUTH_CLIENT_ID": "client",
        "OAUTH_CLIENT_SECRET": "a-client-secret-0123456789",
        "OAUTH_REDIRECT_URI": "http://127.0.0.1:8000/oauth/callback",
        "SESSION_SECRET": "s" * 8 + "a-session-secret-0123456789abcdef",
        "FANVUE_EMBEDDED_MODE": "development",
    }
    defaults = Settings.from_env(base)
    assert (defaults.exchange_failure_limit, defaults.exchange_failure_window) == (20, 300.0)
    custom = Settings.from_env(
        {
            **base,
            "EXCHANGE_FAILURE_LIMIT": "5",
            "EXCHANGE_FAILURE_WINDOW": "60",
            "CSP_IMG_ORIGINS": "https://img.example, https://cdn.example:8443/",
        }
    )
    assert (custom.exchange_failure_limit, custom.exchange_failure_window) == (5, 60.0)
    assert custom.image_origins == ("https://img.example", "https://cdn.example:8443")
    for variable, value in (
        ("EXCHANGE_FAILURE_LIMIT", "0"),
        ("EXCHANGE_FAILURE_LIMIT", "2.5"),
        ("EXCHANGE_FAILURE_WINDOW", "0"),
        ("CSP_IMG_ORIGINS", "https://*.example"),
        ("CSP_IMG_ORIGINS", "https://img.example/avatars"),
        ("CSP_IMG_ORIGINS", "*"),
    ):
        with pytest.raises(ConfigurationError) as info:
            Settings.from_env({**base, variable: value})
        assert info.value.variable in (variable, "EXCHANGE_FAILURE_LIMIT"), (variable, value)


# --- 2. every JSON body is bounded ------------------------------------------------------------


@pytest.fixture
async def plain_app(emulator: EmulatorHandle) -> AsyncIterator[Starlette]:
    app = create_app(
        settings_for(emulator, webhook_secrets=(Secret(DEV_WEBHOOK_SECRET),)),
        store=MemoryTokenStore(Keyring.generate_ephemeral()),
        ephemeral=MemoryEphemeralStore(),
    )
    yield app
    await app.state.fanvue.aclose()


async def test_deeply_nested_json_is_a_400_not_a_500(
    plain_app: Starlette, caplog: pytest.LogCaptureFixture
) -> None:
    deep = b"[" * 4000 + b"]" * 4000  # 8,000 bytes: inside the size limit
    async with client_for(plain_app) as client:
        exchange = await client.post(
            "/api/fanvue/session", content=deep, headers={"content-type": "application/json"}
        )
        assert exchange.status_code == 400
        assert error_code(exchange) == "invalid_json"
        nested_object = b'{"token":"x","a":' + b'{"a":' * 33 + b"1" + b"}" * 33 + b"}"
        response = await client.post(
            "/api/fanvue/session",
            content=nested_object,
            headers={"content-type": "application/json"},
        )
        assert error_code(response) == "invalid_json"
        # At the limit it is judged on its content (a malformed token here).
        at_limit = b'{"token":"x","a":' + b"[" * (MAX_JSON_DEPTH - 1) + b"]" * (MAX_JSON_DEPTH - 1)
        response = await client.post(
            "/api/fanvue/session",
            content=at_limit + b"}",
            headers={"content-type": "application/json"},
        )
        assert error_code(response) == "invalid_session_token"
        # Brackets inside strings are text, not nesting.
        in_string = json.dumps({"token": "[" * 4000}).encode()
        response = await client.post(
            "/api/fanvue/session", content=in_string, headers={"content-type": "application/json"}
        )
        assert error_code(response) == "invalid_session_token"
        webhook = await post_signed(client, deep, DEV_WEBHOOK_SECRET)
        assert webhook.status_code == 400
        assert error_code(webhook) == "invalid_json"
        # A documented Tip Received body with a deeply nested extra field.
        event: dict[str, Any] = {"recipientUuid": "c1", "price": 500, "context": "post"}
        event["deep"] = json.loads(b"[" * 40 + b"]" * 40)
        deep_event = await post_signed(client, json.dumps(event).encode(), DEV_WEBHOOK_SECRET)
        assert error_code(deep_event) == "invalid_json"
    assert "Traceback" not in caplog.text
    assert "RecursionError" not in caplog.text


def _depth(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + max((_depth(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((_depth(v) for v in value), default=0)
    return 0


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(alphabet='ab[]{}"\\/ \n'),
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(st.text(alphabet='k[]{}"\\', max_size=4), children, max_size=3)
    ),
    max_leaves=40,
)


@given(value=_JSON, limit=st.integers(min_value=0, max_value=8))
@settings(max_examples=300, deadline=None, database=None)
def test_depth_scan_agrees_with_the_parser(value: Any, limit: int) -> None:
    raw = json.dumps(value).encode()
    assert json_depth_exceeds(raw, limit) == (_depth(value) > limit)


# --- 3. cookie mode keeps the session away from scripts ---------------------------------------

COOKIE = "__Host-fve"


@pytest.fixture
async def cookie_app(emulator: EmulatorHandle) -> AsyncIterator[tuple[Starlette, Clock]]:
    clock = Clock()
    app = create_app(settings_for(emulator, session_cookie_name=COOKIE), clock=clock)
    yield app, clock
    await app.state.fanvue.aclose()


def _session_from(response: httpx.Response) -> str:
    (cookie,) = set_cookie_headers(response, COOKIE)
    return cookie.split(";")[0].partition("=")[2]


async def test_cookie_mode_exchange_keeps_the_session_out_of_the_body(
    emulator: EmulatorHandle, cookie_app: tuple[Starlette, Clock]
) -> None:
    app, _ = cookie_app
    async with client_for(app) as client:
        response = await client.post(
            "/api/fanvue/session", json={"token": emulator.session_token()}
        )
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"expiresAt", "creator", "csrfToken", "missingScopes"}
    session = _session_from(response)
    assert session not in response.text


async def test_cookie_mode_bearer_cannot_skip_the_csrf_check(
    emulator: EmulatorHandle, cookie_app: tuple[Starlette, Clock]
) -> None:
    app, _ = cookie_app
    async with client_for(app) as client:
        response = await client.post(
            "/api/fanvue/session", json={"token": emulator.session_token()}
        )
        session, csrf = _session_from(response), response.json()["csrfToken"]
        bearer = {"Authorization": f"Bearer {session}"}
        # The session as a bearer, with or without the cookie: no CSRF token, no logout.
        assert (await client.post("/api/fanvue/logout", headers=bearer)).status_code == 401
        client.cookies.set(COOKIE, session, domain="app.test")
        no_csrf = await client.post("/api/fanvue/logout", headers=bearer)
        assert no_csrf.status_code == 401
        assert error_code(no_csrf) == "invalid_session"
        # A bearer alone is not a session in cookie mode, even for a safe method.
        client.cookies.clear()
        assert (await client.get("/api/me", headers=bearer)).status_code == 401
        # The cookie with the CSRF token is the way in, and still works.
        client.cookies.set(COOKIE, session, domain="app.test")
        assert (await client.get("/api/me")).status_code == 200
        ok = await client.post("/api/fanvue/logout", headers={"X-CSRF-Token": csrf})
        assert ok.status_code == 200


async def test_cookie_mode_renewal_rides_in_the_cookie_only(
    emulator: EmulatorHandle, cookie_app: tuple[Starlette, Clock]
) -> None:
    app, clock = cookie_app
    async with client_for(app) as client:
        response = await client.post(
            "/api/fanvue/session", json={"token": emulator.session_token()}
        )
        client.cookies.set(COOKIE, _session_from(response), domain="app.test")
        clock.offset = 400  # past half of the 600 s session: renewed on use
        me = await client.get("/api/me")
    assert me.status_code == 200
    assert "x-updated-session" not in me.headers
    renewed = _session_from(me)
    assert renewed
    assert renewed not in me.text
    assert "httponly" in attributes(set_cookie_headers(me, COOKIE)[0])


# --- 4. the page's CSP names its image origins ------------------------------------------------


def _directives(csp: str) -> dict[str, list[str]]:
    parsed = (part.strip().split() for part in csp.split(";") if part.strip())
    return {words[0]: words[1:] for words in parsed}


async def test_csp_img_src_names_only_used_origins(emulator: EmulatorHandle) -> None:
    for extra, expected_extra in (((), []), (("https://img.example",), ["https://img.example"])):
        app = create_app(settings_for(emulator, image_origins=extra))
        try:
            async with client_for(app) as client:
                page = await client.get("/embedded")
        finally:
            await app.state.fanvue.aclose()
        images = _directives(page.headers["content-security-policy"])["img-src"]
        assert images == ["'self'", emulator.base_url, *expected_extra]
        assert not any("*" in source or source in ("https:", "http:", "data:") for source in images)
