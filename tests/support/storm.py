"""Entry points and helpers for the multi-process token lifecycle tests.

Every function named without a leading underscore at module level may run in a ``spawn``
child: it builds its own Redis store, OAuth client and ``TokenManager`` from a picklable
:class:`Setup`, and reports through a multiprocessing queue — plain data only, never a token
(fingerprints stand in for tokens).
"""

from __future__ import annotations

import asyncio
import time
import traceback
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Barrier
from typing import Any, TypeAlias

from fanvue_embedded._devdefaults import DEV_CLIENT_ID, DEV_CLIENT_SECRET, DEV_REDIRECT_URI
from fanvue_embedded._http import build_async_client
from fanvue_embedded._redis import redis_from_url
from fanvue_embedded.config import EncryptionKey
from fanvue_embedded.crypto import Keyring
from fanvue_embedded.errors import FanvueError, ReauthorizationRequired
from fanvue_embedded.exchange import SessionExchange
from fanvue_embedded.oauth import OAuthClient
from fanvue_embedded.platform import PlatformClient
from fanvue_embedded.store import RedisTokenStore, TokenStore
from fanvue_embedded.tokens import TokenManager, fingerprint
from fanvue_embedded.worker import KeepaliveWorker
from tests.support.emulator import EmulatorHandle

ROUND_SECONDS = 3600.0
"""How far each storm round moves the clocks: one emulator access-token lifetime."""
BARRIER_TIMEOUT = 60.0

Report: TypeAlias = "Queue[tuple[str, Any]]"


@dataclass(frozen=True)
class Setup:
    """Everything a child needs to build its own stack (picklable)."""

    redis_url: str
    emulator_url: str
    key: bytes
    lock_ttl: float = 10.0
    http_timeout: float = 10.0

    def keyring(self) -> Keyring:
        return Keyring([EncryptionKey("k1", self.key)])


class OffsetClock:
    """Wall time plus an offset that the test moves (an injected clock per process)."""

    def __init__(self, offset: float = 0.0) -> None:
        self.offset = offset

    def __call__(self) -> float:
        return time.time() + self.offset


@asynccontextmanager
async def open_manager(
    setup: Setup,
    clock: Callable[[], float],
    *,
    on_reauthorization_required: Callable[[str, str], Awaitable[None]] | None = None,
    store: TokenStore | None = None,
) -> AsyncIterator[TokenManager]:
    """A ``TokenManager`` on its own Redis store and HTTP client, closed on exit."""
    own_store = store is None
    the_store = store or RedisTokenStore.from_url(setup.redis_url, setup.keyring(), clock=clock)
    http = build_async_client(timeout=setup.http_timeout)
    oauth = OAuthClient(
        client_id=DEV_CLIENT_ID,
        client_secret=DEV_CLIENT_SECRET,
        issuer_base_url=setup.emulator_url,
        redirect_uri=DEV_REDIRECT_URI,
        http=http,
        clock=clock,
    )
    manager = TokenManager(
        store=the_store,
        oauth=oauth,
        api_base_url=setup.emulator_url,
        http=http,
        lock_ttl=setup.lock_ttl,
        on_reauthorization_required=on_reauthorization_required,
        clock=clock,
    )
    try:
        yield manager
    finally:
        await manager.aclose()  # lets a refresh whose token was handed out commit
        await http.aclose()
        if own_store:
            await the_store.aclose()


async def authorize(
    emulator_url: str,
    store: TokenStore,
    session_token: str,
    clock: Callable[[], float] = time.time,
) -> str:
    """The embedded flow for real: authorize-on-behalf, code exchange, ``/users/me``, save.
    Returns the creator's uuid."""
    http = build_async_client()
    try:
        oauth = OAuthClient(
            client_id=DEV_CLIENT_ID,
            client_secret=DEV_CLIENT_SECRET,
            issuer_base_url=emulator_url,
            redirect_uri=DEV_REDIRECT_URI,
            http=http,
            clock=clock,
        )
        exchange = SessionExchange(
            platform=PlatformClient(platform_url=emulator_url, http=http),
            oauth=oauth,
            store=store,
            api_base_url=emulator_url,
            http=http,
            clock=clock,
        )
        result = await exchange.exchange(session_token)
    finally:
        await http.aclose()
    return result.user.uuid


def collect(report: Any, processes: list[Any], timeout: float = 120.0) -> list[Any]:
    """One result per process (raising on a reported error), then join them all."""
    results = []
    try:
        for _ in processes:
            status, value = report.get(timeout=timeout)
            assert status == "ok", value
            results.append(value)
    finally:
        stop(processes)
    return results


def stop(processes: list[Any]) -> None:
    for process in processes:
        process.join(timeout=10)
        if process.is_alive():
            process.kill()
            process.join()


async def seed(setup: Setup, emulator: EmulatorHandle, handle: str = "luna.rivers") -> str:
    """Authorize ``handle`` through the real embedded flow; tokens land in Redis."""
    store = RedisTokenStore.from_url(setup.redis_url, setup.keyring())
    try:
        return await authorize(setup.emulator_url, store, emulator.session_token(handle))
    finally:
        await store.aclose()


def _run(report: Report, work: Coroutine[Any, Any, Any]) -> None:
    """Run ``work`` and put ``("ok", result)`` or ``("error", description)`` on ``report``."""
    try:
        report.put(("ok", asyncio.run(work)))
    except BaseException as exc:  # the parent must hear about any failure, not hang
        report.put(("error", f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}"))
        raise


# --- refresh storm ----------------------------------------------------------------------------


def storm(
    setup: Setup, creator: str, callers: int, rounds: int, barrier: Barrier, report: Report
) -> None:
    """``rounds`` expiries. Each round: wait at the barrier until every process (and the
    test) is there, move the clock one token lifetime on, ask for the access token from
    ``callers`` coroutines at once, then wait at the barrier again so the test can look at
    the emulator between rounds. Reports, per round, the token fingerprints the callers got."""
    _run(report, _storm(setup, creator, callers, rounds, barrier))


async def _storm(
    setup: Setup, creator: str, callers: int, rounds: int, barrier: Barrier
) -> list[list[str]]:
    clock = OffsetClock()
    seen: list[list[str]] = []
    async with open_manager(setup, clock) as manager:
        for number in range(1, rounds + 1):
            barrier.wait(BARRIER_TIMEOUT)  # blocks the loop on purpose: nothing else runs
            clock.offset = number * ROUND_SECONDS
            tokens = await asyncio.gather(*(manager.access_token(creator) for _ in range(callers)))
            seen.append(sorted({fingerprint(token) for token in tokens}))
            barrier.wait(BARRIER_TIMEOUT)
    return seen


# --- faults -----------------------------------------------------------------------------------


def hold_refresh(setup: Setup, creator: str, report: Report) -> None:
    """Force one refresh and wait for its answer (the test kills this process meanwhile)."""
    _run(report, _hold_refresh(setup, creator))


async def _hold_refresh(setup: Setup, creator: str) -> str:
    async with open_manager(setup, time.time) as manager:
        outcome = await manager.refresh(creator, force=True)
    return outcome.value


def reauthorization_storm(
    setup: Setup,
    creator: str,
    callers: int,
    hook_counter: str,
    barrier: Barrier,
    report: Report,
) -> None:
    """At one expiry, ``callers`` coroutines ask for a token; the hook counts into Redis.
    Reports each caller's outcome as ``"token"`` or ``"<error code>:<reason>"``."""
    _run(report, _reauthorization_storm(setup, creator, callers, hook_counter, barrier))


async def _reauthorization_storm(
    setup: Setup, creator: str, callers: int, hook_counter: str, barrier: Barrier
) -> list[str]:
    counter = redis_from_url(setup.redis_url)

    async def hook(creator_uuid: str, reason: str) -> None:
        await counter.incr(hook_counter)

    async def one(manager: TokenManager) -> str:
        try:
            await manager.access_token(creator)
        except ReauthorizationRequired as exc:
            return f"{exc.code}:{exc.reason}"
        except FanvueError as exc:
            return exc.code
        return "token"

    clock = OffsetClock()
    try:
        async with open_manager(setup, clock, on_reauthorization_required=hook) as manager:
            barrier.wait(BARRIER_TIMEOUT)
            clock.offset = ROUND_SECONDS
            return list(await asyncio.gather(*(one(manager) for _ in range(callers))))
    finally:
        await counter.aclose()


# --- keepalive worker -------------------------------------------------------------------------


def sweep_once(setup: Setup, offset: float, barrier: Barrier, report: Report) -> None:
    """One keepalive sweep at ``now + offset``, started with the other copies at the barrier.
    Reports the ``SweepResult`` as a dict."""
    _run(report, _sweep_once(setup, offset, barrier))


async def _sweep_once(setup: Setup, offset: float, barrier: Barrier) -> dict[str, int]:
    clock = OffsetClock(offset)
    store = RedisTokenStore.from_url(setup.redis_url, setup.keyring(), clock=clock)
    try:
        async with open_manager(setup, clock, store=store) as manager:
            worker = KeepaliveWorker(manager, store, batch=1000, clock=clock)
            barrier.wait(BARRIER_TIMEOUT)
            return asdict(await worker.sweep())
    finally:
        await store.aclose()
