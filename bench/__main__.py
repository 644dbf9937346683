"""Run the whole benchmark suite and write bench/RESULTS.md (``scripts/bench`` calls this).

Starts its own redis-server (a free loopback port, no persistence) and its own emulator in a
separate process, runs every benchmark in turn and writes the figures with machine info.
``--quick`` shrinks every trial count for a smoke run (its output is not commit-worthy).
``--only NAME...`` runs just those benchmarks and merges their sections into the existing file.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
import traceback
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

from fanvue_embedded.crypto import generate_key
from tests.support.emulator import EmulatorHandle
from tests.support.redis_server import run_redis_server
from tests.support.servers import free_port, spawn

from . import (
    budget,
    exchange_latency,
    invalidation,
    keepalive,
    lookup,
    memory,
    paging,
    refresh,
    sniffio_cost,
    storm,
    throughput,
    typed_api,
    uploads,
)
from .common import BenchEnv, Section
from .report import machine_info, merge, render

Benchmark = Callable[[BenchEnv], Coroutine[Any, Any, Section]]

BENCHMARKS: dict[str, Benchmark] = {
    "lookup": lookup.run,
    "storm": storm.run,
    "exchange": exchange_latency.run,
    "throughput": throughput.run,
    "keepalive": keepalive.run,
    "memory": memory.run,
    "paging": paging.run,
    "typed": typed_api.run,
    "budget": budget.run,
    "uploads": uploads.run,
    "refresh": refresh.run,
    "invalidation": invalidation.run,
    "sniffio": sniffio_cost.run,
}


def _failed(key: str, exc: BaseException) -> Section:
    # The message, never a traceback with locals: nothing secret ends up in RESULTS.md.
    return Section(
        key=key,
        title=f"{key}: did not complete",
        goal="—",
        met=False,
        headline=f"failed: {type(exc).__name__}",
        notes=[f"{type(exc).__name__}: {exc}"],
    )


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("--quick", action="store_true", help="tiny trial counts (smoke run)")
    parser.add_argument("--only", nargs="*", choices=sorted(BENCHMARKS), default=None)
    parser.add_argument("--output", default=str(Path(__file__).with_name("RESULTS.md")))
    args = parser.parse_args()

    load_start = os.getloadavg()
    started = time.time()
    sections: list[Section] = []
    with run_redis_server() as (redis_url, _redis_proc):
        port = free_port()
        log = Path(os.environ.get("TMPDIR", "/tmp")) / f"fve-bench-emulator-{port}.log"
        command = [sys.executable, "-m", "bench.servers", "emulator", "--port", str(port)]
        with spawn(command, host="127.0.0.1", port=port, log_path=log):
            env = BenchEnv(
                redis_url=redis_url,
                emulator=EmulatorHandle(f"http://127.0.0.1:{port}"),
                encryption_keys=generate_key("bench"),
                quick=args.quick,
            )
            for key, benchmark in BENCHMARKS.items():
                if args.only and key not in args.only:
                    continue
                print(f"bench: {key} ...", flush=True)
                began = time.perf_counter()
                try:
                    section = asyncio.run(benchmark(env))
                except Exception as exc:
                    traceback.print_exc()
                    section = _failed(key, exc)
                section.rows.append(
                    ("wall time of this benchmark", f"{time.perf_counter() - began:.0f} s")
                )
                print(f"bench: {key}: {section.headline}", flush=True)
                sections.append(section)
                env.emulator.control("DELETE", "/faults")
    info = machine_info(started, load_start, os.getloadavg(), time.time() - started, args.quick)
    output = Path(args.output)
    if args.only and output.exists():
        # A partial run keeps the other benchmarks' committed figures.
        text = merge(output.read_text(encoding="utf-8"), sections, info)
    else:
        text = render(sections, info)
    output.write_text(text, encoding="utf-8")
    print(f"bench: wrote {args.output} in {time.time() - started:.0f} s", flush=True)
    return 0 if all(section.met is not False for section in sections) else 1


if __name__ == "__main__":
    sys.exit(main())
