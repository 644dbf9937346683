"""6. Keepalive sweep cost: Redis commands per sweep vs the number due and the number stored.

Due creators hold real chains (made through the session exchange), so the sweep runs the real
``KeepaliveWorker`` and ``TokenManager.refresh`` against the emulator. The other creators are
fillers written with a pipeline in the same hash layout the store writes (``g``, ``v``, ``u`` +
the keepalive sorted set), with their keepalive due days from now. Commands are counted with
``INFO commandstats`` before and after (the server is the suite's own; nothing else uses it).

Scenarios: 10 000 stored / 100 due, 1 000 000 stored / 100 due, 1 000 000 stored / 1 000 due.
"Proportional to the due count" shows as a constant number of commands per due creator and an
unchanged total when only the stored count grows. Commands are counted twice: as the worker's
client sends them (a script call counts once; the goal) and as Redis executes them (``INFO
commandstats``, the commands inside scripts included). The fillers also give Redis's memory
per creator at a million creators (``used_memory`` before and after, divided by the count).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from fanvue_embedded._redis import close_redis, redis_from_url
from fanvue_embedded.store.codec import serialize as _serialize  # the store's layout
from fanvue_embedded.worker import KeepaliveWorker

from .common import (
    BenchEnv,
    CommandCounter,
    Section,
    add_emulator_creators,
    command_delta,
    exchange_creators,
    redis_command_calls,
)

KEEPALIVE_KEY = "fve:keepalive"
GOAL_PER_DUE = 5
GOAL_BYTES = 1024


@dataclass
class Sweep:
    stored: int
    due: int
    commands: dict[str, int]
    sent: dict[str, int]
    sweeps: int
    refreshed: int
    seconds: float

    @property
    def total(self) -> int:
        return sum(self.commands.values())


async def _seed_fillers(
    env: BenchEnv, redis: object, template: object, start: int, stop: int
) -> None:
    """Write creators ``start..stop-1`` as the store would, with a pipeline, 2 000 at a time."""
    from fanvue_embedded.models import TokenSet

    assert isinstance(template, TokenSet)
    keyring = env.keyring()
    plaintext = _serialize(template)
    later = time.time() + 3 * 24 * 3600
    for chunk in range(start, stop, 2000):
        pipe = redis.pipeline(transaction=False)  # type: ignore[attr-defined]
        members: dict[str, float] = {}
        for number in range(chunk, min(chunk + 2000, stop)):
            creator = f"filler-{number:07d}"
            blob = keyring.encrypt(plaintext, context=f"tokens|{creator}")
            pipe.hset(f"fve:{{{creator}}}:t", mapping={"g": 1, "v": blob, "u": repr(time.time())})
            members[creator] = later + number % 3600
        pipe.zadd(KEEPALIVE_KEY, members)
        await pipe.execute()


async def _sweep(
    worker: KeepaliveWorker, redis: object, due: list[str], counter: CommandCounter
) -> Sweep:
    now = time.time()
    await redis.zadd(KEEPALIVE_KEY, {creator: now - 60 for creator in due})  # type: ignore[attr-defined]
    stored = int(await redis.zcard(KEEPALIVE_KEY))  # type: ignore[attr-defined]
    before = await redis_command_calls(redis)
    counter.reset()
    started = time.perf_counter()
    sweeps = refreshed = 0
    while True:
        result = await worker.sweep(now)
        sweeps += 1
        refreshed += result.refreshed
        if result.due < worker.batch:
            break
    seconds = time.perf_counter() - started
    sent = dict(counter.counts)
    after = await redis_command_calls(redis)
    return Sweep(stored, len(due), command_delta(before, after), sent, sweeps, refreshed, seconds)


async def run(env: BenchEnv) -> Section:
    real, small, large = (40, 2_000, 20_000) if env.quick else (1_000, 10_000, 1_000_000)
    few = real // 10
    env.emulator.settings(rate_limit=1_000_000)
    services = env.services()
    redis = redis_from_url(env.redis_url)
    try:
        handles = [f"bench-ka-{number:04d}" for number in range(real)]
        await add_emulator_creators(env.emulator, handles)
        creators = await exchange_creators(services, env.emulator, handles)
        stored = await services.store.load(creators[0])
        assert stored is not None
        existing = int(await redis.zcard(KEEPALIVE_KEY))
        # Everything already in the set (earlier benchmarks' creators) counts as stored.
        await _seed_fillers(env, redis, stored.tokens, 0, small - existing)
        worker = KeepaliveWorker(services.tokens, services.store, min_age=0.0)
        counter = CommandCounter(getattr(services.store, "_redis"))  # noqa: B009
        sweeps = [await _sweep(worker, redis, creators[:few], counter)]
        memory_before = int((await redis.info("memory"))["used_memory"])
        keys_before = int(await redis.dbsize())
        seeding = time.perf_counter()
        await _seed_fillers(env, redis, stored.tokens, small - existing, large - existing)
        seeding = time.perf_counter() - seeding
        added = int(await redis.dbsize()) - keys_before
        per_creator = (int((await redis.info("memory"))["used_memory"]) - memory_before) / added
        sweeps.append(await _sweep(worker, redis, creators[:few], counter))
        sweeps.append(await _sweep(worker, redis, creators, counter))
        zset_bytes = int(await redis.memory_usage(KEEPALIVE_KEY, samples=0) or 0)
        zset_count = int(await redis.zcard(KEEPALIVE_KEY))
    finally:
        await close_redis(redis)
        await services.aclose()

    per_due = [sweep.total / sweep.due for sweep in sweeps]
    sent_per_due = [sum(sweep.sent.values()) / sweep.due for sweep in sweeps]
    flat = max(per_due) <= min(per_due) * 1.1
    same_due = sweeps[0].total and abs(sweeps[1].total - sweeps[0].total) <= 0.1 * sweeps[0].total
    rows: list[tuple[str, str]] = []
    for sweep, sent in zip(sweeps, sent_per_due, strict=True):
        selection = sweep.commands.get("zrangebyscore", 0)
        rows.append(
            (
                f"{sweep.stored:,} stored, {sweep.due:,} due",
                f"{sent:.2f} commands sent per due creator ({sum(sweep.sent.values()):,} in "
                f"all); {sweep.total / sweep.due:.1f} executed by Redis ({sweep.total:,}); "
                f"{selection} ZRANGEBYSCORE in {sweep.sweeps} sweep calls; "
                f"{sweep.refreshed} refreshed; {sweep.seconds:.1f} s",
            )
        )
    biggest = sweeps[-1]
    sent_breakdown = ", ".join(
        f"{name} {count / biggest.due:.2f}" for name, count in biggest.sent.items()
    )
    breakdown = ", ".join(
        f"{name} {count / biggest.due:.1f}" for name, count in biggest.commands.items()
    )
    rows += [
        ("commands sent per due creator, by command (last scenario)", sent_breakdown),
        ("commands executed per due creator, by command (last scenario)", breakdown),
        (
            f"Redis memory per creator at {biggest.stored:,} stored",
            f"{per_creator:.0f} bytes (`used_memory` grew by {per_creator * added / 2**20:,.0f} "
            f"MiB for {added:,} fillers: hash + keepalive entry; seeded in {seeding:.0f} s, "
            "pipelined)",
        ),
        (
            "keepalive sorted set",
            f"{zset_bytes / zset_count:.0f} bytes per creator at {zset_count:,} members",
        ),
        ("worker settings", f"batch {worker.batch}, concurrency 8, min_age 0"),
    ]
    return Section(
        key="keepalive",
        title="6. Keepalive sweep cost vs stored creators",
        goal=f"≤ {GOAL_PER_DUE} Redis commands per due creator, proportional to the due count "
        f"not the stored count; ≤ {GOAL_BYTES} B per creator at a million creators",
        met=bool(
            flat and same_due and max(sent_per_due) <= GOAL_PER_DUE and per_creator <= GOAL_BYTES
        ),
        headline=(
            f"{sent_per_due[-1]:.2f} commands sent ({per_due[-1]:.1f} executed) per due "
            f"creator at {biggest.stored:,} stored; {sweeps[0].total:,} vs {sweeps[1].total:,} "
            f"executed for 100 due at {sweeps[0].stored:,} vs {sweeps[1].stored:,} stored; "
            f"{per_creator:.0f} B per creator"
        ),
        rows=rows,
        notes=[
            "A sweep call takes `due_for_keepalive(now, batch)` (one ZRANGEBYSCORE with LIMIT: "
            "O(log n + due)) and refreshes each due creator through the coordinator; the loop "
            "stops at the first call that returns fewer than `batch` creators.",
            "Each refresh is the full coordinated path in two scripts: begin (read, lock, "
            "attempt record) and commit (compare-and-set, keepalive reschedule, unlock, "
            "invalidation); none of it touches other creators. Redis counts the commands "
            "inside scripts too, which is why the executed count is higher than the sent one.",
        ],
    )
