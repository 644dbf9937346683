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
from ..webhooks import (
    DEFAULT_TOLERANCE,
    SIGNATURE_HEADER,
    TYPE_HEADER,
    WebhookRegistry,
    parse_event,
    verify_delivery,
)
from .error_table import fanvue_error_response
from .json_body import json_depth_exceeds
from .openapi import error_answer, operation
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

    @operation(
        "A signed Fanvue event (X-Fanvue-Signature: t=<unix>,v0=<hex HMAC>).",
        operation_id="fanvueWebhook",
        parameters=(
            {
                "name": SIGNATURE_HEADER,
                "in": "header",
                "required": True,
                "schema": {"type": "string"},
            },
        ),
        request_body={
            "required": True,
            "content": {"application/json": {"schema": {"type": "object"}}},
        },
        answers={
            "200": {"description": "Accepted (or a duplicate, ignored)."},
            "400": error_answer("invalid_request, invalid_json"),
            "413": error_answer("payload_too_large"),
        },
        errors=(WebhookVerificationError, StoreUnavailable),
    )
    async def receive_webhook(request: Request) -> Response:
        services = services_of(request)
        try:
            body = await _read_bounded(request, max_body)
        except _TooLarge:
            services.metrics.webhook_deliveries.labels("too_large").inc()
            return error_response(
                413, "payload_too_large", f"the body is limited to {max_body} bytes"
            )
        except ClientDisconnect:
            return error_response(400, "invalid_request", "the request body was cut off")

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
            services.metrics.webhook_deliveries.labels("invalid_signature").inc()
            # Which check failed (the instance's code) is for our log; the sender (maybe an
            # attacker) gets the table's one answer, 401 invalid_signature.
            return fanvue_error_response(exc, "webhook")
        except (StoreUnavailable, DecryptionError) as exc:
            services.metrics.webhook_deliveries.labels("store_unavailable").inc()
            # Subscription secrets unreadable: 503 so the sender retries.
            return fanvue_error_response(
                StoreUnavailable("webhook subscription secrets unreadable"),
                f"webhook: subscription secrets unreadable ({exc.code})",
            )

        if json_depth_exceeds(body):  # the parser recurses per level: bound it first
            services.metrics.webhook_deliveries.labels("invalid_event").inc()
            return error_response(400, "invalid_json", "the JSON is nested too deeply")

        header_type = request.headers.get(TYPE_HEADER) or None
        try:
            event = parse_event(body, header_type=header_type)
        except ProtocolError as exc:
            services.metrics.webhook_deliveries.labels("invalid_event").inc()
            logger.warning("webhook with a valid signature but a bad body: %s", exc)
            return error_response(400, "invalid_request", "the body must be a JSON object")

        inbox = services.webhooks.inbox(registry)
        try:
            delivery, is_new = await inbox.receive(
                event, body, signed_at=timestamp, header_type=header_type
            )
        except StoreUnavailable as exc:
            services.metrics.webhook_deliveries.labels("store_unavailable").inc()
            return fanvue_error_response(exc, "webhook: not recorded, sender retries")
        if not is_new:
            services.metrics.webhook_deliveries.labels("duplicate").inc()
            return json_response({"status": "duplicate"})

        services.metrics.webhook_deliveries.labels("accepted").inc()
        response = json_response({"status": "accepted"})
        response.background = BackgroundTask(inbox.dispatch, delivery, event)
        return response

    return Route(path, receive_webhook, methods=["POST"])
