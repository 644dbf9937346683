"""Operator tasks behind the CLI: the doctor, bulk re-encryption, listing and revoking.

Nothing here prints a token: listings show creator ids, generations, expiry times and marks.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import httpx

from ._http import build_async_client
from ._preflight import redis_location
from ._redis import (
    close_redis,
    info_by_master,
    persistence_by_master,
    redis_from_url,
    translate_redis_errors,
)
from .config import ENVIRONMENTS, Settings
from .errors import FanvueError
from .store import TokenStore
from .values import KNOWN_SCOPES

__all__ = ["Check", "describe_target", "list_tokens", "reencrypt_all", "run_checks"]

Verdict = Literal["ok", "warn", "fail"]


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    verdict: Verdict
    detail: str

    def line(self) -> str:
        return f"{self.verdict.upper():4} {self.name}: {self.detail}"


def describe_target(settings: Settings) -> str:
    """Which Fanvue ``check`` talks to: a published environment, an emulator, or custom URLs."""
    urls = (settings.platform_url, settings.issuer_base_url, settings.api_base_url)
    for name, known in ENVIRONMENTS.items():
        if urls == (known["platform_url"], known["issuer_base_url"], known["api_base_url"]):
            return f"Fanvue {name} ({settings.platform_url})"
    if len(set(urls)) == 1:
        # Only an emulator serves the platform, auth and API from one origin.
        return f"a Fanvue emulator at {settings.platform_url} (not Fanvue itself)"
    return (
        f"custom Fanvue URLs (platform {urls[0]}, auth {urls[1]}, api {urls[2]}), "
        f"not Fanvue {settings.fanvue_env}"
    )


async def _check_redis(settings: Settings) -> list[Check]:
    if settings.redis_url is None:
        verdict: Verdict = "ok" if settings.development else "fail"
        return [Check("redis", verdict, "REDIS_URL not set: in-memory store (development only)")]
    try:
        client = redis_from_url(settings.redis_url.get_secret_value())
    except FanvueError as exc:
        return [Check("redis", "fail", str(exc))]
    try:
        async with translate_redis_errors():
            await client.ping()
            masters = await persistence_by_master(client)
            memory = await info_by_master(client, "memory")
    except FanvueError as exc:
        where = redis_location(settings.redis_url.get_secret_value())
        return [Check("redis", "fail", f"unreachable at {where} ({exc.code})")]
    finally:
        await close_redis(client)
    without_aof = sorted(name for name, info in masters.items() if not _aof_enabled(info))
    statuses = sorted({str(info.get("rdb_last_bgsave_status", "n/a")) for info in masters.values()})
    cluster = "" not in masters
    where = f" ({len(masters)} cluster masters)" if cluster else ""
    aof = "off" if len(without_aof) == len(masters) else "on" if not without_aof else "partly on"
    detail = f"reachable{where}; AOF {aof}; last RDB save status {'/'.join(statuses)}"
    checks = [Check("redis", "ok", detail)]
    if without_aof:
        # A restart without AOF can lose the newest refresh token of any creator who
        # refreshed since the last snapshot: their chain would be dead.
        verdict = "warn" if settings.development else "fail"
        rdb_saves = all(
            info.get("rdb_last_save_time") is not None
            and info.get("rdb_changes_since_last_save") is not None
            for info in masters.values()
        )
        on_masters = f" on {', '.join(without_aof)}" if cluster else ""
        checks.append(
            Check(
                "redis persistence",
                verdict,
                f"appendonly is off{on_masters}: enable AOF (appendonly yes, appendfsync "
                "everysec) so a restart never loses a rotated refresh token"
                + ("" if rdb_saves else "; no RDB snapshots either"),
            )
        )
    checks.append(_check_memory(memory))
    return checks


def _check_memory(masters: dict[str, dict[str, Any]]) -> Check:
    """``maxmemory-policy`` must be ``noeviction`` (in every mode): any evicting policy may
    silently drop a creator's newest refresh token under memory pressure, which kills their
    chain. With ``noeviction`` a full Redis refuses writes instead (``store_full``) and
    nothing is lost."""
    usage = []
    evicting = []
    for name, info in sorted(masters.items()):
        used = int(info.get("used_memory", 0))
        limit = int(info.get("maxmemory", 0))
        share = f" ({100 * used / limit:.0f} %)" if limit else ""
        of = _bytes(limit) if limit else "no maxmemory"
        usage.append(f"{name + ': ' if name else ''}{_bytes(used)} of {of}{share}")
        policy = str(info.get("maxmemory_policy", "unknown"))
        if policy != "noeviction":
            evicting.append(f"{name} {policy}".strip())
    detail = "memory " + "; ".join(usage)
    if evicting:
        return Check(
            "redis memory",
            "fail",
            f"{detail}. maxmemory-policy is {', '.join(evicting)}: set it to noeviction, or "
            "Redis may evict refresh tokens under memory pressure (the creator's chain dies)",
        )
    return Check("redis memory", "ok", f"{detail}; maxmemory-policy noeviction")


def _bytes(count: int) -> str:
    size = float(count)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")


def _aof_enabled(info: dict[str, Any]) -> bool:
    return str(info.get("aof_enabled", "0")) == "1"


async def _check_endpoint(http: httpx.AsyncClient, name: str, url: str) -> Check:
    try:
        response = await http.get(url)
    except httpx.HTTPError as exc:
        return Check(name, "fail", f"{url} unreachable ({type(exc).__name__})")
    return Check(name, "ok", f"{url} answered {response.status_code}")


def _check_scopes(settings: Settings) -> Check:
    unknown = [scope for scope in settings.scopes if scope not in KNOWN_SCOPES]
    writes = [scope for scope in settings.scopes if scope.startswith("write:")]
    if unknown:
        return Check("scopes", "fail", f"unknown scopes {unknown}")
    if "read:self" not in settings.scopes:
        return Check("scopes", "warn", "read:self missing: the session exchange calls /users/me")
    if writes:
        return Check("scopes", "warn", f"write scopes requested {writes}: least privilege?")
    return Check("scopes", "ok", " ".join(settings.requested_scopes))


async def run_checks(settings: Settings, *, http: httpx.AsyncClient | None = None) -> list[Check]:
    """Everything ``fanvue-embedded check`` reports, in order."""
    checks = [
        Check("configuration", "ok", f"mode {settings.mode}; checking {describe_target(settings)}"),
        _check_scopes(settings),
    ]
    if not settings.development and settings.public_url is None:
        checks.append(Check("public url", "warn", "BASE_URL (or PUBLIC_URL) not set"))
    checks += await _check_redis(settings)
    owned = http is None
    client = http or build_async_client(timeout=5.0)
    try:
        for name, url in (
            ("platform", settings.platform_url),
            ("authorization server", settings.issuer_base_url + "/oauth2/token"),
            ("api", settings.api_base_url + "/users/me"),
        ):
            checks.append(await _check_endpoint(client, name, url))
    finally:
        if owned:
            await client.aclose()
    return checks


async def reencrypt_all(
    store: TokenStore, *, progress: Callable[[int, int], None] | None = None, batch: int = 500
) -> tuple[int, int]:
    """Re-encrypt every stored token set under the newest key. Returns (seen, rewritten).

    Safe to interrupt and run again: sets already under the newest key are skipped.
    """
    seen = rewritten = 0
    async for creator in store.iter_creators(batch=batch):
        seen += 1
        if await store.reencrypt(creator):
            rewritten += 1
        if progress is not None and seen % batch == 0:
            progress(seen, rewritten)
    if progress is not None:
        progress(seen, rewritten)
    return seen, rewritten


async def list_tokens(store: TokenStore) -> list[dict[str, Any]]:
    """One row per stored creator, without any token value."""
    rows: list[dict[str, Any]] = []
    async for creator in store.iter_creators():
        stored = await store.load(creator)
        mark = await store.reauthorization_mark(creator)
        rows.append(
            {
                "creator": creator,
                "generation": stored.generation if stored else None,
                "access_expires_at": round(stored.tokens.expires_at) if stored else None,
                "has_refresh_token": bool(stored and stored.tokens.refresh_token),
                "reauthorization": dataclasses.asdict(mark) if mark else None,
            }
        )
    return rows
