"""fanvue_embedded.platform: the authorize-on-behalf request and its answers, and
PlatformClient against the emulator over a real socket."""

from __future__ import annotations

import json

import pytest

from fanvue_embedded import errors
from fanvue_embedded.pkce import code_challenge_s256, generate_code_verifier
from fanvue_embedded.platform import (
    PlatformClient,
    build_authorize_on_behalf,
    parse_authorize_on_behalf,
    validate_session_token,
)
from tests.support.emulator import EmulatorHandle
from tests.support.protocol import authorize
from tests.support.servers import free_port

pytestmark = pytest.mark.anyio


# --- request and answer (pure) ---------------------------------------------------------------


def test_authorize_on_behalf_request() -> None:
    request = build_authorize_on_behalf(
        platform_url="https://www.fanvue.com/",
        session_token="eyJabc.def.ghi",
        code_challenge="challenge",
        state="state1",
    )
    assert request.url == "https://www.fanvue.com/api/v1/app-integrations/authorize-on-behalf"
    assert request.headers["Authorization"] == "Bearer eyJabc.def.ghi"
    assert json.loads(request.body) == {
        "code_challenge": "challenge",
        "code_challenge_method": "S256",
        "state": "state1",
    }


@pytest.mark.parametrize("token", ["", " ", "a b", "x" * 5000, None, 42, "tok\n"])
def test_malformed_session_token_is_rejected_before_any_call(token: object) -> None:
    with pytest.raises(errors.InvalidSessionToken):
        validate_session_token(token)


def test_parse_authorize_on_behalf() -> None:
    ok = json.dumps({"code": "ory_ac_1", "state": "s1"}).encode()
    assert parse_authorize_on_behalf(200, ok, expected_state="s1") == "ory_ac_1"
    with pytest.raises(errors.StateMismatchError):
        parse_authorize_on_behalf(200, ok, expected_state="s2")
    with pytest.raises(errors.ProtocolError):
        parse_authorize_on_behalf(200, b'{"state": "s1"}', expected_state="s1")
    cases: list[tuple[int, bytes, type[Exception], str]] = [
        (
            401,
            b'{"error":"invalid_session_token"}',
            errors.InvalidSessionToken,
            "invalid_session_token",
        ),
        (403, b'{"error":"consent_required"}', errors.ConsentRequired, "consent_required"),
        (400, b'{"error":"invalid_request"}', errors.OAuthError, "oauth_error"),
        (502, b"bad gateway", errors.UpstreamServerError, "upstream_error"),
        (429, b"", errors.RateLimitedError, "rate_limited"),
        (418, b"teapot", errors.ProtocolError, "protocol_error"),
    ]
    for status, body, expected, code in cases:
        with pytest.raises(expected) as info:
            parse_authorize_on_behalf(status, body, expected_state="s1")
        assert getattr(info.value, "code", None) == code


# --- against the emulator ------------------------------------------------------------------


async def test_session_token_errors(emulator: EmulatorHandle, platform: PlatformClient) -> None:
    challenge = code_challenge_s256(generate_code_verifier())
    token = emulator.session_token()
    await platform.authorize_on_behalf(token, challenge, "state-1")
    with pytest.raises(errors.InvalidSessionToken):  # single-use
        await platform.authorize_on_behalf(token, challenge, "state-2")
    stale = emulator.session_token()
    emulator.advance(61)
    with pytest.raises(errors.InvalidSessionToken) as info:  # ~60 s lifetime
        await platform.authorize_on_behalf(stale, challenge, "state-3")
    assert info.value.code == "invalid_session_token"
    forged = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    with pytest.raises(errors.InvalidSessionToken):
        await platform.authorize_on_behalf(forged, challenge, "state-4")


async def test_consent_required(emulator: EmulatorHandle, platform: PlatformClient) -> None:
    with pytest.raises(errors.ConsentRequired) as info:
        await authorize(emulator, platform, creator="max.stone")
    assert info.value.code == "consent_required"
    uuid = emulator.creator_uuid("max.stone")
    emulator.control("PUT", f"/creators/{uuid}/consent")
    code, _ = await authorize(emulator, platform, creator="max.stone")
    assert code.startswith("ory_ac_")


async def test_each_call_reaches_the_platform(
    emulator: EmulatorHandle, platform: PlatformClient
) -> None:
    code, _ = await authorize(emulator, platform)
    assert code.startswith("ory_ac_")
    assert emulator.counters()["authorize_on_behalf"] == 1


async def test_upstream_failures_are_typed(
    emulator: EmulatorHandle, platform: PlatformClient
) -> None:
    emulator.faults(fail_next={"platform": 1})
    with pytest.raises(errors.UpstreamServerError):
        await authorize(emulator, platform)
    down = PlatformClient(platform_url=f"http://127.0.0.1:{free_port()}")
    try:
        with pytest.raises(errors.UpstreamUnavailable):
            await down.authorize_on_behalf("eyJx", "c" * 43, "s")
    finally:
        await down.aclose()


async def test_malformed_session_token_never_leaves_the_process(
    emulator: EmulatorHandle, platform: PlatformClient
) -> None:
    challenge = code_challenge_s256(generate_code_verifier())
    with pytest.raises(errors.InvalidSessionToken):
        await platform.authorize_on_behalf("two words", challenge, "st")
    assert set(emulator.counters()["calls"]) == {"GET /_emulator/counters"}  # only this call
    assert "two words" not in repr(platform)
