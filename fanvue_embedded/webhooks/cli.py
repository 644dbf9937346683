"""``fanvue-embedded webhooks send|list|retry``. Output never holds a payload (fan data) or a
secret: ``list`` prints delivery metadata only."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import Literal

from .inbox import WebhookInbox

__all__ = ["cli_list", "cli_retry", "cli_send"]


async def cli_send(
    url: str, event_type: str, secret: str, *, retries: int = 0, backoff: float = 1.0
) -> int:
    """Send the documented sample of ``event_type``, signed with ``secret``, to ``url``.

    Prints one JSON line per attempt (HTTP status or ``unreachable``); exit 0 when the last
    attempt got a 2xx, 1 otherwise, 2 for a type with no sample.
    """
    # The samples live with the emulator (the local Fanvue); imported here only, so that
    # importing the library never imports the emulator.
    from ..emulator.webhooks import SAMPLE_TYPES, send_sample

    if event_type not in SAMPLE_TYPES:
        print(
            f"--type {event_type!r} has no documented sample; one of: {', '.join(SAMPLE_TYPES)}",
            file=sys.stderr,
        )
        return 2
    result = await send_sample(url, secret, event_type, retries=retries, backoff=backoff)
    for attempt in result["attempts"]:
        print(json.dumps({"type": event_type, **attempt}))
    status = result["status"]
    return 0 if status is not None and 200 <= status < 300 else 1


async def cli_list(inbox: WebhookInbox, state: Literal["pending", "failed"], limit: int) -> int:
    """One JSON line per delivery in ``state``: id, type, attempts, errors, times."""
    for info in await inbox.list(state, limit):
        print(
            json.dumps(
                {
                    "delivery": info.delivery,
                    "type": info.type,
                    "state": info.state,
                    "attempts": info.attempts,
                    "errors": list(info.errors),
                    "receivedAt": info.received_at,
                    "nextAttemptAt": info.next_attempt_at,
                }
            )
        )
    return 0


async def cli_retry(inbox: WebhookInbox, deliveries: Sequence[str], *, every: bool) -> int:
    """Make failed deliveries due again (the worker runs them); exit 1 if one was not found."""
    targets = list(deliveries)
    if every:
        targets = [info.delivery for info in await inbox.list("failed", 10_000)]
    missing = 0
    for delivery in targets:
        if await inbox.retry(delivery):
            print(f"{delivery}: queued for the worker")
        else:
            missing += 1
            print(f"{delivery}: no failed delivery with this id", file=sys.stderr)
    if every and not targets:
        print("no failed deliveries")
    return 1 if missing else 0
