"""Fanvue's webhook signature: sign (senders) and verify (receivers), nothing else.

::

    X-Fanvue-Signature: t=<unix seconds>,v0=<hex HMAC-SHA256 of "{t}.{raw body}">

Several ``v0`` entries may appear (a sender mid-rotation signs with each of its secrets), and
a receiver may hold several secrets: the app-wide ones (rotation) and one per webhook
subscription created through the API (``subscriptions.py``).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from collections.abc import Sequence

from ..errors import WebhookVerificationError

__all__ = [
    "DEFAULT_TOLERANCE",
    "SIGNATURE_HEADER",
    "parse_signature_header",
    "sign",
    "verify_signature",
]

SIGNATURE_HEADER = "X-Fanvue-Signature"
DEFAULT_TOLERANCE = 300  # Fanvue's suggested window (5 minutes)

# Bounds on what we parse before any HMAC work, so a hostile header costs nothing.
_MAX_HEADER_LENGTH = 2048
_MAX_SIGNATURES = 8
_TIMESTAMP = re.compile(r"[0-9]{1,12}")
_HEX_SHA256 = re.compile(r"[0-9a-fA-F]{64}")
_ITEM_KEY = re.compile(r"[a-z][a-z0-9_]{0,15}")


def _mac(secret: str, timestamp: int, body: bytes) -> str:
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def sign(body: bytes, secret: str, timestamp: int) -> str:
    """The ``X-Fanvue-Signature`` value for ``body`` sent at ``timestamp`` (for senders)."""
    return f"t={timestamp},v0={_mac(secret, timestamp, body)}"


def parse_signature_header(header: str | None) -> tuple[int, list[str]]:
    """``t`` and the ``v0`` digests of a header; ``WebhookVerificationError`` otherwise.

    Strict: ``key=value`` items split by commas, exactly one ``t`` (decimal seconds), 1-8
    ``v0`` (64 hex digits). Other lowercase keys are ignored so that a future scheme
    (``v1=...``) sent alongside ``v0`` does not break us.
    """
    if not header:
        raise WebhookVerificationError("no signature header", code="missing_signature")
    if len(header) > _MAX_HEADER_LENGTH:
        raise WebhookVerificationError("signature header too long", code="malformed_signature")
    timestamp: int | None = None
    digests: list[str] = []
    for item in header.split(","):
        key, sep, value = item.strip().partition("=")
        if not sep or not _ITEM_KEY.fullmatch(key):
            raise WebhookVerificationError("malformed signature item", code="malformed_signature")
        if key == "t":
            if timestamp is not None or not _TIMESTAMP.fullmatch(value):
                raise WebhookVerificationError("malformed timestamp", code="malformed_signature")
            timestamp = int(value)
        elif key == "v0":
            if not _HEX_SHA256.fullmatch(value):
                raise WebhookVerificationError("malformed v0 digest", code="malformed_signature")
            digests.append(value.lower())
    if timestamp is None or not digests or len(digests) > _MAX_SIGNATURES:
        raise WebhookVerificationError(
            "signature needs one t and 1-8 v0 items", code="malformed_signature"
        )
    return timestamp, digests


def verify_signature(
    body: bytes,
    header: str | None,
    secrets: Sequence[str],
    *,
    tolerance: float = DEFAULT_TOLERANCE,
    now: float | None = None,
) -> int:
    """Check ``header`` against the raw ``body``; return the signed timestamp.

    Accepts when any ``v0`` matches the HMAC under any of ``secrets`` (constant-time compare)
    and ``t`` is within ``tolerance`` seconds of ``now`` in either direction (a clock far in the
    future is as suspicious as a replay from the past). Raises ``WebhookVerificationError``
    with ``code`` ``missing_signature``, ``malformed_signature``, ``signature_mismatch`` or
    ``timestamp_out_of_tolerance``; the messages never include the expected digest.
    """
    if not secrets:
        raise ValueError("no webhook secret configured (FANVUE_WEBHOOK_SECRET)")
    timestamp, digests = parse_signature_header(header)
    matched = False
    for secret in secrets:
        expected = _mac(secret, timestamp, body)
        for digest in digests:
            # No early exit: the time taken doesn't depend on which entry matched.
            matched |= hmac.compare_digest(expected, digest)
    if not matched:
        raise WebhookVerificationError("signature does not match", code="signature_mismatch")
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance:
        raise WebhookVerificationError(
            "timestamp outside the tolerance window", code="timestamp_out_of_tolerance"
        )
    return timestamp
