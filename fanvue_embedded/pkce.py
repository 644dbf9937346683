"""PKCE (RFC 7636, S256 only) and ``state`` generation.

Plain PKCE is deliberately absent: Fanvue rejects it and it protects nothing.
"""

from __future__ import annotations

import re
import secrets

from authlib.oauth2.rfc7636 import create_s256_code_challenge

__all__ = [
    "code_challenge_s256",
    "generate_code_verifier",
    "generate_state",
    "validate_code_verifier",
]

# RFC 7636 §4.1: 43..128 characters of [A-Z] / [a-z] / [0-9] / "-" / "." / "_" / "~".
_VERIFIER = re.compile(r"^[A-Za-z0-9\-._~]{43,128}$")


def generate_code_verifier(length: int = 64) -> str:
    """A fresh high-entropy verifier of ``length`` characters (43..128)."""
    if not 43 <= length <= 128:
        raise ValueError(f"PKCE verifier length must be 43..128, got {length}")
    # token_urlsafe yields ~1.3 characters per byte, all within the unreserved set.
    return secrets.token_urlsafe(length)[:length]


def validate_code_verifier(verifier: str) -> str:
    if not _VERIFIER.match(verifier):
        raise ValueError("PKCE verifier must be 43..128 characters of A-Z a-z 0-9 - . _ ~")
    return verifier


def code_challenge_s256(verifier: str) -> str:
    """BASE64URL(SHA256(ASCII(verifier))) without padding."""
    return str(create_s256_code_challenge(validate_code_verifier(verifier)))


def generate_state() -> str:
    """An unguessable ``state`` value (256 bits)."""
    return secrets.token_urlsafe(32)
