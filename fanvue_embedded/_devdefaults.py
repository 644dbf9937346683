"""The registered-app defaults that ``dev`` and the emulator share.

They are public on purpose (printed at start-up, written in the README) and are therefore
refused by ``Settings`` in production mode. This module holds constants only, so the
emulator can import it without importing any client-side code.
"""

from __future__ import annotations

DEV_CLIENT_ID = "fanvue-embedded-dev"
DEV_CLIENT_SECRET = "dev-client-secret:not+for/production%use"  # noqa: S105 - public dev value
DEV_SESSION_SECRET = "dev-session-secret-0123456789-abcdefghij"  # noqa: S105 - public dev value
DEV_WEBHOOK_SECRET = "dev-webhook-secret-0123456789"  # noqa: S105 - public dev value
DEV_REDIRECT_URI = "http://127.0.0.1:8000/oauth/callback"
DEV_SCOPES = ("read:self", "read:fan", "read:chat", "read:insights")
DEV_ENCRYPTION_KEY = "dev:ZGV2LW9ubHktdG9rZW4tZW5jcnlwdGlvbi1rZXktMzI"  # public dev value
DEV_SECRETS = frozenset({DEV_CLIENT_SECRET, DEV_SESSION_SECRET, DEV_WEBHOOK_SECRET})
