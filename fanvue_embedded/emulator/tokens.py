"""Token formats: HS256 JWTs for session/access/id tokens, opaque refresh tokens and codes.

Written with the standard library only: the emulator must not share code with the client
side, so a bug there cannot be mirrored here.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
import secrets
from typing import Any

_B64URL_43 = re.compile(r"^[A-Za-z0-9_-]{43}$")
_VERIFIER = re.compile(r"^[A-Za-z0-9\-._~]{43,128}$")


def b64url_encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    padded = text + "=" * (-len(text) % 4)
    return base64.urlsafe_b64decode(padded.encode("ascii"))


def s256(verifier: str) -> str:
    """RFC 7636 S256: base64url(sha256(ascii(verifier))) without padding."""
    return b64url_encode(hashlib.sha256(verifier.encode("ascii")).digest())


def is_s256_challenge(value: object) -> bool:
    return isinstance(value, str) and _B64URL_43.match(value) is not None


def is_code_verifier(value: object) -> bool:
    return isinstance(value, str) and _VERIFIER.match(value) is not None


def new_refresh_token() -> str:
    return "ory_rt_" + secrets.token_urlsafe(32)


def new_code() -> str:
    return "ory_ac_" + secrets.token_urlsafe(32)


def new_jti() -> str:
    return secrets.token_hex(16)


def sign_jwt(key: bytes, claims: dict[str, Any]) -> str:
    header = b64url_encode(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    payload = b64url_encode(json.dumps(claims, separators=(",", ":")).encode())
    signing_input = f"{header}.{payload}".encode("ascii")
    signature = hmac.new(key, signing_input, hashlib.sha256).digest()
    return f"{header}.{payload}.{b64url_encode(signature)}"


class JWTError(ValueError):
    """The token is not a JWT we issued (``reason`` says why, for error descriptions)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def verify_jwt(key: bytes, token: str) -> dict[str, Any]:
    """Check format and signature; return the claims. Expiry is the caller's business."""
    parts = token.split(".")
    if len(parts) != 3:
        raise JWTError("malformed token")
    header_b64, payload_b64, signature_b64 = parts
    try:
        header = json.loads(b64url_decode(header_b64))
        signature = b64url_decode(signature_b64)
        claims = json.loads(b64url_decode(payload_b64))
    except (ValueError, binascii.Error, UnicodeError) as exc:
        raise JWTError("malformed token") from exc
    if not isinstance(header, dict) or header.get("alg") != "HS256":
        raise JWTError("unsupported token algorithm")
    expected = hmac.new(key, f"{header_b64}.{payload_b64}".encode("ascii"), hashlib.sha256)
    if not hmac.compare_digest(expected.digest(), signature):
        raise JWTError("bad signature")
    if not isinstance(claims, dict):
        raise JWTError("malformed token")
    return claims
