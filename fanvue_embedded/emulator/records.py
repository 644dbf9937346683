"""The in-memory records the emulator keeps (creators, codes, token chains, counters)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

CREATOR_NAMESPACE = uuid.UUID("6f1d3c1e-2b7a-4a57-9a40-5c1f3f0e8e11")


def creator_uuid(handle: str) -> str:
    """Deterministic so tests can predict a creator's id from its handle."""
    return str(uuid.uuid5(CREATOR_NAMESPACE, handle))


@dataclass
class Creator:
    uuid: str
    handle: str
    display_name: str
    email: str
    is_creator: bool = True
    consent: bool = False

    def profile(self) -> dict[str, Any]:
        """The ``GET /users/me`` body."""
        return {
            "uuid": self.uuid,
            "handle": self.handle,
            "displayName": self.display_name,
            "email": self.email,
            "isCreator": self.is_creator,
            "avatarUrl": f"https://avatars.emulator.test/{self.handle}.png",
        }

    def control_view(self) -> dict[str, Any]:
        return {**self.profile(), "consent": self.consent}


@dataclass
class WebhookSubscription:
    """One subscription created through ``POST /webhooks/subscriptions`` for a creator."""

    uuid: str
    client_id: str
    creator: str
    url: str
    events: tuple[str, ...]
    signing_secret: str = field(repr=False)
    created_at: float = 0.0

    def api_view(self) -> dict[str, Any]:
        """What the API returns (ASSUMED fields: Fanvue documents only ``signingSecret``)."""
        return {"uuid": self.uuid, "url": self.url, "events": list(self.events)}

    def control_view(self) -> dict[str, Any]:
        return {
            **self.api_view(),
            "creator": self.creator,
            "clientId": self.client_id,
            "createdAt": self.created_at,
        }


@dataclass
class AuthorizationCode:
    code: str
    creator: str
    client_id: str
    challenge: str
    scopes: tuple[str, ...]
    redirect_uri: str | None  # None: issued by authorize-on-behalf, any registered URI is fine
    expires_at: float
    used: bool = False


@dataclass
class Chain:
    """One grant's line of refresh tokens; killing it kills every token in it."""

    id: str
    creator: str
    client_id: str
    scopes: tuple[str, ...]
    alive: bool = True
    cause: str | None = None
    current: str | None = None


@dataclass
class RefreshRecord:
    token: str
    chain_id: str
    expires_at: float
    used_at: float | None = None
    # The response that rotated this token away: replayed on a reuse inside the grace window.
    first_response: dict[str, Any] | None = None


@dataclass
class Counters:
    refresh_requests: int = 0
    rotations: int = 0
    grace_reuses: int = 0
    chain_breaks: int = 0
    chain_breaks_by_cause: dict[str, int] = field(default_factory=dict)
    code_exchanges: int = 0
    authorize_on_behalf: int = 0
    invalid_client: int = 0
    rate_limited: int = 0
    dropped_responses: int = 0
    concurrent_rejections: int = 0
    calls: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "refresh_requests": self.refresh_requests,
            "rotations": self.rotations,
            "grace_reuses": self.grace_reuses,
            "chain_breaks": self.chain_breaks,
            "chain_breaks_by_cause": dict(self.chain_breaks_by_cause),
            "code_exchanges": self.code_exchanges,
            "authorize_on_behalf": self.authorize_on_behalf,
            "invalid_client": self.invalid_client,
            "rate_limited": self.rate_limited,
            "dropped_responses": self.dropped_responses,
            "concurrent_rejections": self.concurrent_rejections,
            "calls": dict(self.calls),
        }
