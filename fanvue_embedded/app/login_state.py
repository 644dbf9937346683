"""The standard flow's login state, sealed into a cookie instead of the store.

``/oauth/login`` needs to remember the ``state`` and the PKCE verifier until the callback.
Keeping them server-side would let every unauthenticated request write to Redis; instead they
travel in a short-lived cookie sealed with AES-256-GCM under a key derived from
``SESSION_SECRET``: unreadable and unforgeable by the browser, bound to the browser that
started the login (only it holds the cookie), valid for ``LOGIN_TTL`` seconds (checked against
the sealed expiry, not just the cookie's Max-Age).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

__all__ = ["LOGIN_TTL", "LoginState", "open_login_state", "seal_login_state"]

LOGIN_TTL = 600.0
_PURPOSE = b"fanvue-embedded/oauth-login/v1"
_NONCE_BYTES = 12
_MAX_COOKIE = 1024


@dataclass(frozen=True, slots=True)
class LoginState:
    """What the callback needs: the ``state`` to match and the PKCE ``verifier``."""

    state: str
    verifier: str = field(repr=False)
    expires_at: float


def _key(session_secret: str) -> bytes:
    # Derived, so this key is never the session-signing or CSRF key (see sessions.py).
    return hmac.new(session_secret.encode(), _PURPOSE, hashlib.sha256).digest()


def seal_login_state(login: LoginState, session_secret: str) -> str:
    """The cookie value: base64url(nonce | AES-GCM(JSON)), bound to this purpose."""
    plaintext = json.dumps(
        {"s": login.state, "v": login.verifier, "x": login.expires_at}, separators=(",", ":")
    ).encode()
    nonce = os.urandom(_NONCE_BYTES)
    sealed = AESGCM(_key(session_secret)).encrypt(nonce, plaintext, _PURPOSE)
    return base64.urlsafe_b64encode(nonce + sealed).rstrip(b"=").decode("ascii")


def open_login_state(value: str, session_secret: str, now: float) -> LoginState | None:
    """The login state sealed in ``value``; None when it is forged, damaged or expired."""
    if not value or len(value) > _MAX_COOKIE:
        return None
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
        plaintext = AESGCM(_key(session_secret)).decrypt(
            raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], _PURPOSE
        )
        data = json.loads(plaintext)
    except (binascii.Error, ValueError, InvalidTag):
        return None
    if not (
        isinstance(data, dict)
        and isinstance(data.get("s"), str)
        and isinstance(data.get("v"), str)
        and isinstance(data.get("x"), int | float)
    ):
        return None
    if data["x"] <= now:
        return None
    return LoginState(state=data["s"], verifier=data["v"], expires_at=float(data["x"]))
