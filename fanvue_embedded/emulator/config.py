"""The emulator's start-up configuration (the registered app and the default rules)."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from fanvue_embedded._devdefaults import (
    DEV_CLIENT_ID,
    DEV_CLIENT_SECRET,
    DEV_REDIRECT_URI,
    DEV_SCOPES,
    DEV_WEBHOOK_SECRET,
)

BASE_SCOPES = ("openid", "offline_access", "offline")
"""Scopes every client requests; always part of the registration."""

ROTATION_MODES = ("replay", "new-pair")
THIRTY_DAYS = 30 * 24 * 3600


def _random_signing_key() -> bytes:
    return secrets.token_bytes(32)


@dataclass(frozen=True)
class EmulatorConfig:
    """Everything the emulator starts with; all defaults are the public dev values.

    ``clock`` is the wall clock the emulator reads; the control API adds an offset to it
    (``POST /_emulator/clock``) so tests can jump past expiries without sleeping.
    """

    client_id: str = DEV_CLIENT_ID
    client_secret: str = field(default=DEV_CLIENT_SECRET, repr=False)
    redirect_uris: tuple[str, ...] = (DEV_REDIRECT_URI,)
    scopes: tuple[str, ...] = (*BASE_SCOPES, *DEV_SCOPES)
    grace_seconds: float = 30.0
    rotation_mode: str = "replay"
    access_token_ttl: int = 3600
    refresh_token_ttl: int = THIRTY_DAYS
    session_token_ttl: int = 60
    code_ttl: int = 60
    rate_limit: int = 200
    rate_window: int = 60
    api_versions: tuple[str, ...] = ("2025-06-26",)
    sunset_versions: tuple[str, ...] = ("2024-01-01",)
    issuer: str | None = None
    # Host names (besides loopback and the issuer's) and page origins (besides its own and
    # the issuer's) the emulator answers: see guard.py.
    allowed_hosts: tuple[str, ...] = ()
    allowed_origins: tuple[str, ...] = ()
    app_url: str | None = None
    webhook_url: str | None = None
    webhook_secret: str = field(default=DEV_WEBHOOK_SECRET, repr=False)
    signing_key: bytes = field(default_factory=_random_signing_key, repr=False)
    seed_creators: bool = True
    seed: int | None = None
    drop_hold_seconds: float = 300.0
    clock: Callable[[], float] = time.time

    def __post_init__(self) -> None:
        if self.rotation_mode not in ROTATION_MODES:
            raise ValueError(f"rotation_mode must be one of {ROTATION_MODES}")
        if not self.redirect_uris:
            raise ValueError("redirect_uris must not be empty")
        if not self.client_id or not self.client_secret:
            raise ValueError("client_id and client_secret must not be empty")
