"""Access tokens for client tests (the real embedded flow against the emulator) and the
emulator's count of Fanvue API calls."""

from __future__ import annotations

from collections.abc import Sequence

from fanvue_embedded._devdefaults import DEV_CLIENT_ID, DEV_CLIENT_SECRET, DEV_REDIRECT_URI
from fanvue_embedded.oauth import OAuthClient
from fanvue_embedded.pkce import code_challenge_s256, generate_code_verifier, generate_state
from fanvue_embedded.platform import PlatformClient
from fanvue_embedded.spec import load_spec
from tests.support.emulator import EmulatorHandle

ALL_SCOPES: tuple[str, ...] = tuple(sorted({scope for op in load_spec() for scope in op.scopes}))
"""Every scope some Fanvue operation needs."""


async def access_token(
    emulator: EmulatorHandle,
    creator: str = "luna.rivers",
    scopes: Sequence[str] = ALL_SCOPES,
) -> str:
    """An access token for ``creator`` holding ``scopes`` (the app is registered for them)."""
    emulator.control("PATCH", "/app", json={"scopes": list(scopes)})
    platform = PlatformClient(platform_url=emulator.base_url)
    oauth = OAuthClient(
        client_id=DEV_CLIENT_ID,
        client_secret=DEV_CLIENT_SECRET,
        issuer_base_url=emulator.base_url,
        redirect_uri=DEV_REDIRECT_URI,
        scopes=tuple(scopes),
    )
    try:
        verifier = generate_code_verifier()
        code = await platform.authorize_on_behalf(
            emulator.session_token(creator), code_challenge_s256(verifier), generate_state()
        )
        tokens = await oauth.exchange_code(code, verifier)
    finally:
        await platform.aclose()
        await oauth.aclose()
    return tokens.access_token


def api_calls(emulator: EmulatorHandle) -> int:
    """How many Fanvue API calls (not control or OAuth calls) the emulator has served."""
    calls: dict[str, int] = emulator.counters().get("calls", {})
    return sum(
        count
        for name, count in calls.items()
        if not name.split(" ", 1)[-1].startswith(("/_emulator", "/oauth2", "/api/v1/"))
    )
