"""The plaintext layout of a stored token set (what is encrypted), and back.

The stored token set omits the ``id_token``: it is only needed at sign-in and is not kept.
"""

from __future__ import annotations

import base64
import binascii
import json
import zlib

from ..errors import StoreError
from ..models import TokenSet

__all__ = ["deserialize", "serialize"]

# Plaintext format 1: tag byte + raw DEFLATE of compact JSON (TokenSet.to_dict minus the
# id_token). A JWT access token is stored as its decoded header and payload JSON plus the
# signature segment, rebuilt byte for byte on load: base64 hides the JSON's redundancy from
# DEFLATE, and this is what keeps a creator under 1 KiB of Redis memory. (Compressing before
# encrypting is safe here: nothing an attacker chooses is compressed next to the secrets.)
_PLAINTEXT_FORMAT = b"\x01"
_MAX_PLAINTEXT = 64 * 1024


def serialize(tokens: TokenSet) -> bytes:
    """The plaintext the store encrypts for ``tokens`` (format 1, without the id_token)."""
    data = tokens.to_dict()
    data.pop("i", None)  # the id_token is not kept (see the module docstring)
    parts = _jwt_parts(data["a"])
    if parts is not None:
        del data["a"]
        data["h"], data["p"], data["g"] = parts
    # A 4 KiB window and memLevel 4: a token set is about 1 KiB, so the output is the same
    # as with zlib's defaults, and setting up the compressor costs a seventh (15 µs, not
    # 100). Raw DEFLATE with any window up to 32 KiB reads back with -15 below.
    packer = zlib.compressobj(9, zlib.DEFLATED, -12, 4)
    raw = json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    return _PLAINTEXT_FORMAT + packer.compress(raw) + packer.flush()


def deserialize(plaintext: bytes) -> TokenSet:
    """The token set back from :func:`serialize`; ``StoreError`` when it is not one."""
    if plaintext[:1] != _PLAINTEXT_FORMAT:
        raise StoreError("stored token set has an unknown format")
    try:
        unpacker = zlib.decompressobj(-15)
        raw = unpacker.decompress(plaintext[1:], _MAX_PLAINTEXT)
        if unpacker.unconsumed_tail or not unpacker.eof:
            raise ValueError("truncated or oversized")
        data = json.loads(raw)
        if "h" in data:
            data["a"] = ".".join((_b64(data["h"].encode()), _b64(data["p"].encode()), data["g"]))
        return TokenSet.from_dict(data)
    except (zlib.error, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise StoreError("stored token set is malformed") from exc


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def _jwt_parts(token: str) -> tuple[str, str, str] | None:
    """(header JSON, payload JSON, signature segment) if ``token`` is a JWS compact token whose
    first two segments round-trip exactly; None means "store the token as it is"."""
    segments = token.split(".")
    if len(segments) != 3:
        return None
    decoded: list[str] = []
    for segment in segments[:2]:
        try:
            raw = base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
            text = raw.decode("utf-8")
        except (binascii.Error, ValueError):
            return None
        if _b64(raw) != segment:  # non-canonical or stray characters: keep the original
            return None
        decoded.append(text)
    return decoded[0], decoded[1], segments[2]
