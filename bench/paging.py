"""7. Listing 10,000 followers: ``FanvueClient.paginate`` vs a raw httpx page walk.

Both walk ``GET /followers`` (page style: ``page`` + ``size=50`` until ``pagination.hasMore``
is false, 200 pages) on the same emulator process with the same access token, each on its own
keep-alive connection. The raw walk is the floor: one ``httpx.AsyncClient.get`` and one JSON
parse per page, nothing else. Ours adds the spec lookup, parameter checks, the typed-error
mapping, metrics, rate-limit bookkeeping and the loop guards. Trials alternate ours / raw; the
figure is the median of per-pair ratios; the client-side CPU time of each walk is reported
beside it. The emulator's rate limit is lifted for the run (200
pages a walk would otherwise hit Fanvue's 200 requests per minute) and restored after.
"""

from __future__ import annotations

import time

import httpx

from fanvue_embedded._devdefaults import DEV_CLIENT_ID, DEV_CLIENT_SECRET, DEV_REDIRECT_URI
from fanvue_embedded._http import build_async_client
from fanvue_embedded.client import FanvueClient
from fanvue_embedded.oauth import OAuthClient
from fanvue_embedded.pkce import code_challenge_s256, generate_code_verifier, generate_state
from fanvue_embedded.platform import PlatformClient

from .common import BenchEnv, Section, median, spread

FOLLOWERS = 10_000
PAGE_SIZE = 50
GOAL_RATIO = 1.05
API_VERSION = "2025-06-26"
CREATOR = "luna.rivers"


async def _access_token(env: BenchEnv, scopes: tuple[str, ...] = ("read:self", "read:fan")) -> str:
    platform = PlatformClient(platform_url=env.emulator.base_url)
    oauth = OAuthClient(
        client_id=DEV_CLIENT_ID,
        client_secret=DEV_CLIENT_SECRET,
        issuer_base_url=env.emulator.base_url,
        redirect_uri=DEV_REDIRECT_URI,
        scopes=scopes,
    )
    try:
        verifier = generate_code_verifier()
        code = await platform.authorize_on_behalf(
            env.emulator.session_token(CREATOR), code_challenge_s256(verifier), generate_state()
        )
        return (await oauth.exchange_code(code, verifier)).access_token
    finally:
        await platform.aclose()
        await oauth.aclose()


async def _raw_walk(http: httpx.AsyncClient, token: str) -> int:
    headers = {"Authorization": f"Bearer {token}", "X-Fanvue-API-Version": API_VERSION}
    count, page = 0, 1
    while True:
        response = await http.get(
            "/followers", params={"page": page, "size": PAGE_SIZE}, headers=headers
        )
        response.raise_for_status()
        body = response.json()
        count += len(body["data"])
        if not body["pagination"]["hasMore"]:
            return count
        page += 1


async def _ours(api: FanvueClient) -> int:
    count = 0
    async for _ in api.paginate("/followers", page_size=PAGE_SIZE):
        count += 1
    return count


async def run(env: BenchEnv) -> Section:
    trials = 3 if env.quick else 21
    emulator = env.emulator
    creator = emulator.creator_uuid(CREATOR)
    emulator.control("POST", f"/creators/{creator}/world", json={"followers": FOLLOWERS})
    previous_limit = emulator.control("GET", "/settings")["rate_limit"]
    emulator.settings(rate_limit=1_000_000_000)
    token = await _access_token(env)
    ours_s: list[float] = []
    raw_s: list[float] = []
    ratios: list[float] = []
    cpu_ratios: list[float] = []
    try:
        async with (
            httpx.AsyncClient(base_url=emulator.base_url, timeout=30) as raw_http,
            FanvueClient(token, api_base_url=emulator.base_url, http=build_async_client()) as api,
        ):
            # Warm both connections and check both see the whole list.
            counts = (await _ours(api), await _raw_walk(raw_http, token))
            if counts != (FOLLOWERS, FOLLOWERS):
                raise RuntimeError(f"expected {FOLLOWERS} followers from both walks, got {counts}")
            for trial in range(trials):
                pair: dict[str, float] = {}
                cpu: dict[str, float] = {}
                # Alternate who goes first, so drift in machine load hits both sides.
                order = ("ours", "raw") if trial % 2 == 0 else ("raw", "ours")
                for side in order:
                    started, cpu_started = time.perf_counter(), time.process_time()
                    if side == "ours":
                        await _ours(api)
                    else:
                        await _raw_walk(raw_http, token)
                    pair[side] = time.perf_counter() - started
                    cpu[side] = time.process_time() - cpu_started
                ours_s.append(pair["ours"])
                raw_s.append(pair["raw"])
                ratios.append(pair["ours"] / pair["raw"])
                cpu_ratios.append(cpu["ours"] / cpu["raw"])
    finally:
        emulator.settings(rate_limit=previous_limit)
    ratio = median(ratios)
    pages = FOLLOWERS // PAGE_SIZE
    ours_ms = [seconds * 1000 for seconds in ours_s]
    raw_ms = [seconds * 1000 for seconds in raw_s]
    # Median of per-pair differences: the two walks of a pair ran back to back.
    per_page_us = median([(o - r) / pages * 1e6 for o, r in zip(ours_s, raw_s, strict=True)])
    return Section(
        key="paging",
        title="7. Listing 10,000 followers: paginate vs a raw httpx page walk",
        goal=f"≤ {GOAL_RATIO:.2f}x the raw walk",
        met=ratio <= GOAL_RATIO,
        headline=f"{ratio:.3f}x the raw walk",
        rows=[
            ("paginate / raw walk (median of per-pair ratios)", f"{ratio:.3f}x ({spread(ratios)})"),
            ('`paginate("/followers", page_size=50)`', f"{median(ours_ms):.0f} ms median"),
            ("raw httpx page walk", f"{median(raw_ms):.0f} ms median"),
            ("whole-list times, ours / raw (min-max)", f"{spread(ours_ms)} / {spread(raw_ms)} ms"),
            ("per page, ours - raw (median of per-pair differences)", f"{per_page_us:.0f} µs"),
            (
                "client-process CPU time, ours / raw (median of per-pair ratios)",
                f"{median(cpu_ratios):.3f}x ({spread(cpu_ratios)})",
            ),
            ("trials", f"{trials} pairs of whole-list walks, {pages} pages of {PAGE_SIZE} each"),
        ],
        notes=[
            "Both walks use their own keep-alive connection to the same emulator process; the "
            "emulator's rate limit is lifted for the run.",
            "The emulator (another process) serves most of each walk's time, so on a loaded "
            "machine the wall-clock ratio swings with its scheduling; the CPU time of the bench "
            "process (the client side only) is the steadier view of the client's own cost.",
        ],
    )
