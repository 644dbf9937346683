"""Checkout links, payouts and App Store purchases: the resources of Fanvue's enveloped events.

Each function changes the creator's checkout state (payments and subscriptions by id) and
returns ``(event type, data)``: the resource exactly as webhooks.md §3 lists its fields (the
sender wraps it in ``{id, type, timestamp, data}``). A succeeded payment is also an earnings
row (source ``checkoutLink``) and a refund a spending row, so the API's insights see them.

Assumptions (README): one checkout link per creator; fees of 15 % (Fanvue) and 5 %
(transaction); a dispute's and an App Store payment's ``data`` is ``{"object": ...}`` only,
since Fanvue documents no other field; a payout's amount defaults to the available balance
and changes nothing else in the world.
"""

from __future__ import annotations

from typing import Any

from .activity import ActivityError, earn
from .model import World
from .money import NET_SHARE, user_ref
from .store import Item

Event = tuple[str, dict[str, Any]]
PAYMENT_STATUSES = ("pending", "succeeded", "failed")
SUBSCRIPTION_CHANGES = ("activated", "deactivated", "cancel_at_period_end_changed")
DISPUTE_STAGES = ("flagged", "created")
FANVUE_FEE, TRANSACTION_FEE = 15, 5  # percent of gross
PERIOD = 30 * 86_400.0


def checkout_link(world: World) -> dict[str, Any]:
    return {
        "uuid": world.uuid_for("checkout-link"),
        "name": "Coaching call",
        "product_uuid": world.uuid_for("checkout-product"),
        "product_price_uuid": world.uuid_for("checkout-price"),
    }


def purchaser(world: World, person: Item | None) -> dict[str, Any]:
    """A fan of the world, or a guest buying without a Fanvue account."""
    if person is None:
        guest = world.new_uuid("purchaser")
        return {"uuid": guest, "email": f"buyer.{guest[:8]}@example.test"}
    return {"uuid": person["uuid"], "email": f"{person['handle']}@example.test"}


def _public(item: Item) -> dict[str, Any]:
    return {key: value for key, value in item.items() if not key.startswith("_")}


def _payment(world: World, ref: str) -> Item:
    found = world.checkout_payments.get(ref)
    if found is None:
        raise ActivityError(404, "payment", f"no checkout payment {ref}")
    return found


def pay(
    world: World,
    status: str,
    *,
    payment: str | None = None,
    gross: int = 5000,
    person: Item | None = None,
    subscription: str | None = None,
    client_reference_id: str | None = None,
    metadata: dict[str, Any] | None = None,
) -> Event:
    """A new payment in ``status``, or an existing pending ``payment`` settling →
    ``checkout_link.payment.<status>``."""
    if payment is not None:
        if status == "pending":
            raise ActivityError(422, "status", "an existing payment settles: succeeded or failed")
        item = _payment(world, payment)
        if item["status"] != "pending":
            raise ActivityError(409, "payment", f"payment {payment} is {item['status']}")
    else:
        billing = "one_time"
        if subscription is not None:
            if subscription not in world.checkout_subscriptions:
                raise ActivityError(404, "subscription", f"no subscription {subscription}")
            paid_before = any(
                (p["subscription"] or {}).get("uuid") == subscription
                for p in world.checkout_payments.values()
            )
            billing = "subscription_renewal" if paid_before else "subscription_initial"
            person_ref = world.checkout_subscriptions[subscription]["purchaser"]
        else:
            person_ref = purchaser(world, person)
        number = world.new_uuid("payment")
        item = {
            "object": "payment",
            "id": f"FV-{number[:8].upper()}",
            "status": "pending",
            "billing_reason": billing,
            "gross": gross,
            "net": None,
            "fees": {
                "fanvue_fee": gross * FANVUE_FEE // 100,
                "transaction_fee": gross * TRANSACTION_FEE // 100,
            },
            "currency": "USD",
            "paid_in_full": False,
            "installment": None,
            "subscription": None if subscription is None else {"uuid": subscription},
            "client_reference_id": client_reference_id,
            "transaction_id": None,
            "created_at": world.now_iso(),
            "paid_at": None,
            "checkout_link": checkout_link(world),
            "purchaser": person_ref,
            "creator": {"uuid": world.owner.uuid},
            "metadata": dict(metadata or {}),
            "_person": person,
        }
        world.checkout_payments[item["id"]] = item
    item["status"] = status
    if status == "succeeded":
        fees = item["fees"]
        item["net"] = item["gross"] - fees["fanvue_fee"] - fees["transaction_fee"]
        item["paid_in_full"] = True
        item["transaction_id"] = f"txn_{world.new_uuid('transaction')[:12]}"
        item["paid_at"] = world.now_iso()
        earn(world, item["_person"], "checkoutLink", int(item["gross"]))
    return f"checkout_link.payment.{status}", _public(item)


def change_subscription(
    world: World,
    change: str,
    *,
    subscription: str | None = None,
    person: Item | None = None,
    cancel_at_period_end: bool | None = None,
    reason: str | None = None,
    client_reference_id: str | None = None,
    metadata: dict[str, Any] | None = None,
) -> Event:
    """``activated`` makes a subscription; the other changes need its id →
    ``checkout_link.subscription.<change>``."""
    if change == "activated":
        ident = world.new_uuid("checkout-subscription")
        item: Item = {
            "object": "subscription",
            "id": ident,
            "status": "active",
            "cancel_at_period_end": False,
            "expires_at": world.later_iso(PERIOD),
            "created_at": world.now_iso(),
            "client_reference_id": client_reference_id,
            "deactivation_reason": None,
            "checkout_link": checkout_link(world),
            "purchaser": purchaser(world, person),
            "creator": {"uuid": world.owner.uuid},
            "metadata": dict(metadata or {}),
        }
        world.checkout_subscriptions[ident] = item
        return "checkout_link.subscription.activated", dict(item)
    if subscription is None:
        raise ActivityError(422, "subscription", f"{change} needs the subscription's id")
    found = world.checkout_subscriptions.get(subscription)
    if found is None:
        raise ActivityError(404, "subscription", f"no subscription {subscription}")
    if found["status"] != "active":
        raise ActivityError(409, "subscription", f"subscription {subscription} has ended")
    if change == "cancel_at_period_end_changed":
        flag = not found["cancel_at_period_end"]
        found["cancel_at_period_end"] = (
            flag if cancel_at_period_end is None else cancel_at_period_end
        )
    else:  # deactivated: access ends now
        ending = bool(found["cancel_at_period_end"])
        found["status"] = "expired" if ending else "cancelled"
        found["expires_at"] = world.now_iso()
        found["deactivation_reason"] = reason or ("NON_RENEWING" if ending else None)
    return f"checkout_link.subscription.{change}", dict(found)


def _succeeded(world: World, payment: str) -> Item:
    item = _payment(world, payment)
    if item["status"] != "succeeded":
        raise ActivityError(409, "payment", f"payment {payment} is {item['status']}")
    return item


def refund(world: World, payment: str, reason: str | None = None) -> Event:
    """A full refund of a succeeded payment (a spending row) → ``checkout_link.refund.created``."""
    item = _succeeded(world, payment)
    if item.get("_refunded"):
        raise ActivityError(409, "payment", f"payment {payment} is already refunded")
    item["_refunded"] = True
    number = world.new_uuid("refund")
    person = item["_person"]
    world.spending.add(
        {
            "transactionOrderId": f"FVC-{number[:8].upper()}",
            "date": world.now_iso(),
            "gross": -int(item["gross"]),
            "net": -int(item["gross"]) * NET_SHARE // 100,
            "currency": "USD",
            "source": "refund",
            "messageUuid": world.uuid_for(f"refund-message-{number}"),
            "postUuid": world.uuid_for(f"refund-post-{number}"),
            "user": None if person is None else user_ref(person),
        }
    )
    data = {
        "object": "refund",
        "id": f"FVC-{number[:8].upper()}",
        "payment_id": item["id"],
        "amount": item["gross"],
        "currency": item["currency"],
        "reason": reason,
        "full_amount": True,
        "created_at": world.now_iso(),
        "client_reference_id": item["client_reference_id"],
        "checkout_link": item["checkout_link"],
        "purchaser": item["purchaser"],
        "creator": item["creator"],
        "metadata": item["metadata"],
    }
    return "checkout_link.refund.created", data


def dispute(world: World, payment: str, stage: str) -> Event:
    """An early warning (``flagged``) or a chargeback (``created``) on a succeeded payment."""
    _succeeded(world, payment)
    return f"checkout_link.dispute.{stage}", {"object": "dispute"}  # ASSUMED: undocumented


def available_balance(world: World) -> int:
    return sum(
        int(row["net"])
        for row in world.earnings
        if row.get("transactionOrderStatus") == "availableForPayout"
    )


def payout(world: World, amount: int | None = None) -> Event:
    """The creator's withdrawal is paid → ``payout.paid``."""
    paid = available_balance(world) if amount is None else amount
    if paid <= 0:
        raise ActivityError(409, "amount", "nothing is available for payout")
    number = world.new_uuid("payout")
    data = {
        "object": "payout",
        "id": f"FVW-{number[:8].upper()}",
        "status": "paid",
        "amount": paid,
        "currency": "USD",
        "fees": {"transaction_fee": 100},
        "fx_rate": None,
        "external_reference_id": None,
        "paid_at": world.now_iso(),
        "creator": {"uuid": world.owner.uuid},
    }
    return "payout.paid", data
