"""Shared pieces of the benchmark suite: the environment, statistics and creator set-up.

Every figure the suite reports is a ratio to a baseline measured in the same run (the machines
are shared and noisy), with medians over interleaved trials, or a count that does not depend on
timing at all.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from fanvue_embedded._devdefaults import DEV_CLIENT_ID, DEV_CLIENT_SECRET, DEV_SESSION_SECRET
from fanvue_embedded.config import Secret, Settings, parse_encryption_keys
from fanvue_embedded.crypto import Keyring
from fanvue_embedded.services import Services, build_services
from tests.support.emulator import EmulatorHandle

REDIRECT_URI = "http://127.0.0.1:8000/oauth/callback"
SCOPES = ("read:self", "read:fan")


@dataclass
class Section:
    """One benchmark's part of RESULTS.md."""

    key: str
    title: str
    goal: str
    met: bool | None
    rows: list[tuple[str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    headline: str = ""


@dataclass(frozen=True)
class BenchEnv:
    """Where the suite's own Redis and emulator are, and the key the stores share."""

    redis_url: str
    emulator: EmulatorHandle
    encryption_keys: str = field(repr=False)  # TOKEN_ENCRYPTION_KEYS; never printed
    quick: bool = False

    def settings(self, **overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "client_id": DEV_CLIENT_ID,
            "client_secret": Secret(DEV_CLIENT_SECRET),
            "redirect_uri": REDIRECT_URI,
            "session_secret": Secret(DEV_SESSION_SECRET),
            "scopes": SCOPES,
            "mode": "development",
            "platform_url": self.emulator.base_url,
            "issuer_base_url": self.emulator.base_url,
            "api_base_url": self.emulator.base_url,
            "redis_url": Secret(self.redis_url),
            "token_encryption_keys": parse_encryption_keys(self.encryption_keys),
        }
        values.update(overrides)
        return Settings(**values)

    def keyring(self) -> Keyring:
        return Keyring(parse_encryption_keys(self.encryption_keys))

    def app_environ(self) -> dict[str, str]:
        """The environment ``fanvue_embedded.app:app_from_env`` needs to serve this setup."""
        return {
            "OAUTH_CLIENT_ID": DEV_CLIENT_ID,
            "OAUTH_CLIENT_SECRET": DEV_CLIENT_SECRET,
            "OAUTH_REDIRECT_URI": REDIRECT_URI,
            "OAUTH_SCOPES": " ".join(SCOPES),
            "SESSION_SECRET": DEV_SESSION_SECRET,
            "FANVUE_EMBEDDED_MODE": "development",
            "FANVUE_PLATFORM_URL": self.emulator.base_url,
            "OAUTH_ISSUER_BASE_URL": self.emulator.base_url,
            "API_BASE_URL": self.emulator.base_url,
            "REDIS_URL": self.redis_url,
            "TOKEN_ENCRYPTION_KEYS": self.encryption_keys,
            "LOG_LEVEL": "WARNING",
        }

    def services(self) -> Services:
        return build_services(self.settings())


# --- statistics -------------------------------------------------------------------------------


def median(values: list[float]) -> float:
    return statistics.median(values)


def spread(values: list[float]) -> str:
    """min-max, to show how noisy the trials were."""
    return f"{min(values):.3g}-{max(values):.3g}"


async def time_loop(operation: Callable[[], Awaitable[object]], count: int) -> float:
    """Seconds per call of ``operation`` over ``count`` sequential calls."""
    started = time.perf_counter()
    for _ in range(count):
        await operation()
    return (time.perf_counter() - started) / count


def verdict(met: bool | None) -> str:
    if met is None:
        return "reported"
    return "met" if met else "**missed**"


# --- creators with real chains ----------------------------------------------------------------


async def add_emulator_creators(emulator: EmulatorHandle, handles: list[str]) -> None:
    """Create consenting creators in the emulator (existing handles are left as they are)."""
    async with httpx.AsyncClient(base_url=emulator.base_url, timeout=30) as client:
        gate = asyncio.Semaphore(16)

        async def add(handle: str) -> None:
            async with gate:
                response = await client.post(
                    "/_emulator/creators", json={"handle": handle, "consent": True}
                )
                if response.status_code not in (201, 409):
                    response.raise_for_status()

        await asyncio.gather(*(add(handle) for handle in handles))


async def exchange_creators(
    services: Services, emulator: EmulatorHandle, handles: list[str], concurrency: int = 16
) -> list[str]:
    """Run the real session exchange for each handle; returns the creators' uuids."""
    async with httpx.AsyncClient(base_url=emulator.base_url, timeout=30) as control:
        gate = asyncio.Semaphore(concurrency)

        async def one(handle: str) -> str:
            async with gate:
                response = await control.post("/_emulator/session-tokens", json={"creator": handle})
                response.raise_for_status()
                result = await services.exchange.exchange(response.json()["token"])
                return result.user.uuid

        return list(await asyncio.gather(*(one(handle) for handle in handles)))


async def redis_command_calls(redis: Any) -> dict[str, int]:
    """``INFO commandstats`` as {command: calls}."""
    stats = await redis.info("commandstats")
    return {
        name.removeprefix("cmdstat_"): int(values["calls"])
        for name, values in stats.items()
        if name.startswith("cmdstat_")
    }


def command_delta(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    """Commands run between two snapshots, without the INFO calls that took them."""
    delta = {name: after.get(name, 0) - before.get(name, 0) for name in after}
    delta.pop("info", None)
    return {name: count for name, count in sorted(delta.items()) if count}


class CommandCounter:
    """Counts the commands one client sends, by name (a script call counts once: EVALSHA).

    Wraps the client's ``execute_command``, which every command and script call goes
    through; ``INFO commandstats`` cannot tell those from the commands a script runs inside."""

    def __init__(self, client: Any) -> None:
        self.counts: dict[str, int] = {}
        original = client.execute_command

        async def counted(*args: Any, **kwargs: Any) -> Any:
            name = str(args[0]).lower()
            self.counts[name] = self.counts.get(name, 0) + 1
            return await original(*args, **kwargs)

        client.execute_command = counted

    def total(self) -> int:
        return sum(self.counts.values())

    def reset(self) -> None:
        self.counts.clear()


async def wait_for_live_cache(
    store: Any, creator: str, lookup: Callable[[], Awaitable[object]]
) -> None:
    """Until ``store`` serves ``creator`` from memory (its invalidation channel is live)."""
    deadline = time.monotonic() + 30
    while store.cached(creator) is None:
        if time.monotonic() > deadline:
            raise RuntimeError("the token cache never went live")
        await lookup()
        await asyncio.sleep(0.01)
