"""Process entry points for the refresh storm (run in ``spawn`` children, so importable).

Each child plays one app process: ``callers`` coroutines ask for the creator's access token at
the same moment, once per round. Our processes move their injected clocks one token lifetime on
per round (an expiry, as time makes it: every process's in-memory copy expires too); the naive
clients expire their in-memory token. The parent releases all children through a barrier. Children report timings and token *fingerprints* (never
the tokens) through a queue.
"""

from __future__ import annotations

import asyncio
import time
import warnings
from dataclasses import dataclass
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Barrier
from typing import Any
from urllib.parse import quote_plus

from fanvue_embedded._devdefaults import DEV_CLIENT_ID, DEV_CLIENT_SECRET
from fanvue_embedded._http import build_async_client
from fanvue_embedded.config import Secret, Settings, parse_encryption_keys
from fanvue_embedded.crypto import Keyring
from fanvue_embedded.oauth import OAuthClient
from fanvue_embedded.store import RedisTokenStore
from fanvue_embedded.tokens import TokenManager, fingerprint

ROUND_SECONDS = 3600.0
"""How far each round moves our processes' clocks: one emulator access-token lifetime."""


@dataclass(frozen=True)
class StormConfig:
    redis_url: str
    emulator_url: str
    encryption_keys: str
    creator: str
    rounds: int
    callers: int


def _report(
    results: Queue[dict[str, Any]],
    index: int,
    started: float,
    finished: list[float],
    tokens: list[str],
    errors: list[str],
    cpu: float,
) -> None:
    results.put(
        {
            "process": index,
            "start": started,
            "end": max(finished) if finished else started,
            "fingerprints": sorted(set(tokens)),
            "errors": errors,
            "cpu": cpu,
        }
    )


def coordinated(config: StormConfig, index: int, barrier: Barrier, results: Queue[Any]) -> None:
    """Our ``TokenManager``: its own store, OAuth client and HTTP pool, as an app process."""
    asyncio.run(_coordinated(config, index, barrier, results))


async def _coordinated(
    config: StormConfig, index: int, barrier: Barrier, results: Queue[Any]
) -> None:
    settings = Settings(
        client_id=DEV_CLIENT_ID,
        client_secret=Secret(DEV_CLIENT_SECRET),
        redirect_uri="http://127.0.0.1:8000/oauth/callback",
        session_secret=Secret("bench-session-secret-0123456789-abcdef"),
        mode="development",
        platform_url=config.emulator_url,
        issuer_base_url=config.emulator_url,
        api_base_url=config.emulator_url,
    )
    offset = [0.0]

    def clock() -> float:
        return time.time() + offset[0]

    store = RedisTokenStore.from_url(
        config.redis_url, Keyring(parse_encryption_keys(config.encryption_keys)), clock=clock
    )
    http = build_async_client()
    oauth = OAuthClient.from_settings(settings, http=http, clock=clock)
    manager = TokenManager(
        store=store, oauth=oauth, api_base_url=config.emulator_url, http=http, clock=clock
    )
    try:
        await manager.access_token(config.creator)  # warm the Redis pool and code paths
        for _ in range(config.rounds):
            barrier.wait(timeout=120)
            offset[0] += ROUND_SECONDS  # every copy of the token is now expired
            started = time.monotonic()
            cpu_started = time.process_time()
            finished: list[float] = []
            tokens: list[str] = []
            errors: list[str] = []

            async def caller(
                finished: list[float] = finished,
                tokens: list[str] = tokens,
                errors: list[str] = errors,
            ) -> None:
                try:
                    token = await manager.access_token(config.creator)
                except Exception as exc:  # reported, not raised: the parent counts them
                    errors.append(type(exc).__name__)
                    return
                finished.append(time.monotonic())
                tokens.append(fingerprint(token))

            await asyncio.gather(*(caller() for _ in range(config.callers)))
            cpu = time.process_time() - cpu_started
            _report(results, index, started, finished, tokens, errors, cpu)
    finally:
        await store.aclose()
        await http.aclose()


def naive(
    config: StormConfig,
    index: int,
    barrier: Barrier,
    results: Queue[Any],
    token: dict[str, Any],
) -> None:
    """The naive baseline: one authlib ``AsyncOAuth2Client`` per process, auto-refreshing."""
    asyncio.run(_naive(config, index, barrier, results, token))


async def _naive(
    config: StormConfig,
    index: int,
    barrier: Barrier,
    results: Queue[Any],
    token: dict[str, Any],
) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # authlib 1.9 warns that it prefers httpx2
        from authlib.integrations.httpx_client import AsyncOAuth2Client

    # authlib joins the raw id and secret for client_secret_basic; the RFC (and the emulator)
    # want them form-encoded first, so the naive app is handed pre-encoded credentials.
    client = AsyncOAuth2Client(
        client_id=quote_plus(DEV_CLIENT_ID, safe=""),
        client_secret=quote_plus(DEV_CLIENT_SECRET, safe=""),
        token=token,
        token_endpoint=f"{config.emulator_url}/oauth2/token",
        leeway=60,
    )
    try:
        for _ in range(config.rounds):
            barrier.wait(timeout=120)
            # Every process's copy of the token expires at the same moment.
            client.token["expires_at"] = int(time.time()) - 1
            started = time.monotonic()
            cpu_started = time.process_time()
            finished: list[float] = []
            tokens: list[str] = []
            errors: list[str] = []

            async def caller(
                finished: list[float] = finished,
                tokens: list[str] = tokens,
                errors: list[str] = errors,
            ) -> None:
                try:
                    await client.ensure_active_token(client.token)  # what request() does
                except Exception as exc:
                    errors.append(type(exc).__name__)
                    return
                finished.append(time.monotonic())
                tokens.append(fingerprint(client.token["access_token"]))

            await asyncio.gather(*(caller() for _ in range(config.callers)))
            cpu = time.process_time() - cpu_started
            _report(results, index, started, finished, tokens, errors, cpu)
    finally:
        await client.aclose()
