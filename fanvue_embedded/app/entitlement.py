"""Entitlement for routes: ``requires_subscription`` and the page's ``GET /api/entitlement``.

::

    @authenticated
    @requires_subscription
    async def report(request: Request, ctx: CreatorContext) -> Response:
        ...  # runs only for creators with an active plan for this app

A creator without one is answered 402 ``subscription_required`` (the error table), before the
handler runs. The answer comes from ``services.entitlements`` (cached per creator for
``ENTITLEMENT_CACHE_TTL``); ``FANVUE_APP_UUID`` must be set.
"""

from __future__ import annotations

import functools

from starlette.requests import Request
from starlette.responses import Response

from ..errors import SubscriptionRequired
from .auth import CreatorContext, Handler, authenticated
from .openapi import error_answer, json_answer, operation
from .responses import json_response
from .services import services_of

__all__ = ["entitlement", "requires_subscription"]

_FRESH = frozenset({"1", "true"})


def requires_subscription(handler: Handler) -> Handler:
    """Let ``handler`` run only for a creator with an active subscription to the app; 402
    ``subscription_required`` otherwise. Goes inside ``authenticated``."""

    @functools.wraps(handler)
    async def guarded(request: Request, ctx: CreatorContext) -> Response:
        await services_of(request).entitlements.require(ctx.creator)
        return await handler(request, ctx)

    return guarded


_ENTITLEMENT = {
    "type": "object",
    "required": ["status", "hasActiveSubscription"],
    "properties": {
        "status": {"type": "string", "enum": ["active", "pending", "cancelled", "none"]},
        "hasActiveSubscription": {"type": "boolean"},
        "planName": {"type": "string", "nullable": True},
        "currentPeriodEnd": {"type": "string", "nullable": True},
        "cancelAtPeriodEnd": {"type": "boolean"},
    },
}


@authenticated
@operation(
    "The creator's active subscription to this app (402 when they have none).",
    operation_id="currentEntitlement",
    parameters=(
        {
            "name": "fresh",
            "in": "query",
            "schema": {"type": "string", "enum": ["1", "true"]},
            "description": "Read Fanvue now instead of the cached answer.",
        },
    ),
    answers={
        "200": json_answer(_ENTITLEMENT, "An active plan."),
        "402": error_answer("subscription_required"),
    },
    errors=(SubscriptionRequired,),
)
async def entitlement(request: Request, ctx: CreatorContext) -> Response:
    """``GET /api/entitlement``: the plan, or 402 ``subscription_required``."""
    fresh = request.query_params.get("fresh") in _FRESH
    found = await services_of(request).entitlements.require(ctx.creator, fresh=fresh)
    return json_response(found.public())
