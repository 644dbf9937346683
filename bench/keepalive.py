"""6. Keepalive sweep cost: Redis commands per sweep vs the number due and the number stored.

Due creators hold real chains (made through the session exchange), so the sweep runs the real
``KeepaliveWorker`` and ``TokenManager.refresh`` against the emulator. The other creators are
fillers written with a pipeline in the same hash layout the store writes (``g``, ``v``, ``u`` +
the keepalive sorted set), with their keepalive due days from now. Commands are counted with
``INFO commandstats`` before and after (the server is the suite's own; nothing else uses it).

Scenarios: 10 000 stored / 100 due, 100 000 stored / 100 due, 100 000 stored / 1 000 due (1 %).
"Proportional to the due count" shows as a constant number of commands per due creator and an
unchanged total when only the stored count grows.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from fanvue_embedded._redis import close_redis, redis_from_url
from fanvue_embedded.store.codec import serialize as _serialize  # the store's layout
from fanvue_embedded.worker import KeepaliveWorker

from .common import (
    BenchEnv,
    Section,
    add_emulator_creators,
    command_delta,
    exchange_creators,
    redis_command_calls,
)

KEEPALIVE_KEY = "fve:keepalive"


@dataclass
class Sweep:
    stored: int
    due: int
    commands: dict[str, int]
    sweeps: int
    refreshed: int
    seconds: float

    @property
    def total(self) -> int:
        return sum(self.commands.values())


async def _seed_fillers(
    env: BenchEnv, redis: object, template: object, start: int, stop: int
) -> None:
    """Write creators ``start..stop-1`` as the store would, with a pipeline, 1 000 at a time."""
    from fanvue_embedded.models import TokenSet

    assert isinstance(template, TokenSet)
    keyring = env.keyring()
    plaintext = _serialize(template)
    later = time.time() + 3 * 24 * 3600
    for chunk in range(start, stop, 1000):
        pipe = redis.pipeline(transaction=False)  # type: ignore[attr-defined]
        members: dict[str, float] = {}
        for number in range(chunk, min(chunk + 1000, stop)):
            creator = f"filler-{number:06d}"
            blob = keyring.encrypt(plaintext, context=f"tokens|{creator}")
            pipe.hset(f"fve:{{{creator}}}:t", mapping={"g": 1, "v": blob, "u": repr(time.time())})
            members[creator] = later + number % 3600
        pipe.zadd(KEEPALIVE_KEY, members)
        await pipe.execute()


async def _sweep(env: BenchEnv, worker: KeepaliveWorker, redis: object, due: list[str]) -> Sweep:
    now = time.time()
    await redis.zadd(KEEPALIVE_KEY, {creator: now - 60 for creator in due})  # type: ignore[attr-defined]
    stored = int(await redis.zcard(KEEPALIVE_KEY))  # type: ignore[attr-defined]
    before = await redis_command_calls(redis)
    started = time.perf_counter()
    sweeps = refreshed = 0
    while True:
        result = await worker.sweep(now)
        sweeps += 1
        refreshed += result.refreshed
        if result.due < worker.batch:
            break
    seconds = time.perf_counter() - started
    after = await redis_command_calls(redis)
    return Sweep(stored, len(due), command_delta(before, after), sweeps, refreshed, seconds)


async def run(env: BenchEnv) -> Section:
    real, small, large = (40, 2_000, 10_000) if env.quick else (1_000, 10_000, 100_000)
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
        sweeps = [await _sweep(env, worker, redis, creators[:few])]
        await _seed_fillers(env, redis, stored.tokens, small - existing, large - existing)
        sweeps.append(await _sweep(env, worker, redis, creators[:few]))
        sweeps.append(await _sweep(env, worker, redis, creators))
        zset_bytes = int(await redis.memory_usage(KEEPALIVE_KEY, samples=0) or 0)
        zset_count = int(await redis.zcard(KEEPALIVE_KEY))
    finally:
        await close_redis(redis)
        await services.aclose()

    per_due = [sweep.total / sweep.due for sweep in sweeps]
    flat = max(per_due) <= min(per_due) * 1.1
    same_due = sweeps[0].total and abs(sweeps[1].total - sweeps[0].total) <= 0.1 * sweeps[0].total
    rows: list[tuple[str, str]] = []
    for sweep in sweeps:
        selection = sweep.commands.get("zrangebyscore", 0)
        rows.append(
            (
                f"{sweep.stored:,} stored, {sweep.due:,} due",
                f"{sweep.total:,} commands = {sweep.total / sweep.due:.1f} per due creator "
                f"({selection} ZRANGEBYSCORE in {sweep.sweeps} sweep calls; "
                f"{sweep.refreshed} refreshed; {sweep.seconds:.1f} s)",
            )
        )
    biggest = sweeps[-1]
    breakdown = ", ".join(
        f"{name} {count / biggest.due:.1f}" for name, count in biggest.commands.items()
    )
    rows += [
        ("commands per due creator, by command (last scenario)", breakdown),
        (
            "keepalive sorted set",
            f"{zset_bytes / zset_count:.0f} bytes per creator at {zset_count:,} members",
        ),
        ("worker settings", f"batch {worker.batch}, concurrency 8, min_age 0"),
    ]
    return Section(
        key="keepalive",
        title="6. Keepalive sweep cost vs stored creators",
        goal="Redis commands per sweep proportional to the due count, not the stored count",
        met=bool(flat and same_due),
        headline=(
            f"{per_due[-1]:.1f} commands per due creator at {biggest.stored:,} stored; "
            f"{sweeps[0].total:,} vs {sweeps[1].total:,} commands for 100 due at "
            f"{sweeps[0].stored:,} vs {sweeps[1].stored:,} stored"
        ),
        rows=rows,
        notes=[
            "A sweep call takes `due_for_keepalive(now, batch)` (one ZRANGEBYSCORE with LIMIT: "
            "O(log n + due)) and refreshes each due creator through the coordinator; the loop "
            "stops at the first call that returns fewer than `batch` creators.",
            "Each refresh is the full coordinated path (lock, re-read, attempt record, "
            "compare-and-set commit, reschedule, unlock); none of it touches other creators.",
        ],
    )
