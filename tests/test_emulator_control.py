"""The emulator's control API, counters, webhooks, real sockets and the command line."""

from __future__ import annotations

import ast
import hashlib
import hmac
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

import fanvue_embedded.emulator
from fanvue_embedded._devdefaults import DEV_CLIENT_SECRET, DEV_WEBHOOK_SECRET
from fanvue_embedded.emulator import Emulator, create_emulator_app
from fanvue_embedded.emulator.__main__ import build_arg_parser, config_from_args
from fanvue_embedded.emulator.records import creator_uuid
from tests.emulator_kit import (
    AOB,
    JSON,
    LUNA,
    api_get,
    authorize_on_behalf,
    basic,
    client_for,
    code_for,
    exchange,
    pkce,
    refresh,
    tokens_for,
)
from tests.support.servers import free_port, python_module, serve_in_thread, spawn

pytestmark = pytest.mark.anyio


@pytest.fixture
def emu() -> Emulator:
    return Emulator()


@pytest.fixture
async def client(emu: Emulator) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(emu) as c:
        yield c


async def test_app_registration_masks_the_secret(client: httpx.AsyncClient) -> None:
    body = (await client.get("/_emulator/app")).json()
    assert body["client_id"] == "fanvue-embedded-dev"
    assert DEV_CLIENT_SECRET not in str(body)
    assert {"openid", "offline_access", "offline", "read:self"} <= set(body["scopes"])


async def test_rotating_the_client_secret_breaks_the_old_one_at_once(
    client: httpx.AsyncClient, emu: Emulator
) -> None:
    code, verifier = await code_for(client, emu)
    response = await client.patch("/_emulator/app", json={"client_secret": "new s3cret+/"})
    assert response.status_code == 200
    assert "new s3cret" not in response.text
    assert (await exchange(client, code, verifier)).status_code == 401
    fresh = await exchange(client, code, verifier, headers=basic(secret="new s3cret+/"))
    assert fresh.status_code == 200


@pytest.mark.parametrize(
    ("path", "body", "status", "field"),
    [
        ("/_emulator/app", {"nope": 1}, 400, "nope"),
        ("/_emulator/app", {"redirect_uris": []}, 422, "redirect_uris"),
        ("/_emulator/app", {"client_id": ""}, 422, "client_id"),
        ("/_emulator/settings", {"grace_seconds": -1}, 422, "grace_seconds"),
        ("/_emulator/settings", {"rotation_mode": "sometimes"}, 422, "rotation_mode"),
        ("/_emulator/settings", {"rate_limit": 1.5}, 422, "rate_limit"),
        ("/_emulator/settings", {"access_token_ttl": True}, 422, "access_token_ttl"),
        ("/_emulator/settings", {"standard_flow_creator": "ghost"}, 422, "standard_flow_creator"),
        ("/_emulator/faults", {"latency_ms": {"db": 5}}, 422, "latency_ms.db"),
        ("/_emulator/faults", {"error_rate": {"api": 2}}, 422, "error_rate.api"),
        ("/_emulator/faults", {"fail_next": {"api": -1}}, 422, "fail_next.api"),
        ("/_emulator/faults", {"explode": True}, 400, "explode"),
        (
            "/_emulator/faults",
            {"reject_concurrent_refresh": "yes"},
            422,
            "reject_concurrent_refresh",
        ),
    ],
)
async def test_bad_patches_name_the_field(
    client: httpx.AsyncClient, path: str, body: dict[str, Any], status: int, field: str
) -> None:
    response = await client.patch(path, json=body)
    assert response.status_code == status
    assert response.json()["field"] == field


@pytest.mark.parametrize("content", [b"not json", b"[1, 2]"])
async def test_non_object_bodies_are_400(client: httpx.AsyncClient, content: bytes) -> None:
    response = await client.patch("/_emulator/settings", content=content, headers=JSON)
    assert response.status_code == 400
    assert response.json()["field"] == "body"


async def test_settings_roundtrip(client: httpx.AsyncClient, emu: Emulator) -> None:
    response = await client.patch(
        "/_emulator/settings",
        json={
            "grace_seconds": 10,
            "rotation_mode": "new-pair",
            "standard_flow_creator": "max.stone",
        },
    )
    body = response.json()
    assert body["grace_seconds"] == 10
    assert body["rotation_mode"] == "new-pair"
    assert body["standard_flow_creator"] == emu.creator("max.stone").uuid
    assert (await client.get("/_emulator/settings")).json() == body


async def test_creators(client: httpx.AsyncClient) -> None:
    listed = (await client.get("/_emulator/creators")).json()
    consent = {c["handle"]: c["consent"] for c in listed}
    assert consent == {"luna.rivers": True, "max.stone": False}
    created = await client.post("/_emulator/creators", json={"handle": "ivy.moon", "consent": True})
    assert created.status_code == 201
    assert created.json()["uuid"] == creator_uuid("ivy.moon")
    assert created.json()["displayName"] == "ivy.moon"
    duplicate = await client.post("/_emulator/creators", json={"handle": "ivy.moon"})
    assert duplicate.status_code == 409
    bad = await client.post("/_emulator/creators", json={"handle": "Bad Handle!"})
    assert bad.status_code == 422
    assert bad.json()["field"] == "handle"
    assert len((await client.get("/_emulator/creators")).json()) == 3


async def test_unknown_creator_is_404(client: httpx.AsyncClient) -> None:
    for method in ("PUT", "DELETE"):
        response = await client.request(method, "/_emulator/creators/nobody/consent", headers=JSON)
        assert response.status_code == 404
    assert (
        await client.post("/_emulator/creators/nobody/expire-access-tokens", headers=JSON)
    ).status_code == 404
    response = await client.post("/_emulator/session-tokens", json={"creator": "nobody"})
    assert response.status_code == 404
    assert response.json()["field"] == "creator"


async def test_session_tokens_by_handle_or_uuid(client: httpx.AsyncClient, emu: Emulator) -> None:
    now = (await client.get("/_emulator/clock")).json()["now"]
    for ref in (LUNA, emu.creator(LUNA).uuid):
        body = (await client.post("/_emulator/session-tokens", json={"creator": ref})).json()
        assert body["token"].startswith("eyJ")
        assert body["expiresAt"] == pytest.approx(now + 60, abs=5)
    short = (
        await client.post("/_emulator/session-tokens", json={"creator": LUNA, "ttl": 5})
    ).json()
    await client.post("/_emulator/clock", json={"advance": 6})
    response = await client.post(AOB, headers={"Authorization": f"Bearer {short['token']}"})
    assert response.status_code == 401


async def test_clock(client: httpx.AsyncClient) -> None:
    before = (await client.get("/_emulator/clock")).json()
    after = (await client.post("/_emulator/clock", json={"advance": 100})).json()
    assert after["offset"] == before["offset"] + 100
    assert after["now"] >= before["now"] + 100
    bad = await client.post("/_emulator/clock", json={"advance": -5})
    assert bad.status_code == 422
    assert bad.json()["field"] == "advance"


async def test_counters_count_calls_by_route_template(
    client: httpx.AsyncClient, emu: Emulator
) -> None:
    first = await tokens_for(client, emu)
    await refresh(client, first["refresh_token"])
    await api_get(client, "/users/me", first["access_token"])
    await client.put(f"/_emulator/creators/{emu.creator(LUNA).uuid}/consent", headers=JSON)
    counters = (await client.get("/_emulator/counters")).json()
    assert counters["calls"]["POST /oauth2/token"] == 2
    assert counters["calls"]["GET /users/me"] == 1
    assert counters["calls"]["PUT /_emulator/creators/{uuid}/consent"] == 1
    assert counters["refresh_requests"] == counters["rotations"] == 1
    cleared = (await client.delete("/_emulator/counters", headers=JSON)).json()
    assert cleared["rotations"] == 0
    assert cleared["calls"] == {}


async def test_reset_restores_the_start_state(client: httpx.AsyncClient, emu: Emulator) -> None:
    first = await tokens_for(client, emu)
    await client.patch("/_emulator/app", json={"client_id": "changed"})
    await client.patch("/_emulator/settings", json={"grace_seconds": 1})
    await client.patch("/_emulator/faults", json={"fail_next": {"api": 3}})
    await client.post("/_emulator/creators", json={"handle": "ivy.moon"})
    await client.post("/_emulator/clock", json={"advance": 50})
    assert (await client.post("/_emulator/reset", headers=JSON)).status_code == 200
    counters = (await client.get("/_emulator/counters")).json()
    assert counters["calls"] == {"GET /_emulator/counters": 1}
    assert counters["code_exchanges"] == 0
    assert (await client.get("/_emulator/app")).json()["client_id"] == "fanvue-embedded-dev"
    assert (await client.get("/_emulator/settings")).json()["grace_seconds"] == 30
    assert (await client.get("/_emulator/faults")).json()["fail_next"]["api"] == 0
    assert len((await client.get("/_emulator/creators")).json()) == 2
    assert (await client.get("/_emulator/clock")).json()["offset"] == 0
    assert (await refresh(client, first["refresh_token"])).json()["error"] == "invalid_grant"


async def test_webhook_is_signed_as_fanvue_signs(client: httpx.AsyncClient) -> None:
    received: list[tuple[bytes, str, str | None]] = []

    async def hook(request: Request) -> Response:
        headers = request.headers
        received.append(
            (
                await request.body(),
                headers["x-fanvue-signature"],
                headers.get("x-fanvue-event-type"),
            )
        )
        return Response(status_code=204)

    receiver = Starlette(routes=[Route("/webhooks/fanvue", hook, methods=["POST"])])
    missing = await client.post("/_emulator/webhooks", json={"type": "tip.new"})
    assert missing.status_code == 409
    unknown = await client.post("/_emulator/webhooks", json={"type": "tip"})
    assert unknown.status_code == 422
    with serve_in_thread(receiver) as base_url:
        await client.patch("/_emulator/app", json={"webhook_url": f"{base_url}/webhooks/fanvue"})
        response = await client.post("/_emulator/webhooks", json={"type": "follow.new"})
    assert response.json()["status"] == 204
    body, signature, event_type = received[0]
    stamp, v0 = (part.split("=", 1)[1] for part in signature.split(","))
    expected = hmac.new(DEV_WEBHOOK_SECRET.encode(), f"{stamp}.".encode() + body, hashlib.sha256)
    assert hmac.compare_digest(v0, expected.hexdigest())
    # No documented shape identifies a new follower: its type travels in the (assumed) header.
    assert event_type == "follow.new"


async def test_dashboard_placeholder(client: httpx.AsyncClient) -> None:
    response = await client.get("/")
    assert response.status_code == 200
    assert "text/html" in response.headers["content-type"]


async def test_full_flow_over_a_real_socket() -> None:
    with serve_in_thread(create_emulator_app()) as base_url:
        async with httpx.AsyncClient(base_url=base_url) as client:
            token = (await client.post("/_emulator/session-tokens", json={"creator": LUNA})).json()[
                "token"
            ]
            verifier, challenge = pkce()
            code = (await authorize_on_behalf(client, token, challenge)).json()["code"]
            tokens = (await exchange(client, code, verifier)).json()
            me = await api_get(client, "/users/me", tokens["access_token"])
            assert me.json()["handle"] == LUNA
            assert (await refresh(client, tokens["refresh_token"])).status_code == 200


def test_cli_flags_build_the_config() -> None:
    ns = build_arg_parser().parse_args(
        [
            "--client-id", "my-app",
            "--client-secret", "s3cret",
            "--redirect-uri", "https://a.test/cb",
            "--redirect-uri", "https://b.test/cb",
            "--scopes", "read:self,read:chat",
            "--grace-seconds", "5",
            "--rotation-mode", "new-pair",
            "--access-token-ttl", "120",
            "--session-token-ttl", "30",
            "--app-url", "https://a.test/embedded",
            "--seed", "3",
        ]
    )  # fmt: skip
    config = config_from_args(ns)
    assert config.client_id == "my-app"
    assert config.client_secret == "s3cret"
    assert config.redirect_uris == ("https://a.test/cb", "https://b.test/cb")
    assert config.scopes == ("openid", "offline_access", "offline", "read:self", "read:chat")
    assert (config.grace_seconds, config.rotation_mode) == (5, "new-pair")
    assert (config.access_token_ttl, config.session_token_ttl) == (120, 30)
    assert config.app_url == "https://a.test/embedded"
    assert config.seed == 3


def test_cli_module_serves(tmp_path: Any) -> None:
    port = free_port()
    log = tmp_path / "emulator.log"
    args = python_module("fanvue_embedded.emulator", "--port", str(port), "--client-id", "cli-app")
    with spawn(args, host="127.0.0.1", port=port, log_path=log):
        response = httpx.get(f"http://127.0.0.1:{port}/_emulator/app")
        assert response.json()["client_id"] == "cli-app"
    banner = log.read_text()
    assert "cli-app" in banner
    assert DEV_CLIENT_SECRET in banner  # the public dev secret is shown; others never


def test_cli_never_prints_a_custom_secret(tmp_path: Any) -> None:
    port = free_port()
    log = tmp_path / "emulator.log"
    args = python_module(
        "fanvue_embedded.emulator", "--port", str(port), "--client-secret", "hush-hush-123"
    )
    with spawn(args, host="127.0.0.1", port=port, log_path=log):
        assert httpx.get(f"http://127.0.0.1:{port}/").status_code == 200
    assert "hush-hush-123" not in log.read_text()


def test_emulator_imports_no_client_module() -> None:
    # Static, so it holds whatever the package's own __init__ comes to import.
    package = Path(fanvue_embedded.emulator.__file__).parent
    imported: set[str] = set()
    for source in package.rglob("*.py"):
        for node in ast.walk(ast.parse(source.read_text())):
            if isinstance(node, ast.Import):
                imported |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                imported.add(node.module)
    ours = {name for name in imported if name.split(".")[0] == "fanvue_embedded"}
    # None holds protocol code: the public dev values, argparse types for the flags, and
    # Fanvue's published spec as data (which the client reads too, but never writes).
    assert ours == {
        "fanvue_embedded._devdefaults",
        "fanvue_embedded._argtypes",
        "fanvue_embedded.spec",
    }
