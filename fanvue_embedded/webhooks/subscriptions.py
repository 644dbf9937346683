"""Fanvue's webhook subscriptions API, on behalf of a creator (scope ``read:creator``).

Documented (api.fanvue.com/docs/checkout/configuring; absent from the OpenAPI spec):
``POST /webhooks/subscriptions`` creates one and its response carries ``signingSecret``, shown
only that once; ``GET /webhooks/subscriptions`` lists those this OAuth client created. A
subscription delivers only the types it was created with.

Not documented, so assumed here: the request body ``{"url", "events"}``, the subscription's
id field ``uuid`` (``id`` is taken if there is no ``uuid``), and the list answer being either
a JSON array or an object with a ``data`` array. Everything Fanvue returns stays in ``raw``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..client import FanvueClient
from ..errors import ProtocolError
from .secrets import SubscriptionSecrets

__all__ = [
    "CreatedSubscription",
    "WebhookSubscription",
    "create_webhook_subscription",
    "list_webhook_subscriptions",
    "subscribe",
]

SUBSCRIPTIONS_PATH = "/webhooks/subscriptions"


@dataclass(frozen=True, slots=True)
class WebhookSubscription:
    """One subscription as Fanvue returned it; ``raw`` holds every field."""

    id: str | None
    url: str | None
    events: tuple[str, ...]
    raw: Mapping[str, Any] = field(repr=False)

    @classmethod
    def from_api(cls, data: Any) -> WebhookSubscription:
        if not isinstance(data, dict):
            raise ProtocolError("a webhook subscription must be a JSON object")
        ident = data.get("uuid", data.get("id"))
        url = data.get("url")
        events = data.get("events")
        return cls(
            id=ident if isinstance(ident, str) else None,
            url=url if isinstance(url, str) else None,
            events=tuple(e for e in events if isinstance(e, str))
            if isinstance(events, list)
            else (),
            raw={k: v for k, v in data.items() if k != "signingSecret"},
        )


@dataclass(frozen=True, slots=True)
class CreatedSubscription:
    """The answer to a create: the subscription and its one-time ``signing_secret``."""

    subscription: WebhookSubscription
    signing_secret: str = field(repr=False)

    @property
    def key(self) -> str:
        """The id the secret is stored under: the subscription's id, else a digest of the
        secret (stable, and it reveals nothing)."""
        if self.subscription.id:
            return self.subscription.id
        return "sha256-" + hashlib.sha256(self.signing_secret.encode()).hexdigest()[:32]


async def create_webhook_subscription(
    client: FanvueClient, url: str, events: Sequence[str]
) -> CreatedSubscription:
    """``POST /webhooks/subscriptions`` for the client's creator."""
    if not url.startswith(("https://", "http://")):
        raise ValueError(f"url {url!r} must be an http(s) URL")
    if not events or any(not isinstance(e, str) or not e for e in events):
        raise ValueError("events must be a non-empty list of type strings")
    data = await client.request(
        "POST", SUBSCRIPTIONS_PATH, json_body={"url": url, "events": list(events)}
    )
    secret = data.get("signingSecret") if isinstance(data, dict) else None
    if not isinstance(secret, str) or not secret:
        raise ProtocolError("POST /webhooks/subscriptions returned no signingSecret")
    return CreatedSubscription(WebhookSubscription.from_api(data), secret)


async def list_webhook_subscriptions(client: FanvueClient) -> list[WebhookSubscription]:
    """``GET /webhooks/subscriptions``: the subscriptions this OAuth client created."""
    data = await client.get(SUBSCRIPTIONS_PATH)
    items = data.get("data") if isinstance(data, dict) else data
    if not isinstance(items, list):
        raise ProtocolError("GET /webhooks/subscriptions returned no list")
    return [WebhookSubscription.from_api(item) for item in items]


async def subscribe(
    client: FanvueClient,
    secrets: SubscriptionSecrets,
    creator: str,
    url: str,
    events: Sequence[str],
) -> WebhookSubscription:
    """Create a subscription for ``creator`` and store its signing secret (sealed), so the
    webhook route verifies its deliveries. The secret is never returned or logged."""
    created = await create_webhook_subscription(client, url, events)
    await secrets.put(creator, created.key, created.signing_secret)
    return created.subscription
