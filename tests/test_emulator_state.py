"""The emulator's rules called directly on ``EmulatorState`` (no HTTP)."""

from __future__ import annotations

import pytest

from fanvue_embedded._devdefaults import DEV_CLIENT_ID, DEV_REDIRECT_URI
from fanvue_embedded.emulator.config import EmulatorConfig
from fanvue_embedded.emulator.records import creator_uuid
from fanvue_embedded.emulator.state import EmulatorState, OAuthError
from fanvue_embedded.emulator.tokens import s256

ISSUER = "http://emulator.test"
VERIFIER = "v" * 43


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def state(clock: FakeClock) -> EmulatorState:
    return EmulatorState(EmulatorConfig(clock=clock))


def _tokens(state: EmulatorState, handle: str = "luna.rivers") -> dict[str, object]:
    session, _ = state.issue_session_token(creator_uuid(handle))
    body = {"code_challenge": s256(VERIFIER), "code_challenge_method": "S256", "state": "s"}
    code = state.authorize_on_behalf(session, body)["code"]
    form = {"code": code, "redirect_uri": DEV_REDIRECT_URI, "code_verifier": VERIFIER}
    return state.exchange_code(DEV_CLIENT_ID, form, ISSUER)


def test_injected_clock_drives_expiry(state: EmulatorState, clock: FakeClock) -> None:
    tokens = _tokens(state)
    creator, _claims = state.authenticate_access(f"Bearer {tokens['access_token']}")
    assert creator.handle == "luna.rivers"
    clock.now += 3600
    with pytest.raises(OAuthError) as caught:
        state.authenticate_access(f"Bearer {tokens['access_token']}")
    assert caught.value.status == 401


def test_rotation_then_reuse_after_grace_kills_the_chain(
    state: EmulatorState, clock: FakeClock
) -> None:
    first = str(_tokens(state)["refresh_token"])
    rotated, was_rotated = state.refresh(DEV_CLIENT_ID, first, ISSUER)
    assert was_rotated
    clock.now += 10
    assert state.refresh(DEV_CLIENT_ID, first, ISSUER) == (rotated, False)
    clock.now += 25  # 35 s after the rotation
    with pytest.raises(OAuthError, match="invalid_grant"):
        state.refresh(DEV_CLIENT_ID, first, ISSUER)
    with pytest.raises(OAuthError, match="invalid_grant"):
        state.refresh(DEV_CLIENT_ID, str(rotated["refresh_token"]), ISSUER)
    assert state.counters.chain_breaks_by_cause == {"reuse_after_grace": 1}


def test_refresh_by_another_client_is_invalid_grant(state: EmulatorState) -> None:
    first = str(_tokens(state)["refresh_token"])
    with pytest.raises(OAuthError, match="invalid_grant"):
        state.refresh("someone-else", first, ISSUER)


def test_rate_window_resets(state: EmulatorState, clock: FakeClock) -> None:
    state.update_settings(rate_limit=2, rate_window=10)
    results = [state.take_rate_limit("app:c")[0] for _ in range(3)]
    assert results == [True, True, False]
    clock.now += 10
    allowed, headers = state.take_rate_limit("app:c")
    assert allowed
    assert headers["X-RateLimit-Remaining"] == "1"


def test_codes_from_reset_state_are_gone(state: EmulatorState) -> None:
    session, _ = state.issue_session_token(creator_uuid("luna.rivers"))
    body = {"code_challenge": s256(VERIFIER), "code_challenge_method": "S256", "state": "s"}
    code = state.authorize_on_behalf(session, body)["code"]
    state.reset()
    form = {"code": code, "redirect_uri": DEV_REDIRECT_URI, "code_verifier": VERIFIER}
    with pytest.raises(OAuthError, match="invalid_grant"):
        state.exchange_code(DEV_CLIENT_ID, form, ISSUER)
