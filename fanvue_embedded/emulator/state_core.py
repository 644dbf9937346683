"""What the emulator's rule sets share: errors, the app registration, settings, and the
attributes each rule set reads (declared once here, kept by ``EmulatorState``)."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from .config import EmulatorConfig
from .records import AuthorizationCode, Chain, Counters, Creator, RefreshRecord

OFFLINE_SCOPES = frozenset({"offline_access", "offline"})


class OAuthError(Exception):
    """A rule said no: becomes ``{"error", "error_description"}`` with ``status``."""

    def __init__(
        self,
        status: int,
        error: str,
        description: str,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(f"{error}: {description}")
        self.status = status
        self.error = error
        self.description = description
        self.headers = headers or {}

    def body(self) -> dict[str, str]:
        return {"error": self.error, "error_description": self.description}


def _invalid_grant(description: str) -> OAuthError:
    return OAuthError(400, "invalid_grant", description)


@dataclass
class AppRegistration:
    client_id: str
    client_secret: str
    redirect_uris: tuple[str, ...]
    scopes: tuple[str, ...]
    app_url: str | None
    webhook_url: str | None
    webhook_secret: str
    # The event types the Developer Area endpoint is subscribed to; None: all of them.
    webhook_events: tuple[str, ...] | None = None

    def public_view(self) -> dict[str, Any]:
        return {
            "client_id": self.client_id,
            "client_secret": "********",  # never returned: write-only, like Fanvue's console
            "redirect_uris": list(self.redirect_uris),
            "scopes": list(self.scopes),
            "app_url": self.app_url,
            "webhook_url": self.webhook_url,
            "webhook_events": None if self.webhook_events is None else list(self.webhook_events),
        }


@dataclass
class Settings:
    grace_seconds: float
    rotation_mode: str
    access_token_ttl: int
    refresh_token_ttl: int
    session_token_ttl: int
    code_ttl: int
    rate_limit: int
    rate_window: int
    standard_flow_creator: str | None
    api_versions: tuple[str, ...]
    retired_api_versions: tuple[str, ...]
    upload_ready_seconds: float = 2.0
    standard_flow_decision: str = "approve"
    # Webhooks from the emulator's state: retries after the first attempt, first backoff (s).
    webhook_retries: int = 2
    webhook_backoff: float = 0.5

    def view(self) -> dict[str, Any]:
        view = dict(self.__dict__)
        view["api_versions"] = list(self.api_versions)
        view["retired_api_versions"] = list(self.retired_api_versions)
        return view


WEBHOOK_HISTORY = 50


class StateCore:
    """The attributes and clock every rule set uses; ``EmulatorState`` initialises them."""

    config: EmulatorConfig
    _lock: threading.RLock
    offset: float
    app: AppRegistration
    settings: Settings
    creators: dict[str, Creator]
    used_session_tokens: set[str]
    codes: dict[str, AuthorizationCode]
    chains: dict[str, Chain]
    refresh_tokens: dict[str, RefreshRecord]
    access_jtis: dict[str, set[str]]
    revoked_jtis: set[str]
    rate_windows: dict[str, tuple[float, int]]
    counters: Counters

    def now(self) -> float:
        return self.config.clock() + self.offset

    def _kill_chain(self, chain: Chain, cause: str) -> None:
        chain.alive = False
        chain.cause = cause
        self.counters.chain_breaks += 1
        by_cause = self.counters.chain_breaks_by_cause
        by_cause[cause] = by_cause.get(cause, 0) + 1

    def _new_code(
        self, creator: str, challenge: str, scopes: tuple[str, ...], redirect_uri: str | None
    ) -> str:
        from . import tokens

        code = tokens.new_code()
        self.codes[code] = AuthorizationCode(
            code=code,
            creator=creator,
            client_id=self.app.client_id,
            challenge=challenge,
            scopes=scopes,
            redirect_uri=redirect_uri,
            expires_at=self.now() + self.settings.code_ttl,
        )
        return code
