"""An unauthenticated flood must not grow Redis (README "Security").

The app is served by uvicorn in its own OS process on a real redis-server started here with a
small ``maxmemory`` and ``noeviction``: a store that grew per request would first answer writes
with OOM errors (5xx) and then refuse every creator's token refresh. 20,000 requests —
``GET /oauth/login`` and ``POST /api/fanvue/session`` with junk tokens — arrive over 48
concurrent loopback connections. Redis may gain at most the one failure counter of the flooding address.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import redis

from fanvue_embedded._devdefaults import DEV_REDIRECT_URI
from fanvue_embedded.cli import dev_environment
from fanvue_embedded.config import parse_encryption_keys
from fanvue_embedded.crypto import Keyring, generate_key
from fanvue_embedded.store import RedisTokenStore
from tests.support.emulator import EmulatorHandle
from tests.support.redis_server import run_redis_server
from tests.support.servers import free_port, spawn

pytestmark = [pytest.mark.slow, pytest.mark.anyio]

REQUESTS = 20_000
IN_FLIGHT = 48
MAXMEMORY = 3 * 1024 * 1024  # an empty server uses ~1.2 MB
GROWTH_BOUND = 1024 * 1024  # what the flood may add to used_memory beyond connection buffers
JUNK_TOKEN = "eyJhbGciOiJub25lIn0.eyJzdWIiOiJmbG9vZCJ9.junk"


@dataclass(frozen=True)
class Memory:
    used: int  # INFO used_memory
    clients: int  # of which the connections' buffers (mem_clients_normal)
    keys: int

    @property
    def stored(self) -> int:
        """What Redis holds apart from connection buffers (those follow the app's connection
        pool, which grows with concurrency, not with the number of requests)."""
        return self.used - self.clients


def _memory(client: redis.Redis) -> Memory:
    info = client.info("memory")
    return Memory(int(info["used_memory"]), int(info["mem_clients_normal"]), int(client.dbsize()))


_LOGIN = b"GET /oauth/login HTTP/1.1\r\nHost: app.test\r\n\r\n"
_EXCHANGE_BODY = json.dumps({"token": JUNK_TOKEN}).encode()
_EXCHANGE = (
    b"POST /api/fanvue/session HTTP/1.1\r\nHost: app.test\r\n"
    b"Content-Type: application/json\r\n"
    + f"Content-Length: {len(_EXCHANGE_BODY)}\r\n\r\n".encode()
    + _EXCHANGE_BODY
)


async def _flood(host: str, port: int) -> Counter[tuple[str, int]]:
    """``REQUESTS`` requests, alternately a login and a junk exchange, over ``IN_FLIGHT``
    keep-alive connections.

    A bare HTTP/1.1 client on asyncio streams: httpx's pool costs ~10 ms of client CPU per
    request at this concurrency, which would make the flood take minutes on a small machine;
    this client adds next to nothing, so the time is the server's.
    """
    statuses: Counter[tuple[str, int]] = Counter()

    async def exchange(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes
    ) -> int:
        writer.write(request)
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        length = next(
            int(line.partition(":")[2])
            for line in lines
            if line.lower().startswith("content-length:")
        )
        await reader.readexactly(length)
        return int(lines[0].split()[1])

    async def connection(first: int) -> None:
        reader, writer = await asyncio.open_connection(host, port)
        try:
            for number in range(first, REQUESTS, IN_FLIGHT):
                kind, request = ("login", _LOGIN) if number % 2 else ("exchange", _EXCHANGE)
                try:
                    status = await exchange(reader, writer, request)
                except (ConnectionError, asyncio.IncompleteReadError):
                    # The server dropped the connection (after a crash): status 0, reconnect.
                    status = 0
                    writer.close()
                    reader, writer = await asyncio.open_connection(host, port)
                statuses[(kind, status)] += 1
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    await asyncio.gather(*(connection(first) for first in range(IN_FLIGHT)))
    return statuses


async def test_unauthenticated_flood_does_not_grow_redis(
    emulator: EmulatorHandle, tmp_path: Path
) -> None:
    keys = generate_key("flood")
    with run_redis_server("--maxmemory", str(MAXMEMORY), "--maxmemory-policy", "noeviction") as (
        redis_url,
        _,
    ):
        port = free_port()
        base_url = f"http://127.0.0.1:{port}"
        env = dev_environment(
            app_url=base_url,
            platform_url=emulator.base_url,
            redis_url=redis_url,
            encryption_keys=keys,
        )
        env["OAUTH_REDIRECT_URI"] = DEV_REDIRECT_URI  # what the session's emulator registered
        env["LOG_LEVEL"] = "WARNING"
        command = [
            sys.executable,
            "-m",
            "uvicorn",
            "--factory",
            "fanvue_embedded.app:app_from_env",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--no-access-log",
            "--log-level",
            "warning",
        ]
        raw = redis.Redis.from_url(redis_url)
        store = RedisTokenStore.from_url(redis_url, Keyring(parse_encryption_keys(keys)))
        try:
            with spawn(
                command, host="127.0.0.1", port=port, env=env, log_path=tmp_path / "app.log"
            ):
                async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
                    # A creator signed in before the flood: tokens stored, a session held.
                    signed_in = await client.post(
                        "/api/fanvue/session", json={"token": emulator.session_token()}
                    )
                    assert signed_in.status_code == 200, signed_in.text
                    session = signed_in.json()["session"]
                    creator = signed_in.json()["creator"]["uuid"]
                    stored_before = await store.load(creator)
                    assert stored_before is not None

                    before = _memory(raw)
                    statuses = await _flood("127.0.0.1", port)
                    after = _memory(raw)

                    me = await client.get("/api/me", headers={"Authorization": f"Bearer {session}"})
                stored_after = await store.load(creator)
        finally:
            await store.aclose()
            raw.close()

    growth = after.stored - before.stored
    print(
        f"flood: requests={sum(statuses.values())} statuses={dict(sorted(statuses.items()))} "
        f"redis: keys +{after.keys - before.keys}, used_memory +{after.used - before.used} B "
        f"(connection buffers +{after.clients - before.clients} B, the rest +{growth} B)"
    )
    assert sum(statuses.values()) == REQUESTS
    assert [status for (_, status) in statuses if status >= 500 or status == 0] == []
    assert statuses[("login", 302)] == REQUESTS // 2
    # The first EXCHANGE_FAILURE_LIMIT (20) junk tokens were asked about upstream, plus at most
    # the requests already in flight when the 20th failure was counted; the rest refused.
    refused_upstream = statuses[("exchange", 401)]
    assert 20 <= refused_upstream <= 20 + IN_FLIGHT
    assert statuses[("exchange", 429)] == REQUESTS // 2 - refused_upstream
    assert after.keys - before.keys <= 1  # the flooding address's failure counter
    assert growth < GROWTH_BOUND
    # The creator's tokens are intact and still usable.
    assert stored_after is not None
    assert stored_after.tokens == stored_before.tokens
    assert me.status_code == 200
    assert me.json()["uuid"] == creator
