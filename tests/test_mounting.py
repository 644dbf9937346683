"""The service inside a user's app: a Starlette and a FastAPI host mount ``create_app(...)`` at
``/`` and under ``/fanvue``, served by a real uvicorn, against the emulator.

Every URL the service hands out honours the prefix (page, static files, OpenAPI, the standard
flow's cookie and hints), and the host's own routes authenticate through ``install``: with
``@authenticated`` (Starlette and FastAPI) and with ``Depends(current_creator)`` (FastAPI).
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.routing import Mount, Route

from fanvue_embedded.app import create_app, install
from tests.support.emulator import EmulatorHandle
from tests.support.hosts import _hello, fastapi_host, host_settings, starlette_host
from tests.support.servers import free_port, serve_in_thread
from tests.test_app import Clock

pytestmark = pytest.mark.anyio

HOSTS = [("starlette", ""), ("starlette", "/fanvue"), ("fastapi", ""), ("fastapi", "/fanvue")]


@dataclass
class Hosted:
    kind: str
    prefix: str
    base: str  # http://127.0.0.1:<port>: the host app
    fanvue_app: Starlette
    clock: Clock


@pytest.fixture(params=HOSTS, ids=[f"{kind}-at-{prefix or 'root'}" for kind, prefix in HOSTS])
def hosted(request: pytest.FixtureRequest, emulator: EmulatorHandle) -> Iterator[Hosted]:
    kind, prefix = request.param
    port = free_port()
    app_url = f"http://127.0.0.1:{port}"
    # Registered as a real deployment under the prefix would be.
    emulator.control(
        "PATCH",
        "/app",
        json={
            "redirect_uris": [f"{app_url}{prefix}/oauth/callback"],
            "app_url": f"{app_url}{prefix}/embedded",
        },
    )
    clock = Clock()
    settings = host_settings(emulator.base_url, app_url=app_url, prefix=prefix)
    fanvue_app = create_app(settings, clock=clock)
    host = (starlette_host if kind == "starlette" else fastapi_host)(fanvue_app, prefix)
    services = fanvue_app.state.fanvue
    with serve_in_thread(host, port=port):
        yield Hosted(kind, prefix, app_url, fanvue_app, clock)
        # The HTTP clients the server's loop used (Services keeps one set of parts per loop).
        clients = [parts.http for parts in services._by_loop.values()]
    # install() ran the service's lifespan inside the host's: its HTTP client is closed.
    assert clients
    assert all(client.is_closed for client in clients)


async def exchange(client: httpx.AsyncClient, hosted: Hosted, emulator: EmulatorHandle) -> str:
    answer = await client.post(
        f"{hosted.prefix}/api/fanvue/session", json={"token": emulator.session_token()}
    )
    assert answer.status_code == 200, answer.text
    session: str = answer.json()["session"]
    return session


async def test_embedded_flow_static_files_and_openapi_under_the_prefix(
    hosted: Hosted, emulator: EmulatorHandle
) -> None:
    prefix = hosted.prefix
    async with httpx.AsyncClient(base_url=hosted.base, timeout=10) as client:
        page = await client.get(f"{prefix}/embedded", params={"theme": "dark"})
        assert page.status_code == 200
        assert f'src="{prefix}/embedded/static/app.js"' in page.text
        assert f'data-api-base="{prefix}"' in page.text

        package = await client.get(f"{prefix}/embedded/static/fanvue-embedded.js")
        assert package.status_code == 200
        assert "javascript" in package.headers["content-type"]
        assert "export function createEmbeddedAuth" in package.text

        session = await exchange(client, hosted, emulator)
        me = await client.get(f"{prefix}/api/me", headers={"Authorization": f"Bearer {session}"})
        assert me.status_code == 200, me.text
        assert me.json()["handle"] == "luna.rivers"

        metrics = await client.get(f"{prefix}/metrics")
        # The route template, not the raw (prefixed) path.
        assert 'http_requests_total{method="GET",route="/api/me",status="200"} 1.0' in metrics.text

        if hosted.kind == "fastapi" and not prefix:
            return  # FastAPI's own /openapi.json shadows the service's at the root
        document = (await client.get(f"{prefix}/openapi.json")).json()
        assert "/api/me" in document["paths"]
        if prefix:
            assert document["servers"] == [{"url": prefix}]
        else:
            assert "servers" not in document


async def test_standard_flow_under_the_prefix(hosted: Hosted, emulator: EmulatorHandle) -> None:
    prefix = hosted.prefix
    async with httpx.AsyncClient(base_url=hosted.base, timeout=10) as browser:
        login = await browser.get(f"{prefix}/oauth/login")
        assert login.status_code == 302
        cookie = login.headers["set-cookie"]
        assert f"Path={prefix}/oauth;" in cookie or cookie.endswith(f"Path={prefix}/oauth")
        decision = await browser.get(login.headers["location"])
        assert decision.status_code == 302
        callback_url = decision.headers["location"]
        assert callback_url.startswith(f"{hosted.base}{prefix}/oauth/callback?")

        # The cookie jar sends the state cookie only where its Path says: the callback.
        callback = await browser.get(callback_url)
        assert callback.status_code == 200, callback.text
        assert callback.json()["creator"]["handle"] == "luna.rivers"

        replay = await browser.get(callback_url)
        assert replay.status_code == 400
        assert replay.json()["error"] == "invalid_state"
        assert f"{prefix}/oauth/login" in replay.json()["message"]
    services = hosted.fanvue_app.state.fanvue
    try:
        assert await services.store.load(emulator.creator_uuid()) is not None
    finally:
        await services.aclose()  # the parts this test's own loop made; the server's are its own


async def test_host_routes_authenticate_through_the_mounted_service(
    hosted: Hosted, emulator: EmulatorHandle
) -> None:
    creator = emulator.creator_uuid()
    routes = ["/hello"] if hosted.kind == "starlette" else ["/hello", "/decorated"]
    async with httpx.AsyncClient(base_url=hosted.base, timeout=10) as client:
        for route in routes:
            refused = await client.get(route)
            assert refused.status_code == 401, (route, refused.text)
            assert refused.json()["error"] == "invalid_session"

        session = await exchange(client, hosted, emulator)
        bearer = {"Authorization": f"Bearer {session}"}
        for route in routes:
            answer = await client.get(route, headers=bearer)
            assert answer.status_code == 200, (route, answer.text)
            assert answer.json()["creator"] == creator
        if hosted.kind == "fastapi":
            # ctx is not a query parameter: supplying one changes nothing.
            decorated = await client.get("/decorated", params={"ctx": "1"}, headers=bearer)
            assert decorated.status_code == 200
            profile = await client.get("/profile", headers=bearer)
            assert profile.status_code == 200, profile.text
            assert profile.json() == {"handle": "luna.rivers"}
            typed = await client.get("/typed-profile", headers=bearer)
            assert typed.status_code == 200, typed.text
            assert typed.json() == {"handle": "luna.rivers"}

        # Past half the session's life the answer carries a renewed one, whatever the route.
        hosted.clock.offset += 400
        for route in routes:
            renewed = await client.get(route, headers=bearer)
            assert renewed.status_code == 200
            fresh = renewed.headers["x-updated-session"]
            assert fresh != session
            again = await client.get(route, headers={"Authorization": f"Bearer {fresh}"})
            assert again.status_code == 200


async def test_fastapi_docs_show_the_bearer_scheme_and_no_ctx_parameter(
    emulator: EmulatorHandle,
) -> None:
    fanvue_app = create_app(host_settings(emulator.base_url, app_url="http://app.test"))
    api = fastapi_host(fanvue_app, "/fanvue")
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=api), base_url="http://app.test"
    ) as client:
        document = (await client.get("/openapi.json")).json()
        docs = await client.get("/docs")
    await fanvue_app.state.fanvue.aclose()
    scheme = document["components"]["securitySchemes"]["fanvueSession"]
    assert (scheme["type"], scheme["scheme"]) == ("http", "bearer")
    assert document["paths"]["/hello"]["get"]["security"] == [{"fanvueSession": []}]
    assert document["paths"]["/profile"]["get"]["security"] == [{"fanvueSession": []}]
    parameters = document["paths"]["/decorated"]["get"].get("parameters", [])
    assert [p["name"] for p in parameters] == []
    assert docs.status_code == 200
    assert list(inspect.signature(_hello).parameters) == ["request"]


async def test_a_host_route_without_install_names_the_fix(emulator: EmulatorHandle) -> None:
    fanvue_app = create_app(host_settings(emulator.base_url, app_url="http://app.test"))
    host = Starlette(routes=[Route("/hello", _hello), Mount("/fanvue", app=fanvue_app)])
    transport = httpx.ASGITransport(app=host)
    async with httpx.AsyncClient(transport=transport, base_url="http://app.test") as client:
        with pytest.raises(RuntimeError, match=r"install\(host_app, fanvue_app\)"):
            await client.get("/hello", headers={"Authorization": "Bearer x"})
    await fanvue_app.state.fanvue.aclose()


async def test_install_is_idempotent_and_refuses_a_second_service(
    emulator: EmulatorHandle,
) -> None:
    settings = host_settings(emulator.base_url, app_url="http://app.test")
    first, second = create_app(settings), create_app(settings)
    host = Starlette(routes=[Mount("/fanvue", app=first)])
    install(host, first)
    install(host, first)  # nothing more happens
    assert len(host.user_middleware) == 1
    with pytest.raises(ValueError, match="already installed"):
        install(host, second)
    not_ours: Any = Starlette()
    with pytest.raises(TypeError, match="create_app"):
        install(Starlette(), not_ours)
    for app in (first, second):
        await app.state.fanvue.aclose()
