"""The shared rate-limit budget: its rules on both stores, re-sync from Fanvue's headers, and
several OS processes sharing one Redis against the emulator without a single 429."""

from __future__ import annotations

import asyncio
import json
import multiprocessing
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from fanvue_embedded._redis import redis_from_url
from fanvue_embedded.api_responses import RateLimit
from fanvue_embedded.budget import (
    Bucket,
    MemoryRateBudget,
    RateBudget,
    RedisRateBudget,
    bucket_for,
)
from fanvue_embedded.client import FanvueClient
from fanvue_embedded.config import Secret, Settings
from fanvue_embedded.errors import RateLimitedError
from fanvue_embedded.services import build_services
from tests.support import budget_workers
from tests.support.api_access import access_token, api_calls
from tests.support.emulator import EmulatorHandle

pytestmark = [pytest.mark.anyio, pytest.mark.both_topologies]

USER = "2f1b0c4e-0000-4000-8000-000000000001"
MANAGED = "2f1b0c4e-0000-4000-8000-000000000002"


def test_bucket_for_follows_fanvue_bucket_keys() -> None:
    assert bucket_for(USER, "/users/me") == Bucket(USER)
    assert bucket_for(USER, "/chats") == Bucket(USER)
    assert bucket_for(USER, "/agencies/chats") == Bucket(USER)  # agency routes: user's bucket
    assert bucket_for(USER, "/creators") == Bucket(USER)  # listCreators has no creator param
    assert bucket_for(USER, f"/creators/{MANAGED}/chats") == Bucket(USER, MANAGED)
    assert bucket_for(USER, f"/creators/{MANAGED}/media/uploads") == Bucket(USER, MANAGED)


def test_bad_budget_parameters_are_refused() -> None:
    with pytest.raises(ValueError, match="limit"):
        MemoryRateBudget(limit=0)
    with pytest.raises(ValueError, match="window"):
        MemoryRateBudget(window=0)
    with pytest.raises(ValueError, match="max_wait"):
        MemoryRateBudget(max_wait=-1)
    with pytest.raises(ValueError, match="acting_for"):
        FanvueClient("t", api_base_url="http://x", budget=MemoryRateBudget())


# --- the merge rules, the same on both stores -----------------------------------------------


def headers(remaining: int, reset: int, limit: int | None = None) -> RateLimit:
    return RateLimit(limit=limit, remaining=remaining, reset=reset)


async def free_tokens(budget: RateBudget, bucket: Bucket, most: int = 50) -> int:
    """Take tokens without waiting until refused; how many were free."""
    taken = 0
    while taken < most:
        try:
            await budget.acquire(bucket)
        except RateLimitedError:
            return taken
        taken += 1
    return taken


async def check_rules(budget: RateBudget, bucket: Bucket) -> None:
    """``budget`` has limit 10, window 60 s and max_wait 0."""
    other = Bucket(bucket.user, MANAGED)
    # The server says the window is spent: the budget refuses before sending, with the wait.
    await budget.observe(bucket, headers(0, 1_000))
    with pytest.raises(RateLimitedError) as refused:
        await budget.acquire(bucket, method="GET", path="/users/me")
    assert refused.value.retry_after is not None
    assert 0 < refused.value.retry_after <= 60
    assert refused.value.error == "rate_limit_budget"
    assert refused.value.path == "/users/me"
    # A later answer of the same window cannot raise the count (others may be in flight)...
    await budget.observe(bucket, headers(7, 1_000))
    assert await free_tokens(budget, bucket) == 0
    # ... nor can an answer from an older window.
    await budget.observe(bucket, headers(9, 940))
    assert await free_tokens(budget, bucket) == 0
    # A newer window: the server's count is taken as it is.
    await budget.observe(bucket, headers(3, 1_060))
    assert await free_tokens(budget, bucket) == 3
    # The managed creator's bucket is separate and starts full (limit 10).
    assert await free_tokens(budget, other) == 10
    # First news of a window opened locally lowers, never raises, what is left.
    await budget.observe(other, headers(8, 2_000))
    assert await free_tokens(budget, other) == 0
    third = Bucket(bucket.user, "third")
    await free_tokens(budget, third, most=4)  # 6 left locally
    await budget.observe(third, headers(2, 3_000))
    assert await free_tokens(budget, third) == 2
    # First news announcing a smaller limit than the window was counted against (10): the 4
    # calls in flight stay taken (5 - 4 = 1 left), though the server counted only 1 so far.
    fourth = Bucket(bucket.user, "fourth")
    await free_tokens(budget, fourth, most=4)
    await budget.observe(fourth, headers(4, 4_000, limit=5))
    assert await free_tokens(budget, fourth) == 1
    # The same inside a confirmed window: counted against 5, the server now announces 3.
    fifth = Bucket(bucket.user, "fifth")
    await budget.observe(fifth, headers(4, 5_000, limit=5))  # confirmed: 4 left of 5
    await free_tokens(budget, fifth, most=2)  # 2 left, 2 in flight
    await budget.observe(fifth, headers(2, 5_000, limit=3))  # one of them counted
    assert await free_tokens(budget, fifth) == 0


async def check_retry_after(budget: RateBudget, bucket: Bucket) -> None:
    """A 429's ``Retry-After`` ends the window sooner than a whole window (60 s here): a call
    allowed to wait 2 s gets through."""
    await budget.observe(bucket, headers(0, 5_000), retry_after=0.2)
    await budget.acquire(bucket)


async def test_rules_in_memory() -> None:
    budget = MemoryRateBudget(limit=10, window=60, max_wait=0)
    await check_rules(budget, Bucket(USER))
    budget.max_wait = 2
    await check_retry_after(budget, Bucket(USER, "retry"))


async def test_rules_on_redis(redis_url: str) -> None:
    redis = redis_from_url(redis_url)
    budget = RedisRateBudget(redis, limit=10, window=60, max_wait=0)
    try:
        await check_rules(budget, Bucket(USER))
        budget.max_wait = 2
        await check_retry_after(budget, Bucket(USER, "retry"))
        # One hash per bucket, in the user's slot (the hash tag of its token set), expiring.
        assert budget.key(Bucket(USER)) == f"fve:{{{USER}}}:rl:self"
        assert budget.key(Bucket(USER, MANAGED)) == f"fve:{{{USER}}}:rl:{MANAGED}"
        ttl = await redis.pttl(budget.key(Bucket(USER)))
        assert 0 < ttl <= 3 * 60_000
    finally:
        await redis.aclose()


async def test_the_limit_fanvue_announces_is_used_for_the_next_window() -> None:
    clock = [0.0]
    budget = MemoryRateBudget(limit=10, window=1, max_wait=0, clock=lambda: clock[0])
    await budget.observe(Bucket(USER), headers(5, 100, limit=3))
    clock[0] = 1.5  # the window ended
    assert await free_tokens(budget, Bucket(USER)) == 3


# --- against the emulator ----------------------------------------------------------------------


async def test_remaining_zero_from_the_server_makes_the_budget_wait(
    emulator: EmulatorHandle,
) -> None:
    """Another app (a raw client) spends the bucket: the first budgeted answer says 0 left, so
    the next call waits for the window instead of drawing a 429 — or, when it may not wait,
    is refused without being sent."""
    emulator.settings(rate_limit=5, rate_window=4)
    token = await access_token(emulator)
    user = emulator.creator_uuid()
    async with httpx.AsyncClient(base_url=emulator.base_url) as raw:
        for _ in range(4):
            answer = await raw.get(
                "/users/me",
                headers={"Authorization": f"Bearer {token}", "X-Fanvue-API-Version": "2025-06-26"},
            )
            assert answer.status_code == 200
    budget = MemoryRateBudget(limit=5, window=4, max_wait=0)
    async with FanvueClient(
        token, api_base_url=emulator.base_url, budget=budget, acting_for=user
    ) as api:
        await api.get("/users/me")  # the 5th: the answer says remaining 0
        assert api.last_rate_limit is not None
        assert api.last_rate_limit.remaining == 0
        sent = api_calls(emulator)
        with pytest.raises(RateLimitedError) as refused:
            await api.get("/users/me")
        assert refused.value.retry_after is not None
        assert 0 < refused.value.retry_after <= 4
        assert api_calls(emulator) == sent  # refused here, never sent
        budget.max_wait = 10
        await api.get("/users/me")  # waits for the window, then goes
    assert emulator.counters()["rate_limited"] == 0


class SyncCount:
    """Counts the budget's re-sync scripts (each call still runs on the real Redis)."""

    def __init__(self, budget: RedisRateBudget) -> None:
        self.calls = 0
        script = budget._sync_script

        async def counted(*args: Any, **kwargs: Any) -> Any:
            self.calls += 1
            return await script(*args, **kwargs)

        budget._sync_script = counted  # type: ignore[assignment]


@dataclass
class Budgeted:
    """A client on a Redis budget of 50 per 60 s (as the emulator's bucket), its re-syncs
    counted, and what it acts with."""

    api: FanvueClient
    budget: RedisRateBudget
    syncs: SyncCount
    token: str
    user: str

    async def left(self) -> int:
        """What the bucket holds in Redis."""
        left = await self.budget._redis.hget(self.budget.key(Bucket(self.user)), "r")
        assert left is not None
        return int(left)


@pytest.fixture
async def budgeted(emulator: EmulatorHandle, redis_url: str) -> AsyncIterator[Budgeted]:
    emulator.settings(rate_limit=50, rate_window=60)
    token = await access_token(emulator)
    user = emulator.creator_uuid()
    budget = RedisRateBudget(
        redis_from_url(redis_url), limit=50, window=60, max_wait=0, close_client=True
    )
    try:
        async with FanvueClient(
            token, api_base_url=emulator.base_url, budget=budget, acting_for=user
        ) as api:
            yield Budgeted(api, budget, SyncCount(budget), token, user)
    finally:
        await budget.aclose()


async def test_a_steady_bucket_costs_one_redis_round_trip_per_call(budgeted: Budgeted) -> None:
    """Once a window is confirmed, an answer that counts no more than the bucket did needs no
    re-sync: the take alone is the budget's Redis work."""
    for _ in range(6):
        await budgeted.api.get("/users/me")
    assert budgeted.api.last_rate_limit is not None
    server_left = budgeted.api.last_rate_limit.remaining
    assert budgeted.syncs.calls == 1  # the first answer confirmed the window
    assert await budgeted.left() == server_left == 44


async def test_an_answer_counting_more_than_the_bucket_is_synced(
    emulator: EmulatorHandle, budgeted: Budgeted
) -> None:
    """Another client spends the same Fanvue bucket between two budgeted calls: the next
    answer counts more than the bucket did, so it re-syncs and the bucket drops to it."""
    await budgeted.api.get("/users/me")
    await budgeted.api.get("/users/me")
    assert budgeted.syncs.calls == 1
    async with httpx.AsyncClient(base_url=emulator.base_url) as raw:
        for _ in range(10):  # not counted by the budget
            answer = await raw.get(
                "/users/me",
                headers={
                    "Authorization": f"Bearer {budgeted.token}",
                    "X-Fanvue-API-Version": "2025-06-26",
                },
            )
            assert answer.status_code == 200
    await budgeted.api.get("/users/me")
    assert budgeted.syncs.calls == 2
    assert budgeted.api.last_rate_limit is not None
    assert budgeted.api.last_rate_limit.remaining == 50 - 13
    assert await budgeted.left() == 50 - 13


async def test_answers_arriving_out_of_order_need_no_re_sync(
    emulator: EmulatorHandle, budgeted: Budgeted
) -> None:
    """Two calls in flight: the second one taken reaches Fanvue first, so the first one's
    answer counts one more than its own take saw. A later take of the same window already
    left that little, so the bucket cannot change: no re-sync (and the bucket matches)."""
    await budgeted.api.get("/users/me")  # confirms the window: the one re-sync
    bucket = Bucket(budgeted.user)
    first = await budgeted.budget.acquire(bucket)
    second = await budgeted.budget.acquire(bucket)
    assert first is not None
    assert second is not None
    assert (first.remaining, second.remaining) == (48, 47)
    headers = {"Authorization": f"Bearer {budgeted.token}", "X-Fanvue-API-Version": "2025-06-26"}
    async with httpx.AsyncClient(base_url=emulator.base_url, headers=headers) as raw:
        second_answer = RateLimit.from_headers((await raw.get("/users/me")).headers)
        first_answer = RateLimit.from_headers((await raw.get("/users/me")).headers)
    assert (second_answer.remaining, first_answer.remaining) == (48, 47)
    await budgeted.budget.observe(bucket, second_answer, taken=second)
    await budgeted.budget.observe(bucket, first_answer, taken=first)
    assert budgeted.syncs.calls == 1
    assert await budgeted.left() == 47
    # An answer counting more than any take saw (someone else spent the bucket) still syncs.
    async with httpx.AsyncClient(base_url=emulator.base_url, headers=headers) as raw:
        await raw.get("/users/me")
        third = await budgeted.budget.acquire(bucket)
        assert third is not None
        assert third.remaining == 46
        third_answer = RateLimit.from_headers((await raw.get("/users/me")).headers)
    await budgeted.budget.observe(bucket, third_answer, taken=third)
    assert budgeted.syncs.calls == 2
    assert await budgeted.left() == 45


async def test_memory_budget_keeps_concurrent_calls_of_one_process_under_the_limit(
    emulator: EmulatorHandle,
) -> None:
    emulator.settings(rate_limit=10, rate_window=2)
    emulator.make_agency("luna.rivers", "max.stone")
    managed = emulator.creator_uuid("max.stone")
    token = await access_token(emulator)
    budget = MemoryRateBudget(limit=10, window=2, max_wait=30)
    paths = ["/users/me", f"/creators/{managed}/followers"] * 15
    async with FanvueClient(
        token,
        api_base_url=emulator.base_url,
        budget=budget,
        acting_for=emulator.creator_uuid(),
        rate_limit_retries=0,
    ) as api:
        await asyncio.gather(*(api.get(path) for path in paths))
    assert emulator.counters()["rate_limited"] == 0
    assert api_calls(emulator) == 30


async def test_processes_sharing_one_redis_draw_no_429(
    emulator: EmulatorHandle, redis_url: str
) -> None:
    """4 processes x 15 calls, 3 at a time each, into two buckets of 20 per 3 s: every call
    completes (waiting for windows) and the emulator never answers 429."""
    limit, window = 20, 3
    emulator.settings(rate_limit=limit, rate_window=window)
    emulator.make_agency("luna.rivers", "max.stone")
    managed = emulator.creator_uuid("max.stone")
    token = await access_token(emulator)
    user = emulator.creator_uuid()
    processes_count, calls = 4, 15
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(processes_count)
    results = context.Queue()
    processes = []
    for index in range(processes_count):
        path = "/users/me" if index % 2 == 0 else f"/creators/{managed}/followers"
        processes.append(
            context.Process(
                target=budget_workers.call_through_budget,
                args=(
                    redis_url,
                    emulator.base_url,
                    token,
                    user,
                    [path] * calls,
                    limit,
                    window,
                    3,
                    barrier,
                    results,
                ),
            )
        )
    for process in processes:
        process.start()
    outcomes: list[dict[str, Any]] = [
        json.loads(await asyncio.to_thread(results.get, True, 180)) for _ in processes
    ]
    for process in processes:
        await asyncio.to_thread(process.join, 60)
        assert process.exitcode == 0
    assert [outcome["failed"] for outcome in outcomes] == [0] * processes_count, outcomes
    assert sum(outcome["ok"] for outcome in outcomes) == processes_count * calls
    counters = emulator.counters()
    assert counters["rate_limited"] == 0
    assert api_calls(emulator) == processes_count * calls


async def test_services_wire_the_budget_into_every_client(
    emulator: EmulatorHandle, redis_standalone_url: str
) -> None:
    from fanvue_embedded._devdefaults import DEV_CLIENT_ID, DEV_CLIENT_SECRET, DEV_SESSION_SECRET
    from fanvue_embedded.crypto import generate_key

    common: dict[str, Any] = {
        "client_id": DEV_CLIENT_ID,
        "client_secret": Secret(DEV_CLIENT_SECRET),
        "redirect_uri": "http://127.0.0.1:8000/oauth/callback",
        "session_secret": Secret(DEV_SESSION_SECRET),
        "mode": "development",
        "api_base_url": emulator.base_url,
        "api_rate_limit": 7,
        "api_rate_window": 30.0,
        "api_rate_max_wait": 1.5,
    }
    memory = build_services(Settings(**common))
    try:
        budget = memory.budget
        assert isinstance(budget, MemoryRateBudget)
        assert (budget.limit, budget.window, budget.max_wait) == (7, 30.0, 1.5)
        assert memory.tokens.client(USER)._budget is budget
    finally:
        await memory.aclose()
    from fanvue_embedded.config import parse_encryption_keys

    on_redis = build_services(
        Settings(
            **common,
            redis_url=Secret(redis_standalone_url),
            token_encryption_keys=parse_encryption_keys(generate_key("k1")),
        )
    )
    try:
        assert isinstance(on_redis.budget, RedisRateBudget)
        assert on_redis.tokens.client(USER)._budget is on_redis.budget
    finally:
        await on_redis.aclose()
    off = build_services(Settings(**{**common, "api_rate_limit": 0}))
    try:
        assert off.budget is None
    finally:
        await off.aclose()


def test_rate_settings_from_the_environment() -> None:
    from fanvue_embedded._devdefaults import DEV_CLIENT_ID, DEV_CLIENT_SECRET, DEV_SESSION_SECRET
    from fanvue_embedded.errors import ConfigurationError

    base = {
        "FANVUE_EMBEDDED_MODE": "development",
        "OAUTH_CLIENT_ID": DEV_CLIENT_ID,
        "OAUTH_CLIENT_SECRET": DEV_CLIENT_SECRET,
        "OAUTH_REDIRECT_URI": "http://127.0.0.1:8000/oauth/callback",
        "SESSION_SECRET": DEV_SESSION_SECRET,
    }
    defaults = Settings.from_env(base)
    assert (defaults.api_rate_limit, defaults.api_rate_window, defaults.api_rate_max_wait) == (
        200,
        60.0,
        5.0,
    )
    chosen = Settings.from_env(
        {**base, "FANVUE_RATE_LIMIT": "0", "FANVUE_RATE_WINDOW": "10", "FANVUE_RATE_MAX_WAIT": "0"}
    )
    assert (chosen.api_rate_limit, chosen.api_rate_window, chosen.api_rate_max_wait) == (0, 10, 0)
    for name, value in (("FANVUE_RATE_LIMIT", "-1"), ("FANVUE_RATE_WINDOW", "0")):
        with pytest.raises(ConfigurationError) as bad:
            Settings.from_env({**base, name: value})
        assert bad.value.variable == name


async def test_calls_still_go_when_the_budgets_redis_is_down(
    emulator: EmulatorHandle, caplog: pytest.LogCaptureFixture
) -> None:
    """The budget is advisory: a dead Redis costs the count, never the call."""
    from fanvue_embedded import client as client_module
    from tests.support.servers import free_port

    client_module._budget_logged_at = None  # the once-a-minute note is due
    token = await access_token(emulator)
    dead = redis_from_url(f"redis://127.0.0.1:{free_port()}/0", socket_connect_timeout=0.5)
    budget = RedisRateBudget(dead, limit=5, window=60, max_wait=0)
    async with FanvueClient(
        token, api_base_url=emulator.base_url, budget=budget, acting_for=emulator.creator_uuid()
    ) as api:
        me = await api.get("/users/me")
    await dead.aclose()
    assert me["uuid"] == emulator.creator_uuid()
    assert api_calls(emulator) == 1
    assert "rate-limit budget unavailable" in caplog.text
