"""5. Redis bytes per creator: ``MEMORY USAGE`` over all of a creator's keys.

Creators get real emulator tokens through the session exchange and are then refreshed once, so
the record is in its steady state (token set, generation, timestamp; no attempt record). A
creator's keys are ``fve:{<creator>}:t`` (the hash) and ``fve:{<creator>}:l`` (the lock, only
while a refresh runs); their entry in the shared ``fve:keepalive`` sorted set is counted as the
set's size divided by its members. App sessions (``fve:e:session:*``) are per open iframe, not
per creator, and are reported on their own line.
"""

from __future__ import annotations

from fanvue_embedded._redis import close_redis, redis_from_url

from .common import BenchEnv, Section, add_emulator_creators, exchange_creators, median

GOAL_BYTES = 1024
KEEPALIVE_KEY = "fve:keepalive"


async def run(env: BenchEnv) -> Section:
    count = 5 if env.quick else 20
    env.emulator.settings(rate_limit=1_000_000)
    services = env.services()
    redis = redis_from_url(env.redis_url)
    try:
        handles = [f"bench-mem-{number:02d}" for number in range(count)]
        await add_emulator_creators(env.emulator, handles)
        creators = await exchange_creators(services, env.emulator, handles)
        for creator in creators:
            await services.tokens.refresh(creator, force=True)
        sizes: list[int] = []
        for creator in creators:
            # Direct keys, not SCAN: the keyspace may hold the keepalive benchmark's fillers.
            total = 0
            for key in (f"fve:{{{creator}}}:t", f"fve:{{{creator}}}:l"):
                total += int(await redis.memory_usage(key, samples=0) or 0)
            sizes.append(total)
        zset_bytes = int(await redis.memory_usage(KEEPALIVE_KEY, samples=0) or 0)
        zset_count = int(await redis.zcard(KEEPALIVE_KEY))
        issued = await services.sessions.issue(creators[0])
        session = await services.sessions.verify(issued.token)
        session_key = f"fve:e:session:{session.session_id}"
        session_sizes = [int(await redis.memory_usage(session_key, samples=0) or 0)]
        fields = await redis.hgetall(f"fve:{{{creators[0]}}}:t")
        value_bytes = {_text(name): len(value) for name, value in fields.items()}
    finally:
        await close_redis(redis)
        await services.aclose()

    zset_share = zset_bytes / zset_count
    per_creator = median([float(size) for size in sizes]) + zset_share
    worst = max(sizes) + zset_share
    return Section(
        key="memory",
        title="5. Redis bytes per creator",
        goal=f"≤ {GOAL_BYTES} bytes (1 KiB) per creator",
        met=worst <= GOAL_BYTES,
        headline=f"{per_creator:.0f} bytes median, {worst:.0f} max",
        rows=[
            ("per creator, hash + keepalive share (median)", f"{per_creator:.0f} bytes"),
            ("per creator, worst of the sample", f"{worst:.0f} bytes"),
            (
                "the creator's hash `fve:{c}:t` (MEMORY USAGE, median)",
                f"{median([float(s) for s in sizes]):.0f} bytes",
            ),
            (
                "keepalive sorted set share",
                f"{zset_share:.0f} bytes ({zset_bytes:,} bytes / {zset_count:,} members)",
            ),
            (
                "hash field value lengths",
                ", ".join(f"{name} {size} B" for name, size in sorted(value_bytes.items())),
            ),
            (
                "one app session record `fve:e:session:*` (per open iframe)",
                f"{median([float(s) for s in session_sizes]):.0f} bytes"
                if session_sizes
                else "none",
            ),
            ("sample", f"{count} creators, real emulator tokens, after one refresh"),
        ],
        notes=[
            "`MEMORY USAGE … SAMPLES 0` counts the key, its value and Redis's per-key overhead. "
            "The sorted-set share is measured on the set as the run left it (it holds every "
            "creator the suite created, including the keepalive benchmark's fillers when that "
            "ran first).",
        ],
    )


def _text(name: bytes | str) -> str:
    # The client never decodes, but redis-py types hash field names as bytes | str.
    return name.decode() if isinstance(name, bytes) else name
