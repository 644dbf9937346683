"""Agency-wide reads and team management (``/agencies/*``), and app subscriptions (``/apps``).

``/agencies/*`` aggregate over every creator the calling agency manages; rows carry
``creatorUuid``, and ``creatorUuids`` narrows them to some of those creators.
"""

from __future__ import annotations

import heapq
from datetime import timedelta
from typing import Any

from ..world.model import World, parse_iso
from ..world.store import Item
from . import errors
from .call import Call
from .h_chats import chat_view, chats_by_activity
from .h_insights import MAX_RANGE_DAYS, in_range, subscriber_series


def _managed_worlds(call: Call) -> list[World]:
    managed = call.worlds.managed_by(call.caller)
    wanted = call.query.get("creatorUuids")
    if wanted:
        unknown = [uuid for uuid in wanted if uuid not in managed]
        if unknown:
            raise errors.forbidden("creatorUuids names creators this agency does not manage")
        managed = [uuid for uuid in managed if uuid in wanted]
    return [call.worlds.world(uuid) for uuid in managed]


def _check_range(call: Call) -> None:
    start, end = parse_iso(call.query["startDate"]), parse_iso(call.query["endDate"])
    if end <= start:
        raise errors.validation("endDate must be after startDate")
    if end - start > timedelta(days=MAX_RANGE_DAYS):
        raise errors.validation(f"the date range must not exceed {MAX_RANGE_DAYS} days")


def agency_chats(call: Call) -> Any:
    worlds = _managed_worlds(call)
    tagged = [[(world, chat) for chat in chats_by_activity(world)] for world in worlds]
    merged = list(
        heapq.merge(*tagged, key=lambda pair: str(pair[1].get("lastMessageAt") or ""), reverse=True)
    )
    rows = [{"_world": world, "_chat": chat} for world, chat in merged]
    return call.listing(
        rows,
        project=lambda row: chat_view(row["_world"], row["_chat"]),
        key_of=lambda row: f"{row['_world'].owner.uuid}:{row['_chat']['userUuid']}",
    )


def agency_earnings(call: Call) -> Any:
    _check_range(call)
    rows = []
    for world in _managed_worlds(call):
        by_day: dict[str, list[Item]] = {}
        paid = [r for r in world.earnings if r["transactionOrderStatus"] == "availableForPayout"]
        for row in in_range(paid, call.query):
            by_day.setdefault(str(row["date"])[:10], []).append(row)
        for day in sorted(by_day, reverse=True):
            group = by_day[day]
            rows.append(
                {
                    "creatorUuid": world.owner.uuid,
                    "date": day,  # a true date (YYYY-MM-DD), bucketed by paid-at in UTC
                    "gross": sum(int(r["gross"]) for r in group),
                    "net": sum(int(r["net"]) for r in group),
                    "currency": "USD",
                }
            )
    rows.sort(key=lambda row: str(row["date"]), reverse=True)
    return call.listing(rows, key_of=lambda row: f"{row['creatorUuid']}:{row['date']}")


def agency_subscribers(call: Call) -> Any:
    rows = [
        {**person, "creatorUuid": world.owner.uuid}
        for world in _managed_worlds(call)
        for person in world.fans_with("subscriber")
    ]
    rows.sort(key=lambda row: str(row.get("subscribedAt") or ""), reverse=True)
    return call.listing(rows, key_of=lambda row: f"{row['creatorUuid']}:{row['uuid']}")


def agency_subscriber_history(call: Call) -> Any:
    _check_range(call)
    rows = [
        {**row, "creatorUuid": world.owner.uuid, "date": str(row["date"])[:10]}
        for world in _managed_worlds(call)
        for row in subscriber_series(world, call.query)
    ]
    rows.sort(key=lambda row: str(row["date"]), reverse=True)
    return call.listing(rows, key_of=lambda row: f"{row['creatorUuid']}:{row['date']}")


def chatter_leaderboard(call: Call) -> Any:
    world = call.world
    wanted = set(call.values("chatterUuids"))
    rows = []
    for member in world.team_members:
        if wanted and member["uuid"] not in wanted:
            continue
        rng = world.rng(f"leaderboard-{member['uuid']}")
        sent, unlocked = rng.randint(10, 80), rng.randint(0, 10)
        revenue, hours = unlocked * 1500, rng.randint(5, 60)
        rows.append(
            {
                "chatterUuid": member["uuid"],
                "chatterName": member["displayName"],
                "avatarUrl": None,
                "messages": rng.randint(100, 2000),
                "ppvsSent": sent,
                "ppvsUnlocked": unlocked,
                "unlockRatio": round(unlocked / sent, 4),
                "revenue": revenue,
                "activeHours": hours,
                "eph": round(revenue / hours, 2),
                "goldenRatio": round(rng.uniform(0.1, 0.9), 4),
                "avgResponseMs": rng.randint(20_000, 600_000),
            }
        )
    rows.sort(key=lambda row: -int(row["revenue"]))
    return {"data": [call.shape_item(row, row["chatterUuid"]) for row in rows]}


def team_members(call: Call) -> Any:
    return [call.shape_item(member) for member in call.world.team_members]


def update_team_member(call: Call) -> Any:
    world = call.world
    member = call.require(world.team_members.get(call.param("userId")), "Team member")
    body = call.body
    managed = call.worlds.managed_by(call.caller)
    if body.get("creatorUuids") is not None:
        unknown = [uuid for uuid in body["creatorUuids"] if uuid not in managed]
        if unknown:
            raise errors.validation("creatorUuids must name creators this agency manages")
        member["_access"] = list(dict.fromkeys(body["creatorUuids"]))
        role = "ADMIN" if member["isAdmin"] else "CHATTER"
        member["creatorAccess"] = [{"uuid": c, "role": role} for c in member["_access"]]
    if "nickname" in body:
        member["nickname"] = body["nickname"]
    world.team_members.touch()
    return call.shape(member)


def invite(call: Call) -> Any:
    email = str(call.body["email"])
    return call.shape(
        {
            "success": True,
            "message": f"Invitation sent to {email}",
            "inviteUuid": call.world.new_uuid("invite"),
        }
    )


# -- app subscriptions ----------------------------------------------------------------------


def _app(call: Call) -> Any:
    app = call.worlds.apps.get(call.param("appUuid"))
    if app is None:
        raise errors.not_found("App not found")
    if app.upstream == "failure":
        raise errors.ApiError(502, {"message": "The subscription service failed"})
    if app.upstream == "unconfigured":
        raise errors.ApiError(503, {"message": "The subscription service is not configured"})
    return app


def _entitlement(app: Any, user_uuid: str) -> Item:
    plan = None if app.plan_name is None else app.plan_uuid
    return {
        "userUuid": user_uuid,
        "status": app.status,
        "hasActiveSubscription": app.status == "active",
        "planUuid": plan,
        "planName": app.plan_name,
        "currentPeriodEnd": app.current_period_end,
        "cancelAtPeriodEnd": app.cancel_at_period_end,
    }


def app_subscription_me(call: Call) -> Any:
    app = _app(call)
    managed = call.worlds.managed_by(call.caller)
    if managed:  # agency staff: no plan of their own, one entry per assigned creator
        top = {**_entitlement(app, call.caller), "status": "none", "hasActiveSubscription": False}
        top.update(planUuid=None, planName=None, currentPeriodEnd=None, cancelAtPeriodEnd=False)
    else:
        top = _entitlement(app, call.caller)
    top["appUuid"] = app.app_uuid
    top["managedCreators"] = [_entitlement(app, uuid) for uuid in managed]
    return call.shape(top, app.app_uuid)


def app_subscription_status(call: Call) -> Any:
    app = _app(call)
    if app.owner is not None and app.owner != call.caller:
        raise errors.not_found("App not found")
    plans = []
    if app.overall_status != "notConfigured":
        plan_status = {"pendingSetup": "pending_setup", "withdrawn": "withdrawn"}.get(
            app.overall_status, "active"
        )
        plans.append(
            {
                "uuid": app.plan_uuid,
                "name": app.plan_name or "Standard",
                "billingType": "recurring",
                "price": 999,
                "currencyCode": "USD",
                "interval": "monthly",
                "status": plan_status,
            }
        )
    return call.shape(
        {
            "appUuid": app.app_uuid,
            "appName": app.app_name,
            "overallStatus": app.overall_status,
            "availability": "complete",
            "pricingPlans": plans,
        },
        app.app_uuid,
    )
