"""Webhook handlers that a test and a separate worker process share (``worker --webhooks
tests.support.webhook_handlers:flaky``): state lives in Redis, at ``WEBHOOK_TEST_REDIS_URL``."""

from __future__ import annotations

import os

from fanvue_embedded.webhooks import RetryPolicy, WebhookEvent, WebhookRegistry
from tests.support.redis_topology import sync_client

CALLS_KEY = "test:webhook:calls"
DONE_KEY = "test:webhook:done"
SUCCEEDS_ON_CALL = 3

flaky = WebhookRegistry(retry=RetryPolicy(max_attempts=5, base_delay=0.2, max_delay=0.4))
"""Fails on its first two calls (in whichever process), succeeds on the third."""


@flaky.on_any
def fail_twice(event: WebhookEvent) -> None:
    client = sync_client(os.environ["WEBHOOK_TEST_REDIS_URL"])
    try:
        calls = int(client.incr(CALLS_KEY))
        if calls < SUCCEEDS_ON_CALL:
            raise RuntimeError(f"call {calls} fails on purpose")
        client.set(DONE_KEY, event.type)
    finally:
        client.close()
