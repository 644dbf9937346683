"""The one place redis-py enters: building clients from URLs and translating its errors.

Supported URLs (the password, if any, lives in the URL and is never logged):

- ``redis://[user:password@]host:port[/db]``, ``rediss://...`` (TLS), ``unix:///path?db=0``
- ``redis+sentinel://[user:password@]host:port[,host:port...]/service_name[/db]``
  (``rediss+sentinel://`` for TLS to the master); the credentials are the master's.
- ``redis+cluster://[user:password@]host:port`` (``rediss+cluster://`` for TLS): any seed node.

Every client is built with ``decode_responses=False``: stored values are binary ciphertext.

Bursts queue instead of failing: a client holds at most ``max_connections`` connections (per
node on a Cluster) and a command that finds them all busy *waits* up to ``pool_timeout``
seconds for one (then ``StoreUnavailable``). redis-py's own pools raise at once
(``MaxConnectionsError``, "Too many connections"), which turned a burst of 200 requests into
503s. Standalone and Sentinel use a blocking pool; redis-py's Cluster client has none, so
:class:`GatedRedisCluster` puts a semaphore of the same size in front of its commands.

A stalled Redis fails fast instead of hanging: every connection (sentinels' too) has a socket
timeout (``socket_timeout``, default :data:`DEFAULT_SOCKET_TIMEOUT`), for connecting and for
each reply, so a command to a server that stopped answering (a paused process, a network that
drops packets) ends in ``StoreUnavailable``. redis-py drops a connection whose reply timed out,
so a late reply is never read as the answer to another command. A ``socket_timeout`` in the
URL's query wins over the argument.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from collections.abc import AsyncIterator
from typing import Any, TypeAlias
from urllib.parse import unquote, urlsplit, urlunsplit

from redis import exceptions as redis_errors
from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.cluster import RedisCluster
from redis.asyncio.sentinel import Sentinel, SentinelConnectionPool

from .errors import ConfigurationError, StoreFull, StoreUnavailable

__all__ = [
    "DEFAULT_MAX_CONNECTIONS",
    "DEFAULT_POOL_TIMEOUT",
    "DEFAULT_SOCKET_TIMEOUT",
    "GatedRedisCluster",
    "RedisClient",
    "close_redis",
    "cluster_seed_url",
    "ensure_bytes_client",
    "info_by_master",
    "persistence_by_master",
    "redis_from_url",
    "translate_redis_errors",
]

RedisClient: TypeAlias = Redis | RedisCluster

logger = logging.getLogger("fanvue_embedded.redis")

DEFAULT_MAX_CONNECTIONS = 64
"""Connections one client opens at most (per Cluster node); more commands queue for one."""
DEFAULT_POOL_TIMEOUT = 5.0
"""How long a command waits for a free connection before ``StoreUnavailable`` (seconds)."""
DEFAULT_SOCKET_TIMEOUT = 5.0
"""How long connecting, or waiting for one reply, may take before ``StoreUnavailable``
(seconds). Every command the library sends is short (no blocking commands), so a reply this
late means the server is stalled, not busy."""

# Errors that mean "Redis can't be reached or can't serve right now": callers retry later.
_UNAVAILABLE: tuple[type[BaseException], ...] = (
    redis_errors.ConnectionError,
    redis_errors.TimeoutError,
    redis_errors.ClusterDownError,
    redis_errors.TryAgainError,
    redis_errors.SlotNotCoveredError,
    redis_errors.ReadOnlyError,  # a failover demoted the node we were writing to
    OSError,
)
# Subclasses of ConnectionError that no retry will fix.
_MISCONFIGURED: tuple[type[BaseException], ...] = (
    redis_errors.AuthenticationError,
    redis_errors.AuthorizationError,
)


# Error replies that mean "this server can't take the command right now" although it answered.
# Inside a Lua script Redis may wrap them ("ERR Error running script ... -OOM ..."), so they
# are also matched by text. MISCONF: an RDB save failed and writes are stopped; MASTERDOWN: a
# replica lost its master; BUSY: a script runs too long; NOREPLICAS: min-replicas not met.
_FULL_REPLY = re.compile(r"(?:^|[-\s])OOM\b|command not allowed when used memory")
_UNAVAILABLE_REPLY = re.compile(r"(?:^|[-\s])(?:READONLY|MISCONF|MASTERDOWN|BUSY|NOREPLICAS)\b")

# A full Redis refuses every write of every request: say so once a minute, not per request.
FULL_LOG_INTERVAL = 60.0
_full_logged_at: float | None = None


@contextlib.asynccontextmanager
async def translate_redis_errors() -> AsyncIterator[None]:
    """Turn redis-py failures into :class:`StoreUnavailable` (:class:`StoreFull` when Redis
    refuses writes at ``maxmemory``) and bad credentials into :class:`ConfigurationError`. The
    message names the error class only: redis-py messages can carry host names and, for some
    errors, the URL."""
    try:
        yield
    except _MISCONFIGURED as exc:
        raise ConfigurationError(
            f"Redis refused the credentials ({type(exc).__name__}); check REDIS_URL.",
            variable="REDIS_URL",
        ) from exc
    except redis_errors.OutOfMemoryError as exc:
        raise _store_full() from exc
    except _UNAVAILABLE as exc:
        raise StoreUnavailable(f"Redis is unavailable ({type(exc).__name__})") from exc
    except redis_errors.ResponseError as exc:
        text = str(exc)
        if _FULL_REPLY.search(text):
            raise _store_full() from exc
        if _UNAVAILABLE_REPLY.search(text):
            raise StoreUnavailable(f"Redis is unavailable ({type(exc).__name__})") from exc
        raise


def _store_full() -> StoreFull:
    global _full_logged_at
    now = time.monotonic()
    if _full_logged_at is None or now - _full_logged_at >= FULL_LOG_INTERVAL:
        _full_logged_at = now
        logger.error(
            "Redis refuses writes: it reached maxmemory (noeviction). Requests that write fail "
            "with store_full until memory is freed or maxmemory raised (logged once a minute)"
        )
    return StoreFull("Redis refuses writes: maxmemory reached (store_full)")


def redis_from_url(
    url: str,
    *,
    max_connections: int = DEFAULT_MAX_CONNECTIONS,
    pool_timeout: float = DEFAULT_POOL_TIMEOUT,
    socket_timeout: float = DEFAULT_SOCKET_TIMEOUT,
    **kwargs: Any,
) -> RedisClient:
    """Build an asyncio client for ``url`` (see the module docstring for the schemes), with a
    pool of ``max_connections`` that makes commands wait up to ``pool_timeout`` seconds, and
    connections that give up on a server silent for ``socket_timeout`` seconds."""
    if max_connections < 1 or pool_timeout <= 0:
        raise ConfigurationError(
            "REDIS_MAX_CONNECTIONS must be at least 1 and REDIS_POOL_TIMEOUT positive.",
            variable="REDIS_MAX_CONNECTIONS",
        )
    if not socket_timeout > 0:
        raise ConfigurationError(
            "REDIS_SOCKET_TIMEOUT must be positive.", variable="REDIS_SOCKET_TIMEOUT"
        )
    kwargs["decode_responses"] = False
    kwargs.setdefault("socket_timeout", socket_timeout)
    kwargs.setdefault("socket_connect_timeout", socket_timeout)
    try:
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme in ("redis", "rediss", "unix"):
            pool = BlockingConnectionPool.from_url(
                url, max_connections=max_connections, timeout=pool_timeout, **kwargs
            )
            return Redis.from_pool(pool)
        seed = cluster_seed_url(url)
        if seed is not None:
            return GatedRedisCluster.from_url(
                seed, max_connections=max_connections, pool_timeout=pool_timeout, **kwargs
            )
        if scheme in ("redis+sentinel", "rediss+sentinel"):
            return _sentinel_master(
                parts.netloc,
                parts.path,
                tls=scheme.startswith("rediss"),
                max_connections=max_connections,
                pool_timeout=pool_timeout,
                **kwargs,
            )
    except ConfigurationError:
        raise
    except (ValueError, TypeError) as exc:
        # Not the parser's message: it may quote parts of the URL (which can hold a password).
        raise ConfigurationError(
            "REDIS_URL is malformed: its host, port or database cannot be parsed (expected "
            "e.g. redis://[user:password@]host:6379/0).",
            variable="REDIS_URL",
        ) from exc
    raise ConfigurationError(
        f"REDIS_URL has an unsupported scheme {parts.scheme!r}; use redis://, rediss://, unix://, "
        "redis+sentinel:// or redis+cluster://.",
        variable="REDIS_URL",
    )


class GatedRedisCluster(RedisCluster):
    """redis-py's Cluster client, except that a command finding ``max_connections`` commands
    in flight waits (up to ``pool_timeout``) instead of raising ``MaxConnectionsError``.

    Every command passes through :meth:`execute_command` (scripts too); at most
    ``max_connections`` are in flight, so no node ever needs more connections than that.
    Each node is allowed a few more, for redis-py's own topology refreshes.
    """

    def __init__(
        self, *args: Any, max_connections: int = DEFAULT_MAX_CONNECTIONS, **kwargs: Any
    ) -> None:
        self._fve_pool_timeout = float(kwargs.pop("pool_timeout", DEFAULT_POOL_TIMEOUT))
        self._fve_gate = asyncio.Semaphore(max_connections)
        kwargs["max_connections"] = max_connections + 8
        super().__init__(*args, **kwargs)

    async def execute_command(self, *args: Any, **kwargs: Any) -> Any:
        gate = self._fve_gate
        if gate.locked():
            try:
                await asyncio.wait_for(gate.acquire(), self._fve_pool_timeout)
            except TimeoutError as exc:
                raise redis_errors.ConnectionError("No connection available.") from exc
        else:
            # A free slot is taken without suspending; wait_for would wrap the acquire in a
            # task (Python 3.11) and cost every command an extra turn of the event loop.
            await gate.acquire()
        try:
            return await super().execute_command(*args, **kwargs)
        finally:
            self._fve_gate.release()


class _BlockingSentinelPool(SentinelConnectionPool, BlockingConnectionPool):
    """Sentinel's master discovery with the blocking pool's bounded wait."""


def cluster_seed_url(url: str) -> str | None:
    """For ``redis+cluster://`` (``rediss+cluster://``), the seed node's URL in the form
    redis-py's cluster client takes (``redis://``, ``rediss://``); ``None`` for other URLs."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in ("redis+cluster", "rediss+cluster"):
        return None
    return urlunsplit(("rediss" if scheme.startswith("rediss") else "redis", *parts[1:]))


def _sentinel_master(
    netloc: str,
    path: str,
    *,
    tls: bool,
    max_connections: int,
    pool_timeout: float,
    **kwargs: Any,
) -> Redis:
    userinfo, _, hosts = netloc.rpartition("@")
    if userinfo:
        user, has_password, password = userinfo.partition(":")
        if has_password:
            kwargs["username"] = unquote(user) or None
            kwargs["password"] = unquote(password)
        else:
            kwargs["password"] = unquote(user)
    sentinels: list[tuple[str, int]] = []
    for item in hosts.split(","):
        host, _, port = item.strip().rpartition(":")
        try:
            sentinels.append((host.strip("[]") or "localhost", int(port)))
        except ValueError as exc:
            raise ConfigurationError(
                "REDIS_URL sentinel hosts must look like host:port[,host:port].",
                variable="REDIS_URL",
            ) from exc
    segments = [segment for segment in path.split("/") if segment]
    if not sentinels or not 1 <= len(segments) <= 2:
        raise ConfigurationError(
            "REDIS_URL must look like redis+sentinel://host:port[,host:port]/service_name[/db].",
            variable="REDIS_URL",
        )
    if len(segments) == 2:
        if not segments[1].isdigit():
            raise ConfigurationError(
                "REDIS_URL sentinel db must be a number.", variable="REDIS_URL"
            )
        kwargs["db"] = int(segments[1])
    if tls:
        kwargs["ssl"] = True
    # Sentinels get only the socket options: their auth differs from the master's.
    sentinel = Sentinel(sentinels, **kwargs)  # type: ignore[no-untyped-call]
    master: Redis = sentinel.master_for(
        segments[0],
        redis_class=Redis,
        connection_pool_class=_BlockingSentinelPool,
        max_connections=max_connections,
        timeout=pool_timeout,
    )
    # The sentinel clients hold their own connections; close_redis() closes them too.
    master._fve_sentinel = sentinel  # type: ignore[attr-defined]
    return master


async def close_redis(client: RedisClient) -> None:
    """Close ``client`` and, for a Sentinel-discovered master, the sentinel connections."""
    await client.aclose()
    sentinel = getattr(client, "_fve_sentinel", None)
    if sentinel is not None:
        for sentinel_client in sentinel.sentinels:
            await sentinel_client.aclose()


async def info_by_master(client: RedisClient, section: str) -> dict[str, dict[str, Any]]:
    """``INFO <section>`` of every master: one entry (named ``""``) for a standalone or
    Sentinel-discovered server, one per primary node (``host:port``) for a Cluster, since each
    master holds (persists, keeps in memory) only its own slots."""
    if isinstance(client, RedisCluster):
        primaries = client.get_primaries()
        infos = await client.info(section, target_nodes=RedisCluster.PRIMARIES)
        if len(primaries) == 1:  # redis-py unwraps a single node's answer
            return {primaries[0].name: infos}
        return dict(infos)
    return {"": await client.info(section)}


async def persistence_by_master(client: RedisClient) -> dict[str, dict[str, Any]]:
    """``INFO persistence`` of every master (see :func:`info_by_master`)."""
    return await info_by_master(client, "persistence")


def ensure_bytes_client(client: RedisClient) -> None:
    """Refuse a client built with ``decode_responses=True``: ciphertext is binary."""
    connection_kwargs = client.get_connection_kwargs()
    if connection_kwargs.get("decode_responses"):
        raise ConfigurationError(
            "the Redis client must be created with decode_responses=False (values are binary)."
        )
