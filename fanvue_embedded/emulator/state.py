"""The emulator's whole state in memory, and Fanvue's rules over it, without HTTP.

Split by concern: ``state_platform`` (session tokens, authorize-on-behalf), ``state_auth`` (the
Hydra authorization server and access-token checks), the API world (``world/``, one
``Worlds`` registry) and, here, creators, consent, rate-limit buckets and control helpers.

Routes translate requests into calls here and ``OAuthError`` back into responses, so every
rule can be tested directly. Each public method holds one re-entrant lock for its whole body
and never awaits, so concurrent requests (and tests poking the state from another thread
while uvicorn serves) see each change whole.
"""

from __future__ import annotations

import math
import secrets
import threading
import uuid
from dataclasses import replace
from typing import Any

from .config import BASE_SCOPES, EmulatorConfig
from .faults import Faults
from .records import (
    AuthorizationCode,
    Chain,
    Counters,
    Creator,
    RefreshRecord,
    WebhookSubscription,
    creator_uuid,
)
from .state_auth import AuthServerRules
from .state_core import WEBHOOK_HISTORY, AppRegistration, OAuthError, Settings
from .state_platform import PlatformRules
from .world.model import Owner
from .world.registry import Worlds

__all__ = ["AppRegistration", "EmulatorState", "OAuthError", "Settings"]

SEED_CREATORS = (
    ("luna.rivers", "Luna Rivers", True),
    ("max.stone", "Max Stone", False),
)


class EmulatorState(PlatformRules, AuthServerRules):
    """Creators, consents, codes, token chains, rate windows, faults and counters."""

    def __init__(self, config: EmulatorConfig) -> None:
        self.config = config
        self._lock = threading.RLock()
        self.faults = Faults(seed=config.seed)
        # One registry for the emulator's life (routes hold it); reset empties it.
        self.worlds = Worlds(config.seed, self.now, self._owner)
        self._initialise()

    def _initialise(self) -> None:
        config = self.config
        self.offset = 0.0
        # Newest first, bounded: what the dashboard's webhook history shows.
        self.webhook_deliveries: list[dict[str, Any]] = []
        self.webhook_subscriptions: dict[str, WebhookSubscription] = {}
        self.app = AppRegistration(
            client_id=config.client_id,
            client_secret=config.client_secret,
            redirect_uris=tuple(config.redirect_uris),
            scopes=tuple(dict.fromkeys((*BASE_SCOPES, *config.scopes))),
            app_url=config.app_url,
            webhook_url=config.webhook_url,
            webhook_secret=config.webhook_secret,
        )
        self.creators: dict[str, Creator] = {}
        if config.seed_creators:
            for handle, display_name, consent in SEED_CREATORS:
                self._add_creator(handle, display_name, consent)
        self.settings = Settings(
            grace_seconds=config.grace_seconds,
            rotation_mode=config.rotation_mode,
            access_token_ttl=config.access_token_ttl,
            refresh_token_ttl=config.refresh_token_ttl,
            session_token_ttl=config.session_token_ttl,
            code_ttl=config.code_ttl,
            rate_limit=config.rate_limit,
            rate_window=config.rate_window,
            standard_flow_creator=creator_uuid("luna.rivers") if config.seed_creators else None,
            api_versions=tuple(config.api_versions),
            retired_api_versions=tuple(config.sunset_versions),
        )
        self.worlds.reset()
        self.used_session_tokens: set[str] = set()
        self.codes: dict[str, AuthorizationCode] = {}
        self.chains: dict[str, Chain] = {}
        self.refresh_tokens: dict[str, RefreshRecord] = {}
        self.access_jtis: dict[str, set[str]] = {}
        self.revoked_jtis: set[str] = set()
        self.rate_windows: dict[str, tuple[float, int]] = {}
        self.counters = Counters()

    def reset(self) -> None:
        """Everything back to the start-up state (registration from the config again)."""
        with self._lock:
            self._initialise()
            self.faults.reset()

    # -- clock ---------------------------------------------------------------------------

    def advance_clock(self, seconds: float) -> None:
        with self._lock:
            self.offset += seconds

    # -- creators and consent ------------------------------------------------------------

    def _add_creator(self, handle: str, display_name: str, consent: bool) -> Creator:
        creator = Creator(
            uuid=creator_uuid(handle),
            handle=handle,
            display_name=display_name,
            email=f"{handle.split('.')[0]}@example.test",
            consent=consent,
        )
        self.creators[creator.uuid] = creator
        return creator

    def add_creator(self, handle: str, display_name: str | None, consent: bool) -> Creator:
        with self._lock:
            if self.find_creator(handle) is not None:
                raise ValueError(f"creator {handle!r} exists")
            return self._add_creator(handle, display_name or handle, consent)

    def _owner(self, user_uuid: str) -> Owner | None:
        found = self.creators.get(user_uuid)
        if found is None:
            return None
        return Owner(found.uuid, found.handle, found.display_name, found.email, found.is_creator)

    def find_creator(self, ref: str) -> Creator | None:
        """By uuid or by handle."""
        with self._lock:
            if ref in self.creators:
                return self.creators[ref]
            return next((c for c in self.creators.values() if c.handle == ref), None)

    def set_consent(self, creator: str, granted: bool) -> Creator:
        with self._lock:
            found = self.creators[creator]
            found.consent = granted
            if not granted:
                for chain in self.chains.values():
                    if chain.creator == creator and chain.alive:
                        self._kill_chain(chain, "consent_revoked")
            return found

    # -- the API: rate-limit buckets (the world itself is ``self.worlds``) -----------------

    def take_rate_limit(self, bucket: str) -> tuple[bool, dict[str, str]]:
        """Take one token from ``bucket`` (``clientId:userUuid[:creatorUserUuid]``).

        The bucket refills fully every ``rate_window`` seconds, as Fanvue documents; the
        result says whether the call may go ahead, plus the headers for its response.
        """
        with self._lock:
            now = self.now()
            limit, window = self.settings.rate_limit, self.settings.rate_window
            start, count = self.rate_windows.get(bucket, (now, 0))
            if now >= start + window:
                start, count = now, 0
            allowed = count < limit
            if allowed:
                count += 1
            self.rate_windows[bucket] = (start, count)
            reset = start + window
            headers = {
                "X-RateLimit-Limit": str(limit),
                "X-RateLimit-Remaining": str(max(limit - count, 0)),
                "X-RateLimit-Reset": str(math.ceil(reset)),
            }
            if not allowed:
                self.counters.rate_limited += 1
                headers["Retry-After"] = str(max(math.ceil(reset - now), 1))
            return allowed, headers

    # -- control helpers -----------------------------------------------------------------

    def update_app(self, **changes: Any) -> AppRegistration:
        with self._lock:
            self.app = replace(self.app, **changes)
            return self.app

    def update_settings(self, **changes: Any) -> Settings:
        with self._lock:
            self.settings = replace(self.settings, **changes)
            return self.settings

    def count_call(self, key: str) -> None:
        with self._lock:
            calls = self.counters.calls
            calls[key] = calls.get(key, 0) + 1

    def record_webhook_delivery(self, delivery: dict[str, Any]) -> None:
        with self._lock:
            self.webhook_deliveries.insert(0, delivery)
            del self.webhook_deliveries[WEBHOOK_HISTORY:]

    # -- webhook subscriptions created through the API -----------------------------------

    def add_webhook_subscription(
        self, client_id: str, creator: str, url: str, events: tuple[str, ...]
    ) -> WebhookSubscription:
        """A new subscription with a fresh signing secret (the API shows it once)."""
        with self._lock:
            subscription = WebhookSubscription(
                uuid=str(uuid.uuid4()),
                client_id=client_id,
                creator=creator,
                url=url,
                events=events,
                signing_secret=secrets.token_urlsafe(32),
                created_at=self.now(),
            )
            self.webhook_subscriptions[subscription.uuid] = subscription
            return subscription

    def webhook_subscriptions_for(
        self, creator: str, client_id: str | None = None
    ) -> list[WebhookSubscription]:
        """The creator's subscriptions (only those ``client_id`` created, if given), oldest
        first."""
        with self._lock:
            return [
                s
                for s in self.webhook_subscriptions.values()
                if s.creator == creator and client_id in (None, s.client_id)
            ]

    def delete_webhook_subscription(self, subscription: str) -> bool:
        with self._lock:
            return self.webhook_subscriptions.pop(subscription, None) is not None

    def reset_counters(self) -> None:
        with self._lock:
            self.counters = Counters()

    def bump(self, counter: str) -> None:
        """Add one to a plain integer counter."""
        with self._lock:
            setattr(self.counters, counter, getattr(self.counters, counter) + 1)
