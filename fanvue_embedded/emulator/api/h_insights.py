"""Insights: earnings and spending rows, the earnings summary and percentile, the daily
subscriber series, top spenders and per-fan insights. Money is in USD cents."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from ..world.model import ANCHOR, World, iso, parse_iso
from ..world.store import Item
from . import errors
from .call import Call
from .params import is_uuid

SERIES_DAYS = 90
MAX_RANGE_DAYS = 365
SUMMARY_SOURCES = {
    "messages": ("message", "mediaLink"),
    "posts": ("post",),
    "tips": ("tip",),
    "subs": ("subscription",),
    "renewals": ("renewal",),
    "referrals": ("referral", "affiliate"),
}


def in_range(rows: Iterable[Item], query: dict[str, Any], field: str = "date") -> list[Item]:
    """Rows with ``startDate <= row[field] < endDate`` (either bound optional)."""
    start = parse_iso(query["startDate"]) if query.get("startDate") else None
    end = parse_iso(query["endDate"]) if query.get("endDate") else None
    if start is not None and end is not None and start >= end:
        raise errors.validation("endDate must be after startDate")
    if start is None and end is None:
        return list(rows)
    kept = []
    for row in rows:
        moment = parse_iso(str(row[field]))
        if (start is None or moment >= start) and (end is None or moment < end):
            kept.append(row)
    return kept


def _sources(call: Call) -> set[str]:
    wanted = set(call.query.get("source") or ["all"])
    return set() if "all" in wanted else wanted


def earnings(call: Call) -> Any:
    sources = _sources(call)
    rows = call.world.earnings.sorted_view("newest", lambda r: str(r["date"]), reverse=True)
    rows = [r for r in in_range(rows, call.query) if not sources or r["source"] in sources]
    return call.listing(
        rows,
        project=lambda row: _live_user(call, row),
        key_of=lambda row: str(row["transactionOrderId"]),
    )


def _live_user(call: Call, row: Item) -> Item:
    """The row with its fan as they are now (top-spender flag, nickname)."""
    user = row.get("user")
    person = call.world.person(user["uuid"]) if user else None
    return row if person is None else {**row, "user": person}


def spending(call: Call) -> Any:
    sources = _sources(call)
    rows = call.world.spending.sorted_view("newest", lambda r: str(r["date"]), reverse=True)
    rows = [r for r in in_range(rows, call.query) if not sources or r["source"] in sources]
    return call.listing(
        rows,
        project=lambda row: _live_user(call, row),
        key_of=lambda row: str(row["transactionOrderId"]),
    )


def _pair(rows: Iterable[Item]) -> dict[str, int]:
    listed = list(rows)
    return {
        "gross": sum(int(r["gross"]) for r in listed),
        "net": sum(int(r["net"]) for r in listed),
    }


def _month_start(moment: datetime) -> datetime:
    return moment.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def _change(now: int, before: int) -> float | None:
    return None if before == 0 else round((now - before) * 100 / before, 2)


def earnings_summary(call: Call) -> Any:
    world = call.world
    everything = list(world.earnings)
    rows = in_range(everything, call.query)
    granularity = str(call.query.get("granularity", "day"))
    latest = max((parse_iso(str(r["date"])) for r in everything), default=ANCHOR)
    this_month = _month_start(latest)
    last_month = _month_start(this_month - timedelta(days=1))
    current = _pair(r for r in everything if parse_iso(str(r["date"])) >= this_month)
    previous = _pair(r for r in everything if last_month <= parse_iso(str(r["date"])) < this_month)
    buckets: dict[datetime, list[Item]] = {}
    for row in rows:
        day = parse_iso(str(row["date"])).replace(hour=0, minute=0, second=0, microsecond=0)
        if granularity == "week":
            day -= timedelta(days=day.weekday())
        buckets.setdefault(day, []).append(row)
    by_weekday: dict[str, list[int]] = {str(d): [] for d in range(1, 8)}
    by_hour: dict[str, list[int]] = {str(h): [] for h in range(24)}
    for row in rows:
        moment = parse_iso(str(row["date"]))
        by_weekday[str(moment.isoweekday())].append(int(row["gross"]))
        by_hour[str(moment.hour)].append(int(row["gross"]))
    other = {s for group in SUMMARY_SOURCES.values() for s in group}
    breakdown = {
        name: _pair(r for r in rows if r["source"] in group)
        for name, group in SUMMARY_SOURCES.items()
    }
    breakdown["other"] = _pair(r for r in rows if r["source"] not in other)
    return call.shape(
        {
            "totals": {
                "allTime": _pair(everything),
                "thisMonth": {
                    "gross": current["gross"],
                    "net": current["net"],
                    "previousMonthGross": previous["gross"],
                    "previousMonthNet": previous["net"],
                    "grossChangePercentage": _change(current["gross"], previous["gross"]),
                    "netChangePercentage": _change(current["net"], previous["net"]),
                },
            },
            "earningsByType": {
                name: breakdown[name] for name in ("messages", "renewals", "subs", "tips")
            },
            "breakdownBySource": breakdown,
            "overTime": [
                {"periodStart": iso(day), **_pair(group)} for day, group in sorted(buckets.items())
            ],
            "averageByDayOfWeek": {k: _average(v) for k, v in by_weekday.items()},
            "averageByHourOfDay": {k: _average(v) for k, v in by_hour.items()},
            "period": {
                "startDate": call.query.get("startDate"),
                "endDate": call.query.get("endDate"),
                "granularity": granularity,
                "timezone": call.query.get("timezone", "UTC"),
            },
        }
    )


def _average(values: list[int]) -> float:
    return round(sum(values) / len(values), 2) if values else 0


def percentile(call: Call) -> Any:
    rng = call.world.rng("percentile")
    return call.shape({"percentile": round(rng.uniform(0.5, 40.0), 2)})


def subscriber_series(world: World, query: dict[str, Any]) -> list[Item]:
    """Daily new/cancelled subscribers and the running total, newest day first."""
    end = parse_iso(query["endDate"]) if query.get("endDate") else ANCHOR
    start = (
        parse_iso(query["startDate"])
        if query.get("startDate")
        else (end - timedelta(days=SERIES_DAYS))
    )
    if start >= end:
        raise errors.validation("endDate must be after startDate")
    if (end - start).days > MAX_RANGE_DAYS:
        raise errors.validation(f"the date range must not exceed {MAX_RANGE_DAYS} days")
    events: list[tuple[datetime, int]] = []
    for person in world.people:
        if person.get("status") in ("subscriber", "expired") and person.get("subscribedAt"):
            events.append((parse_iso(str(person["subscribedAt"])), 1))
            if person["status"] == "expired" and person.get("expiresAt"):
                events.append((parse_iso(str(person["expiresAt"])), -1))
    events.sort()
    day = start.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    total, index, rows = 0, 0, []
    while index < len(events) and events[index][0] < day:
        total += events[index][1]
        index += 1
    while day < end:
        new = cancelled = 0
        while index < len(events) and events[index][0] < day + timedelta(days=1):
            if events[index][1] > 0:
                new += 1
            else:
                cancelled += 1
            index += 1
        total += new - cancelled
        rows.append(
            {
                "date": iso(day),
                "newSubscribersCount": new,
                "cancelledSubscribersCount": cancelled,
                "total": total,
            }
        )
        day += timedelta(days=1)
    rows.reverse()
    return rows


def subscribers(call: Call) -> Any:
    rows = subscriber_series(call.world, call.query)
    return call.listing(rows, key_of=lambda row: str(row["date"]))


def top_spenders(call: Call) -> Any:
    world = call.world
    totals: dict[str, dict[str, int]] = {}
    for row in in_range(world.earnings, call.query):
        user = row.get("user")
        if not user:
            continue
        entry = totals.setdefault(user["uuid"], {"gross": 0, "net": 0, "messages": 0})
        entry["gross"] += int(row["gross"])
        entry["net"] += int(row["net"])
        entry["messages"] += 1 if row["source"] == "message" else 0
    ranked = sorted(totals.items(), key=lambda pair: (-pair[1]["gross"], pair[0]))
    rows = []
    for user_uuid, entry in ranked:
        person = world.person(user_uuid)
        if person is not None:
            rows.append({"uuid": user_uuid, **entry, "user": person})
    return call.listing(rows)


def fan_insight(world: World, person: Item) -> Item:
    rows = [r for r in world.earnings if (r.get("user") or {}).get("uuid") == person["uuid"]]
    by_source: dict[str, dict[str, int]] = {}
    for row in rows:
        entry = by_source.setdefault(str(row["source"]), {"gross": 0, "total": 0})
        entry["gross"] += int(row["gross"])
        entry["total"] += int(row["gross"])
    gross = sum(int(r["gross"]) for r in rows)
    biggest = max((int(r["gross"]) for r in rows), default=0)
    status = person.get("status")
    return {
        "status": status if status in ("subscriber", "expired", "follower") else "not_contactable",
        "subscription": {
            "autoRenewalEnabled": bool(person.get("_autoRenew")),
            "createdAt": person.get("subscribedAt"),
            "renewsAt": person.get("expiresAt") if status == "subscriber" else None,
        },
        "spending": {
            "total": {"gross": gross, "total": gross},
            "maxSinglePayment": {"gross": biggest, "total": biggest},
            "sources": by_source,
            "lastPurchaseAt": max((str(r["date"]) for r in rows), default=None),
        },
    }


def get_fan_insights(call: Call) -> Any:
    person = call.require(call.world.person(call.param("userUuid")), "Fan")
    return call.shape(fan_insight(call.world, person), person["uuid"])


def bulk_fan_insights(call: Call) -> Any:
    wanted = call.values("fanUuids")
    if not wanted or len(wanted) > 20:
        raise errors.validation("fanUuids must contain between 1 and 20 elements")
    if not all(is_uuid(value) for value in wanted):
        raise errors.validation("each value in fanUuids must be a UUID")
    results: dict[str, Any] = {}
    problems: list[Item] = []
    for fan_uuid in wanted:
        person = call.world.person(fan_uuid)
        if person is None:
            results[fan_uuid] = None
            problems.append({"fanUuid": fan_uuid, "code": "NOT_FOUND", "message": "Fan not found"})
        else:
            results[fan_uuid] = call.shape_item(fan_insight(call.world, person), fan_uuid)
    return {"results": results, "errors": problems}


def batch_fan_insights(call: Call) -> Any:
    wanted = list(dict.fromkeys(call.body["userUuids"]))
    if not 1 <= len(wanted) <= 100:
        raise errors.validation("userUuids must contain between 1 and 100 elements")
    result: dict[str, Any] = {}
    for fan_uuid in wanted:
        person = call.world.person(fan_uuid)
        result[fan_uuid] = (
            {"error": "not_found"}
            if person is None
            else call.shape_item(fan_insight(call.world, person), fan_uuid)
        )
    return result
