"""Control API: what fans, buyers and Fanvue do, so the emulator emits the webhooks Fanvue emits.

Each call changes the world the API reads, then delivers the event to every matching
subscription (``deliveries.py``) and answers ``201 {type, id, payload, deliveries}`` once the
deliveries (with their retries) are done. ``ref`` is a creator's uuid or handle; ``fan`` a
person of that creator's world by uuid or handle, or ``new`` for a newcomer.

========================================================  ======================================
``POST /_emulator/creators/{ref}/fans/{fan}/messages``    {text?, mediaUuids?, price?}:
                                                          ``message.received``
``POST /_emulator/creators/{ref}/fans/{fan}/follow``      ``follow.new``
``POST /_emulator/creators/{ref}/fans/{fan}/subscribe``   {price? (999)}: ``subscription.new``
``POST /_emulator/creators/{ref}/fans/{fan}/tips``        {amount, context? (post|message),
                                                          postUuid?, messageUuid?}: ``tip.new``
``POST /_emulator/creators/{ref}/fans/{fan}/purchases``   {postUuid? or messageUuid?}:
                                                          ``purchase.new``
``POST /_emulator/creators/{ref}/checkout/payments``      {status, payment?, gross?, fan?,
                                                          subscription?, client_reference_id?,
                                                          metadata?}
``POST /_emulator/creators/{ref}/checkout/subscriptions`` {change, subscription?, fan?,
                                                          cancel_at_period_end?, reason?,
                                                          client_reference_id?, metadata?}
``POST /_emulator/creators/{ref}/checkout/refunds``       {payment, reason?}
``POST /_emulator/creators/{ref}/checkout/disputes``      {payment, stage (flagged|created)}
``POST /_emulator/creators/{ref}/payouts``                {amount?}: ``payout.paid``
``POST /_emulator/app/payments``                          {event (succeeded|refunded)}:
                                                          ``app.payment.*``
``GET /_emulator/webhook-subscriptions``                  API-created subscriptions (no secrets)
``DELETE /_emulator/webhook-subscriptions/{uuid}``        remove one
========================================================  ======================================
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from . import _validate as v
from ._http import counted
from .deliveries import Deliveries
from .state import EmulatorState
from .world import activity, checkout
from .world.model import World
from .world.store import Item

PREFIX = "/_emulator"
Endpoint = Callable[[Request], Awaitable[Response]]
Action = Callable[[World, dict[str, Any]], tuple[str, dict[str, Any]]]
MAX_AMOUNT = 10_000_000  # cents


def _amount(body: dict[str, Any], name: str, default: int | None, minimum: int = 1) -> int | None:
    if body.get(name) is None:
        return default
    return _cents(body, name, minimum)


def _cents(body: dict[str, Any], name: str, minimum: int = 1) -> int:
    value = int(v.number(name, body[name], minimum=minimum, integer=True))
    if value > MAX_AMOUNT:
        raise v.FieldError(422, name, f"{name} must be at most {MAX_AMOUNT}")
    return value


def _optional_text(body: dict[str, Any], name: str) -> str | None:
    return v.text(name, body.get(name), optional=True)


def _metadata(body: dict[str, Any]) -> dict[str, Any] | None:
    value = body.get("metadata")
    if value is not None and not isinstance(value, dict):
        raise v.FieldError(422, "metadata", "metadata must be a JSON object")
    return value


def _fan(world: World, body: dict[str, Any]) -> Item | None:
    ref = _optional_text(body, "fan")
    return None if ref is None else activity.find_fan(world, ref)


# -- what fans do (flat platform events) -----------------------------------------------------


def _message(world: World, fan: Item, body: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    text = _optional_text(body, "text")
    media = list(v.text_list("mediaUuids", body.get("mediaUuids", []), allow_empty=True))
    if text is None and not media:
        raise v.FieldError(422, "text", "a message needs text or mediaUuids")
    if text is not None and len(text) > 5000:
        raise v.FieldError(422, "text", "text must be at most 5000 characters")
    return activity.fan_message(world, fan, text, media, _amount(body, "price", None, 0))


def _tip(world: World, fan: Item, body: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    amount = _amount(body, "amount", None)
    if amount is None:
        raise v.FieldError(422, "amount", "amount (cents) is required")
    post, message = _optional_text(body, "postUuid"), _optional_text(body, "messageUuid")
    default = "message" if message is not None else "post"
    context = v.choice("context", body.get("context", default), ("post", "message"))
    target = post if context == "post" else message
    return activity.tip(world, fan, amount, context, target)


def _purchase(world: World, fan: Item, body: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    post, message = _optional_text(body, "postUuid"), _optional_text(body, "messageUuid")
    if post is not None and message is not None:
        raise v.FieldError(422, "postUuid", "give postUuid or messageUuid, not both")
    return activity.purchase(world, fan, post, message)


FAN_ACTIONS: dict[str, tuple[tuple[str, ...], Callable[..., tuple[str, dict[str, Any]]]]] = {
    "messages": (("text", "mediaUuids", "price"), _message),
    "follow": ((), lambda world, fan, body: activity.follow(world, fan)),
    "subscribe": (
        ("price",),
        lambda world, fan, body: activity.subscribe(
            world, fan, 999 if body.get("price") is None else _cents(body, "price", 0)
        ),
    ),
    "tips": (("amount", "context", "postUuid", "messageUuid"), _tip),
    "purchases": (("postUuid", "messageUuid"), _purchase),
}


# -- checkout links and payouts (enveloped events) ---------------------------------------------


def _payment(world: World, body: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    return checkout.pay(
        world,
        v.choice("status", body.get("status"), checkout.PAYMENT_STATUSES),
        payment=_optional_text(body, "payment"),
        gross=5000 if body.get("gross") is None else _cents(body, "gross"),
        person=_fan(world, body),
        subscription=_optional_text(body, "subscription"),
        client_reference_id=_optional_text(body, "client_reference_id"),
        metadata=_metadata(body),
    )


def _subscription(world: World, body: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    flag = body.get("cancel_at_period_end")
    return checkout.change_subscription(
        world,
        v.choice("change", body.get("change"), checkout.SUBSCRIPTION_CHANGES),
        subscription=_optional_text(body, "subscription"),
        person=_fan(world, body),
        cancel_at_period_end=None if flag is None else v.boolean("cancel_at_period_end", flag),
        reason=_optional_text(body, "reason"),
        client_reference_id=_optional_text(body, "client_reference_id"),
        metadata=_metadata(body),
    )


CHECKOUT_ACTIONS: dict[str, tuple[tuple[str, ...], Action]] = {
    "checkout/payments": (
        ("status", "payment", "gross", "fan", "subscription", "client_reference_id", "metadata"),
        _payment,
    ),
    "checkout/subscriptions": (
        (
            "change",
            "subscription",
            "fan",
            "cancel_at_period_end",
            "reason",
            "client_reference_id",
            "metadata",
        ),
        _subscription,
    ),
    "checkout/refunds": (
        ("payment", "reason"),
        lambda world, body: checkout.refund(
            world, v.required_text("payment", body.get("payment")), _optional_text(body, "reason")
        ),
    ),
    "checkout/disputes": (
        ("payment", "stage"),
        lambda world, body: checkout.dispute(
            world,
            v.required_text("payment", body.get("payment")),
            v.choice("stage", body.get("stage"), checkout.DISPUTE_STAGES),
        ),
    ),
    "payouts": (
        ("amount",),
        lambda world, body: checkout.payout(world, _amount(body, "amount", None)),
    ),
}


def activity_routes(state: EmulatorState, deliveries: Deliveries) -> list[Route]:
    worlds = state.worlds

    async def emit(event: tuple[str, dict[str, Any]], creator: str | None) -> Response:
        outgoing = deliveries.build(event[0], event[1], creator)
        sent = await deliveries.deliver(outgoing)
        answer = {
            "type": outgoing.type,
            "id": outgoing.id,
            "payload": json.loads(outgoing.body),
            "deliveries": sent,
        }
        return JSONResponse(answer, status_code=201)

    def creator_uuid(request: Request) -> str:
        found = state.find_creator(request.path_params["ref"])
        if found is None:
            raise v.FieldError(404, "ref", f"no such creator: {request.path_params['ref']}")
        return found.uuid

    def fan_action(allowed: tuple[str, ...], action: Callable[..., Any]) -> Endpoint:
        async def endpoint(request: Request) -> Response:
            creator = creator_uuid(request)
            body = await v.json_object(request, allowed=allowed)
            ref = request.path_params["fan"]
            with worlds.lock:
                world = worlds.world(creator)
                fan = activity.find_fan(world, ref)
                try:
                    event = action(world, fan, body)
                except (v.FieldError, activity.ActivityError):
                    if ref == "new":  # nothing happened: the newcomer never came
                        world.people.remove(fan["uuid"])
                    raise
            return await emit(event, creator)

        return endpoint

    def world_action(allowed: tuple[str, ...], action: Action) -> Endpoint:
        async def endpoint(request: Request) -> Response:
            creator = creator_uuid(request)
            body = await v.json_object(request, allowed=allowed)
            with worlds.lock:
                event = action(worlds.world(creator), body)
            return await emit(event, creator)

        return endpoint

    async def app_payment(request: Request) -> Response:
        body = await v.json_object(request, allowed=("event",))
        kind = v.choice("event", body.get("event"), ("succeeded", "refunded"))
        data = {"object": "payment" if kind == "succeeded" else "refund"}  # ASSUMED: no fields
        return await emit((f"app.payment.{kind}", data), None)

    async def list_subscriptions(request: Request) -> Response:
        views = [s.control_view() for s in list(state.webhook_subscriptions.values())]
        return JSONResponse({"subscriptions": views})

    async def delete_subscription(request: Request) -> Response:
        if not state.delete_webhook_subscription(request.path_params["uuid"]):
            raise v.FieldError(404, "uuid", "no such webhook subscription")
        return JSONResponse({"deleted": True})

    def guarded(endpoint: Endpoint) -> Endpoint:
        async def run(request: Request) -> Response:
            try:
                return await endpoint(request)
            except v.FieldError as exc:
                return exc.response()
            except activity.ActivityError as exc:
                return v.FieldError(exc.status, exc.field, str(exc)).response()

        return run

    table: list[tuple[str, str, Endpoint]] = [
        ("POST", f"/creators/{{ref}}/fans/{{fan}}/{name}", fan_action(*spec))
        for name, spec in FAN_ACTIONS.items()
    ]
    table += [
        ("POST", f"/creators/{{ref}}/{name}", world_action(*spec))
        for name, spec in CHECKOUT_ACTIONS.items()
    ]
    table += [
        ("POST", "/app/payments", app_payment),
        ("GET", "/webhook-subscriptions", list_subscriptions),
        ("DELETE", "/webhook-subscriptions/{uuid}", delete_subscription),
    ]
    return [
        counted(state, PREFIX + path, guarded(endpoint), [method])
        for method, path, endpoint in table
    ]
