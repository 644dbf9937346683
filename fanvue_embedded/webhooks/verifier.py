"""Verify a delivery against every secret that applies: the app-wide ones, then the signing
secrets of the webhook subscriptions created through the API for the creator it concerns."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from ..errors import WebhookVerificationError
from .secrets import SubscriptionSecrets
from .signature import DEFAULT_TOLERANCE, verify_signature

__all__ = ["signing_creator", "verify_delivery"]


def signing_creator(body: bytes) -> str | None:
    """The creator a (not yet verified) body concerns: ``recipientUuid`` of a platform event,
    ``data.creator.uuid`` of an envelope; None otherwise. Used only to pick secrets."""
    try:
        payload: Any = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None
    if not isinstance(payload, dict):
        return None
    candidate = payload.get("recipientUuid")
    data = payload.get("data")
    if candidate is None and isinstance(data, dict):
        creator = data.get("creator")
        candidate = creator.get("uuid") if isinstance(creator, dict) else None
    return candidate if isinstance(candidate, str) and 0 < len(candidate) <= 64 else None


async def verify_delivery(
    body: bytes,
    header: str | None,
    app_secrets: Sequence[str],
    subscription_secrets: SubscriptionSecrets | None = None,
    *,
    tolerance: float = DEFAULT_TOLERANCE,
    now: float | None = None,
) -> int:
    """The signed timestamp, if any applicable secret signed ``body``; else
    ``WebhookVerificationError`` (see :func:`verify_signature`).

    The app-wide secrets are tried first (no lookup); only a signature that matches none of
    them costs a read of the creator's subscription secrets. ``StoreUnavailable`` if that read
    fails (answer 503: the sender retries).
    """
    try:
        return verify_signature(body, header, app_secrets, tolerance=tolerance, now=now)
    except WebhookVerificationError as exc:
        if exc.code != "signature_mismatch" or subscription_secrets is None:
            raise
        creator = signing_creator(body)
        if creator is None:
            raise
        secrets = await subscription_secrets.secrets_for(creator)
        if not secrets:
            raise
        return verify_signature(body, header, secrets, tolerance=tolerance, now=now)
