"""8. ``GET /users/me`` three ways: the typed method, ``FanvueClient.call`` and raw httpx.

``api.users.me()`` (the generated method: one more coroutine frame and a typed assignment
over ``call``), ``client.call("getCurrentUser")`` (the spec lookup and checks, the typed-error
mapping, metrics, rate-limit bookkeeping) and a raw ``httpx.AsyncClient.get`` with the same
headers and one JSON parse (the floor), each on its own keep-alive connection to the same
emulator process with the same access token. A trial is one block of sequential calls per
side, the three blocks in rotating order; the figures are medians of per-trial ratios, with
the client-process CPU time beside them. The emulator's rate limit is lifted for the run.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

import httpx

from fanvue_embedded._http import build_async_client
from fanvue_embedded.api import FanvueAPI
from fanvue_embedded.client import FanvueClient

from .common import BenchEnv, Section, median, spread
from .paging import API_VERSION, _access_token

GOAL_RATIO = 1.05
CALLS_PER_BLOCK = 50
SIDES = ("typed", "call", "raw")


async def run(env: BenchEnv) -> Section:
    trials = 3 if env.quick else 41
    emulator = env.emulator
    previous_limit = emulator.control("GET", "/settings")["rate_limit"]
    emulator.settings(rate_limit=1_000_000_000)
    token = await _access_token(env)
    headers = {"Authorization": f"Bearer {token}", "X-Fanvue-API-Version": API_VERSION}
    wall: dict[str, list[float]] = {side: [] for side in SIDES}
    cpu: dict[str, list[float]] = {side: [] for side in SIDES}
    try:
        async with (
            httpx.AsyncClient(base_url=emulator.base_url, timeout=30) as raw_http,
            FanvueClient(token, api_base_url=emulator.base_url, http=build_async_client()) as plain,
            FanvueAPI(
                FanvueClient(token, api_base_url=emulator.base_url, http=build_async_client())
            ) as api,
        ):

            async def raw() -> str:
                response = await raw_http.get("/users/me", headers=headers)
                response.raise_for_status()
                return str(response.json()["handle"])

            async def call() -> str:
                return str((await plain.call("getCurrentUser"))["handle"])

            async def typed() -> str:
                return (await api.users.me())["handle"]

            runs: dict[str, Callable[[], Awaitable[str]]] = {
                "typed": typed,
                "call": call,
                "raw": raw,
            }
            handles = {side: await runs[side]() for side in SIDES}  # warm every connection
            if len(set(handles.values())) != 1:
                raise RuntimeError(f"the three ways disagree: {handles}")
            for trial in range(trials):
                order = SIDES[trial % 3 :] + SIDES[: trial % 3]
                for side in order:
                    started, cpu_started = time.perf_counter(), time.process_time()
                    for _ in range(CALLS_PER_BLOCK):
                        await runs[side]()
                    wall[side].append(time.perf_counter() - started)
                    cpu[side].append(time.process_time() - cpu_started)
    finally:
        emulator.settings(rate_limit=previous_limit)

    def ratios(values: dict[str, list[float]], top: str, bottom: str) -> list[float]:
        return [a / b for a, b in zip(values[top], values[bottom], strict=True)]

    typed_raw = ratios(wall, "typed", "raw")
    typed_call = ratios(wall, "typed", "call")
    call_raw = ratios(wall, "call", "raw")
    ratio = median(typed_raw)
    per_call_us = {
        side: median([seconds / CALLS_PER_BLOCK * 1e6 for seconds in wall[side]]) for side in SIDES
    }
    cpu_us = {
        side: median([seconds / CALLS_PER_BLOCK * 1e6 for seconds in cpu[side]]) for side in SIDES
    }
    return Section(
        key="typed",
        title="8. GET /users/me: typed method vs call() vs raw httpx",
        goal=f"typed method ≤ {GOAL_RATIO:.2f}x raw httpx",
        met=ratio <= GOAL_RATIO,
        headline=f"{ratio:.3f}x raw httpx ({median(typed_call):.3f}x call())",
        rows=[
            ("typed / raw (median of per-trial ratios)", f"{ratio:.3f}x ({spread(typed_raw)})"),
            ("typed / call()", f"{median(typed_call):.3f}x ({spread(typed_call)})"),
            ("call() / raw", f"{median(call_raw):.3f}x ({spread(call_raw)})"),
            ("`await api.users.me()`, per call", f"{per_call_us['typed']:.0f} µs median"),
            ('`await client.call("getCurrentUser")`, per call', f"{per_call_us['call']:.0f} µs"),
            ("raw `httpx` GET + JSON parse, per call", f"{per_call_us['raw']:.0f} µs median"),
            (
                "client-process CPU per call, typed / call() / raw (medians)",
                f"{cpu_us['typed']:.0f} / {cpu_us['call']:.0f} / {cpu_us['raw']:.0f} µs",
            ),
            ("trials", f"{trials} rounds of {CALLS_PER_BLOCK} sequential calls per side"),
        ],
        notes=[
            "Each side has its own keep-alive connection to the same emulator process; the "
            "block order rotates every trial so drift in machine load hits all three.",
            "The emulator (another process) serves most of each call's time; the CPU time of "
            "the bench process is the client side's own cost.",
        ],
    )
