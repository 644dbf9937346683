"""Where the emulator's webhook events go: every matching subscription, each signed with its
own secret, retried, and listed in the delivery history.

Two kinds of subscription, as at Fanvue (webhooks.md §7):

- the app's endpoint from the Developer Area (``webhook_url``, the app-wide ``webhook_secret``,
  the types in ``webhook_events`` or, when that is unset, every type);
- subscriptions created through ``POST /webhooks/subscriptions`` for a creator: their own
  signing secret, only events about that creator, only the types they were created with.

App Store events go to the app's endpoint only (Fanvue delivers them to the purchased app's
tenant without a subscription). Retries and backoff come from the settings
(``webhook_retries``, ``webhook_backoff``).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from .state import EmulatorState
from .webhooks import Outgoing, event, send

APP_TARGET = "app"


@dataclass(frozen=True)
class Target:
    """One endpoint an event goes to: ``name`` is ``app`` or the subscription's uuid."""

    name: str
    url: str
    secret: str


class Deliveries:
    """Sends events to their targets, now (awaited) or in the background (API calls)."""

    def __init__(self, state: EmulatorState) -> None:
        self._state = state
        self._tasks: set[asyncio.Task[list[dict[str, Any]]]] = set()

    def targets(self, outgoing: Outgoing) -> list[Target]:
        app = self._state.app
        found: list[Target] = []
        if app.webhook_url and (app.webhook_events is None or outgoing.type in app.webhook_events):
            found.append(Target(APP_TARGET, app.webhook_url, app.webhook_secret))
        if outgoing.creator is not None and not outgoing.type.startswith("app."):
            for subscription in self._state.webhook_subscriptions_for(outgoing.creator):
                if outgoing.type in subscription.events:
                    found.append(
                        Target(subscription.uuid, subscription.url, subscription.signing_secret)
                    )
        return found

    def build(self, event_type: str, payload: dict[str, Any], creator: str | None) -> Outgoing:
        return event(event_type, payload, self._state.now(), creator)

    async def deliver(self, outgoing: Outgoing) -> list[dict[str, Any]]:
        """Send to every target at once; each target's record (as listed in the history)."""
        targets = self.targets(outgoing)
        return list(await asyncio.gather(*(self._send(t, outgoing) for t in targets)))

    async def _send(self, target: Target, outgoing: Outgoing) -> dict[str, Any]:
        state = self._state
        settings = state.settings
        record: dict[str, Any] = {
            "type": outgoing.type,
            "url": target.url,
            "target": target.name,
            "creator": outgoing.creator,
            "at": int(state.now()),
        }
        result = await send(
            target.url,
            target.secret,
            outgoing,
            now=state.now,
            retries=settings.webhook_retries,
            backoff=settings.webhook_backoff,
        )
        record.update(result)
        state.record_webhook_delivery(record)
        return record

    def send_queued(self) -> None:
        """Send the events API calls queued (``Worlds.emit``) in the background: Fanvue
        answers the call first and delivers on its own time."""
        queued = self._state.worlds.take_events()
        if not queued:
            return
        loop = asyncio.get_running_loop()
        for event_type, creator, payload in queued:
            task = loop.create_task(self.deliver(self.build(event_type, payload, creator)))
            self._tasks.add(task)  # keep a reference until it finishes
            task.add_done_callback(self._tasks.discard)
