"""The embedded flow's first steps against the emulator, for tests of the protocol clients."""

from __future__ import annotations

from fanvue_embedded.oauth import OAuthClient
from fanvue_embedded.pkce import code_challenge_s256, generate_code_verifier, generate_state
from fanvue_embedded.platform import PlatformClient

from .emulator import EmulatorHandle

SCOPES = ("read:self", "read:fan", "read:chat")


async def authorize(
    emulator: EmulatorHandle, platform: PlatformClient, creator: str = "luna.rivers"
) -> tuple[str, str]:
    """A fresh authorize-on-behalf code for ``creator`` and its PKCE verifier."""
    verifier = generate_code_verifier()
    code = await platform.authorize_on_behalf(
        emulator.session_token(creator), code_challenge_s256(verifier), generate_state()
    )
    return code, verifier


async def fresh_tokens(
    emulator: EmulatorHandle,
    oauth: OAuthClient,
    platform: PlatformClient,
    creator: str = "luna.rivers",
) -> tuple[str, str]:
    """An access token and a refresh token for ``creator``, straight from a code exchange."""
    code, verifier = await authorize(emulator, platform, creator)
    tokens = await oauth.exchange_code(code, verifier)
    assert tokens.refresh_token
    return tokens.access_token, tokens.refresh_token
