"""``POST /webhooks/fanvue``: verify, recognise, record (deduplicated), acknowledge, dispatch.

The order matters. The signature is checked on the raw bytes before anything parses them
(app-wide secrets first, then the creator's subscription secrets). The delivery is recorded,
sealed, *before* the 200, so an acknowledged event survives a crash of this process; handlers
run after the response (a Starlette background task), so a slow handler never makes Fanvue
time out and retry. A handler that raises is retried by the worker with backoff and kept as
``failed`` after the last attempt (see ``WebhookInbox``): logged, kept, not lost.
"""

from __future__ import annotations

import logging

from starlette.background import BackgroundTask
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import Route

from ..errors import DecryptionError, ProtocolError, StoreUnavailable, WebhookVerificationError
from ..metrics import WEBHOOK_DELIVERIES
from ..webhooks import (
    DEFAULT_TOLERANCE,
    SIGNATURE_HEADER,
    TYPE_HEADER,
    WebhookRegistry,
    parse_event,
    verify_delivery,
)
from .responses import error_response, json_response
from .services import services_of

__all__ = ["MAX_WEBHOOK_BODY", "WEBHOOK_PATH", "webhook_route"]

logger = logging.getLogger("fanvue_embedded.app.webhooks")

WEBHOOK_PATH = "/webhooks/fanvue"
MAX_WEBHOOK_BODY = 256 * 1024


class _TooLarge(Exception):
    pass


async def _read_bounded(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > limit):
        raise _TooLarge
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > limit:
            raise _TooLarge
    return bytes(body)


def webhook_route(
    registry: WebhookRegistry,
    *,
    path: str = WEBHOOK_PATH,
    tolerance: float = DEFAULT_TOLERANCE,
    max_body: int = MAX_WEBHOOK_BODY,
) -> Route:
    """The webhook endpoint, verifying with the app's ``settings.webhook_secrets`` and the
    stored subscription secrets (``services.webhooks.secrets``)."""

    async def receive_webhook(request: Request) -> Response:
        services = services_of(request)
        try:
            body = await _read_bounded(request, max_body)
        except _TooLarge:
            WEBHOOK_DELIVERIES.inc("too_large")
            return error_response(413, "payload_too_large")
        except ClientDisconnect:
            return error_response(400, "invalid_request")

        secrets = [s.get_secret_value() for s in services.settings.webhook_secrets]
        try:
            timestamp = await verify_delivery(
                body,
                request.headers.get(SIGNATURE_HEADER),
                secrets,
                services.webhooks.secrets,
                tolerance=tolerance,
                now=services.clock(),
            )
        except WebhookVerificationError as exc:
            WEBHOOK_DELIVERIES.inc("invalid_signature")
            # Which check failed is for our log; the sender (maybe an attacker) learns nothing.
            logger.info("webhook rejected: %s", exc.code)
            return error_response(401, "invalid_signature")
        except (StoreUnavailable, DecryptionError) as exc:
            WEBHOOK_DELIVERIES.inc("store_unavailable")
            logger.error("webhook: subscription secrets unreadable (%s); sender retries", exc.code)
            return error_response(503, "service_unavailable")

        header_type = request.headers.get(TYPE_HEADER) or None
        try:
            event = parse_event(body, header_type=header_type)
        except ProtocolError as exc:
            WEBHOOK_DELIVERIES.inc("invalid_event")
            logger.warning("webhook with a valid signature but a bad body: %s", exc)
            return error_response(400, "invalid_request", "the body must be a JSON object")

        inbox = services.webhooks.inbox(registry)
        try:
            delivery, is_new = await inbox.receive(
                event, body, signed_at=timestamp, header_type=header_type
            )
        except StoreUnavailable:
            WEBHOOK_DELIVERIES.inc("store_unavailable")
            logger.error("webhook: could not record, asking the sender to retry")
            return error_response(503, "service_unavailable")
        if not is_new:
            WEBHOOK_DELIVERIES.inc("duplicate")
            return json_response({"status": "duplicate"})

        WEBHOOK_DELIVERIES.inc("accepted")
        response = json_response({"status": "accepted"})
        response.background = BackgroundTask(inbox.dispatch, delivery, event)
        return response

    return Route(path, receive_webhook, methods=["POST"])
