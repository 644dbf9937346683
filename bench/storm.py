"""2. Refresh storm: 8 processes x 100 concurrent callers for one creator at each expiry.

Per round the parent makes the stored access token expired (a rewrite with ``expires_at`` in
the past, keeping the refresh token), then releases every child at once. It reads the
emulator's counters before and after: token-endpoint calls per expiry and chain breaks are
counts, not timings. "Time until every caller holds a valid token" runs from the first caller's
start to the last caller's answer, across all processes (``time.monotonic`` is system-wide),
and is compared with one token-endpoint round trip made with plain httpx in the same run.

The naive baseline runs the same rounds with one authlib ``AsyncOAuth2Client`` per process
(authlib's own per-client lock and auto-refresh; each process keeps its token in memory).
"""

from __future__ import annotations

import multiprocessing
import statistics
import time
from dataclasses import dataclass, field
from typing import Any

import httpx

from fanvue_embedded._devdefaults import DEV_CLIENT_ID, DEV_CLIENT_SECRET
from fanvue_embedded._redis import close_redis, redis_from_url
from fanvue_embedded.models import TokenSet
from fanvue_embedded.oauth import client_secret_basic
from fanvue_embedded.services import Services
from fanvue_embedded.tokens import fingerprint

from . import storm_workers
from .common import (
    BenchEnv,
    Section,
    add_emulator_creators,
    command_delta,
    exchange_creators,
    median,
    redis_command_calls,
)

PROCESSES = 8
CALLERS = 100
MODES = ("replay", "new-pair")
SLACK = 0.050  # the first round's goal: one round trip + 50 ms
GOAL_VS_NAIVE = 1.1


@dataclass
class StormStats:
    impl: str
    mode: str
    rounds: int
    calls: list[int]
    breaks: int
    spans: list[float]
    errors: int
    consistent_rounds: int
    skews: list[float] = field(default_factory=list)
    process_spans: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)
    commands: dict[str, int] = field(default_factory=dict)  # Redis, server side, all rounds

    @property
    def calls_per_expiry(self) -> float:
        return sum(self.calls) / self.rounds


async def _token_round_trips(
    env: BenchEnv, services: Services, creator: str, count: int
) -> list[float]:
    """Sequential refreshes of a separate chain with plain httpx: the unavoidable round trip."""
    stored = await services.store.load(creator)
    assert stored is not None
    assert stored.tokens.refresh_token
    refresh_token = stored.tokens.refresh_token
    headers = {"Authorization": client_secret_basic(DEV_CLIENT_ID, DEV_CLIENT_SECRET)}
    samples: list[float] = []
    async with httpx.AsyncClient(base_url=env.emulator.base_url, timeout=30) as client:
        for attempt in range(count + 3):
            started = time.perf_counter()
            response = await client.post(
                "/oauth2/token",
                data={"grant_type": "refresh_token", "refresh_token": refresh_token},
                headers=headers,
            )
            elapsed = time.perf_counter() - started
            response.raise_for_status()
            refresh_token = response.json()["refresh_token"]
            if attempt >= 3:  # the first few warm the connection
                samples.append(elapsed)
    # Keep the chain's newest token stored, as a well-behaved app would.
    fresh = TokenSet(
        access_token=stored.tokens.access_token,
        expires_at=stored.tokens.expires_at,
        refresh_token=refresh_token,
        scopes=stored.tokens.scopes,
    )
    await services.store.save(creator, fresh, expected_generation=stored.generation)
    return samples


@dataclass
class _Group:
    """One implementation's processes: spawned once, driven round by round."""

    impl: str
    children: list[Any]
    barrier: Any
    results: Any
    redis: Any  # the bench's own client: INFO commandstats around each round


async def _spawn(env: BenchEnv, services: Services, creator: str, impl: str, rounds: int) -> _Group:
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(PROCESSES + 1)
    results: Any = context.Queue()
    config = storm_workers.StormConfig(
        redis_url=env.redis_url,
        emulator_url=env.emulator.base_url,
        encryption_keys=env.encryption_keys,
        creator=creator,
        rounds=rounds * len(MODES),
        callers=CALLERS,
    )
    if impl == "coordinated":
        target: Any = storm_workers.coordinated
        extra: tuple[Any, ...] = ()
    else:
        stored = await services.store.load(creator)
        assert stored is not None
        token = {
            "access_token": stored.tokens.access_token,
            "refresh_token": stored.tokens.refresh_token,
            "token_type": "Bearer",
            "expires_at": int(stored.tokens.expires_at),
        }
        target = storm_workers.naive
        extra = (token,)
    children = [
        context.Process(target=target, args=(config, index, barrier, results, *extra))
        for index in range(PROCESSES)
    ]
    for child in children:
        child.start()
    return _Group(impl, children, barrier, results, redis_from_url(env.redis_url))


async def _stop(group: _Group) -> None:
    await close_redis(group.redis)
    for child in group.children:
        child.join(timeout=30)
        if child.is_alive():
            child.terminate()
            child.join()


async def _round(
    env: BenchEnv, services: Services, creator: str, group: _Group, stats: StormStats
) -> None:
    before = env.emulator.counters()
    commands_before = await redis_command_calls(group.redis)
    group.barrier.wait(timeout=120)
    reports = [group.results.get(timeout=120) for _ in range(PROCESSES)]
    after = env.emulator.counters()
    spent = command_delta(commands_before, await redis_command_calls(group.redis))
    for name, count in spent.items():
        stats.commands[name] = stats.commands.get(name, 0) + count
    stats.calls.append(after["refresh_requests"] - before["refresh_requests"])
    stats.breaks += after["chain_breaks"] - before["chain_breaks"]
    stats.errors += sum(len(report["errors"]) for report in reports)
    stats.spans.append(max(r["end"] for r in reports) - min(r["start"] for r in reports))
    starts = [r["start"] for r in reports]
    stats.skews.append(max(starts) - min(starts))
    stats.process_spans.append(max(r["end"] - r["start"] for r in reports))
    stats.cpu.append(median([r["cpu"] for r in reports]))
    held = {fp for report in reports for fp in report["fingerprints"]}
    if group.impl == "coordinated" and await _holds_stored_valid_token(
        env, services, creator, held
    ):
        stats.consistent_rounds += 1


async def _storms(
    env: BenchEnv, services: Services, creators: dict[str, str], rounds: int
) -> tuple[list[StormStats], list[StormStats]]:
    """Both implementations' processes stay up; their rounds alternate, so drift in the
    machine's load hits both alike."""
    groups = [
        await _spawn(env, services, creators[impl], impl, rounds)
        for impl in ("coordinated", "naive")
    ]
    ours: list[StormStats] = []
    naive: list[StormStats] = []
    try:
        for mode in MODES:
            env.emulator.settings(rotation_mode=mode)
            mine = StormStats("coordinated", mode, rounds, [], 0, [], 0, 0)
            theirs = StormStats("naive", mode, rounds, [], 0, [], 0, 0)
            for _ in range(rounds):
                await _round(env, services, creators["coordinated"], groups[0], mine)
                await _round(env, services, creators["naive"], groups[1], theirs)
            ours.append(mine)
            naive.append(theirs)
    finally:
        for group in groups:
            await _stop(group)
    return ours, naive


async def _holds_stored_valid_token(
    env: BenchEnv, services: Services, creator: str, held: set[str]
) -> bool:
    """Every caller got the one stored token, and Fanvue (the emulator) accepts it."""
    stored = await services.store.load(creator)
    if stored is None or held != {fingerprint(stored.tokens.access_token)}:
        return False
    async with httpx.AsyncClient(base_url=env.emulator.base_url, timeout=30) as client:
        response = await client.get(
            "/users/me",
            headers={
                "Authorization": f"Bearer {stored.tokens.access_token}",
                "X-Fanvue-API-Version": services.settings.api_version,
            },
        )
    return response.status_code == 200


async def run(env: BenchEnv) -> Section:
    rounds = 4 if env.quick else 50
    services = env.services()
    try:
        handles = ["bench-storm", "bench-naive", "bench-rtt"]
        await add_emulator_creators(env.emulator, handles)
        env.emulator.settings(rate_limit=1_000_000)
        ours_creator, naive_creator, rtt_creator = await exchange_creators(
            services, env.emulator, handles
        )
        round_trips = await _token_round_trips(env, services, rtt_creator, 20)
        ours, naive = await _storms(
            env, services, {"coordinated": ours_creator, "naive": naive_creator}, rounds
        )
        round_trips += await _token_round_trips(env, services, rtt_creator, 20)
        env.emulator.settings(rotation_mode="replay")
    finally:
        await services.aclose()

    rtt = median(round_trips)
    budget = rtt + SLACK
    rows: list[tuple[str, str]] = [
        ("one token-endpoint round trip (plain httpx, median of 40)", f"{rtt * 1e3:.1f} ms"),
    ]
    met = True
    for item in ours + naive:
        label = "ours" if item.impl == "coordinated" else "naive authlib"
        med = median(item.spans)
        p90 = (
            statistics.quantiles(item.spans, n=10, method="inclusive")[-1]
            if len(item.spans) > 2
            else max(item.spans)
        )
        rows.append(
            (
                f"{label}, {item.mode}: token-endpoint calls per expiry",
                f"{item.calls_per_expiry:.2f} (min {min(item.calls)}, max {max(item.calls)})",
            )
        )
        rows.append((f"{label}, {item.mode}: chain breaks", str(item.breaks)))
        rows.append(
            (
                f"{label}, {item.mode}: time until all {PROCESSES * CALLERS} callers hold a token",
                f"median {med * 1e3:.1f} ms = {med / rtt:.1f} round trips "
                f"(p90 {p90 * 1e3:.1f} ms, max {max(item.spans) * 1e3:.1f} ms)",
            )
        )
        rows.append(
            (
                f"{label}, {item.mode}: of which processes waking from the barrier "
                "(last start - first start)",
                f"median {median(item.skews) * 1e3:.1f} ms; slowest process from its own "
                f"start: median {median(item.process_spans) * 1e3:.1f} ms",
            )
        )
        rows.append(
            (
                f"{label}, {item.mode}: CPU time of one process in a round (median)",
                f"{median(item.cpu) * 1e3:.2f} ms",
            )
        )
        if item.impl == "coordinated":
            scripts = item.commands.get("evalsha", 0) / item.rounds
            others = sum(n for c, n in item.commands.items() if c != "evalsha") / item.rounds
            rows.append(
                (
                    f"{label}, {item.mode}: Redis commands per round, all {PROCESSES} processes",
                    f"{scripts:.1f} scripts (begin/commit) + {others:.1f} commands executed "
                    "(inside the scripts, plus PUBLISH and reads)",
                )
            )
        if item.errors:
            rows.append((f"{label}, {item.mode}: callers that got an error", str(item.errors)))
        if item.impl == "coordinated":
            rows.append(
                (
                    f"{label}, {item.mode}: rounds where every caller held the stored, "
                    "API-accepted token",
                    f"{item.consistent_rounds} / {item.rounds}",
                )
            )
            met = met and all(c == 1 for c in item.calls) and item.breaks == 0
            met = met and item.errors == 0
            met = met and item.consistent_rounds == item.rounds
    rows.append(
        (
            "trials",
            f"{rounds} expiries per rotation mode, {PROCESSES} processes x {CALLERS} callers, "
            "per implementation; the two implementations' rounds alternate",
        )
    )
    versus: list[float] = []
    for mine, theirs in zip(ours, naive, strict=True):
        versus.append(median(mine.spans) / median(theirs.spans))
        rows.append(
            (
                f"ours / naive time until all callers hold a token, {mine.mode}",
                f"{versus[-1]:.2f}x (the naive baseline does no Redis work at all: it is the "
                "machine's floor for waking 800 callers)",
            )
        )
        rows.append(
            (
                f"first round's budget (1 round trip + 50 ms), {mine.mode}",
                f"{median(mine.spans) * 1e3:.1f} ms of {budget * 1e3:.0f} ms",
            )
        )
    met = met and max(versus) <= GOAL_VS_NAIVE
    ours_replay = ours[0]
    return Section(
        key="storm",
        title="2. Refresh storm (8 processes x 100 callers, one creator, at expiry)",
        goal="1.00 token-endpoint call per expiry, 0 chain breaks, time until all callers hold "
        f"a token ≤ {GOAL_VS_NAIVE}x the naive floor",
        met=met,
        headline=(
            f"{ours_replay.calls_per_expiry:.2f} calls/expiry, {ours_replay.breaks} breaks, "
            f"all served in {versus[0]:.2f}x (replay) / {versus[1]:.2f}x (new-pair) the naive "
            f"floor; naive: {naive[0].calls_per_expiry:.2f} calls/expiry"
        ),
        rows=rows,
        notes=[
            "Expiry is simulated by moving each of our processes' injected clock one token "
            "lifetime on per round (so the copy each holds in memory expires too, as time "
            "would make it), and by expiring each authlib client's in-memory token (naive).",
            "The naive clients get pre-form-encoded credentials: authlib joins the raw client id "
            "and secret for client_secret_basic, which an RFC 6749 §2.3.1-strict server refuses "
            "(the dev secret has reserved characters) — a naive app would fail before any storm.",
            "Naive chain breaks stay at 0 here only because all processes re-present the same "
            "refresh token inside the 30 s grace window; any process that refreshes more than "
            "30 s after another (a slower clock, a later start, a paused worker) kills the chain. "
            "Ours presents each refresh token exactly once.",
        ],
    )
