"""The invalidation channel: every process subscribes and applies what the others publish.

Writers publish from inside their Lua scripts (``PUBLISH <prefix>:inv creator|generation``),
so a write and its message are one atomic step. Plain pub/sub, not RESP3 client tracking:
redis-py's asyncio client has no client-side caching, tracking would invalidate on key
writes that do not change a token set (the attempt record, the lock's neighbour fields), and
on Redis Cluster a plain ``PUBLISH`` reaches subscribers on every node (the cluster bus
forwards it), so one subscription to any node hears every shard.

The listener keeps the cache *live* only while it knows it is subscribed: it pings on its
own connection every ``check_interval`` seconds and declares the subscription lost when a
ping goes unanswered for ``3 x check_interval`` (a silent network partition), or at once
when the connection breaks. Lost or regained, the cache is cleared.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from typing import Any

from redis import exceptions as redis_errors
from redis.asyncio import Redis
from redis.asyncio.client import PubSub
from redis.asyncio.cluster import RedisCluster

from .._redis import RedisClient
from .cache import TokenCache

__all__ = ["DEFAULT_CHECK_INTERVAL", "InvalidationListener", "parse_message"]

logger = logging.getLogger("fanvue_embedded.redis")

DEFAULT_CHECK_INTERVAL = 1.0
"""Seconds between the listener's pings: a silent partition is noticed within 3 of them."""

# Connection settings a Cluster client's nodes use that a plain client also takes.
_NODE_SETTINGS = (
    "username",
    "password",
    "ssl",
    "ssl_keyfile",
    "ssl_certfile",
    "ssl_cert_reqs",
    "ssl_ca_certs",
    "ssl_ca_data",
    "ssl_check_hostname",
    "socket_timeout",
    "socket_connect_timeout",
    "socket_keepalive",
    "socket_keepalive_options",
)


class _Silent(Exception):
    """A ping went unanswered: the subscription may be gone without the socket saying so."""


def parse_message(data: bytes) -> tuple[str, int | None] | None:
    """``b"creator|7"`` -> ``("creator", 7)``; ``b"creator|"`` -> ``("creator", None)``."""
    try:
        creator, _, raw = data.decode("utf-8").rpartition("|")
        return (creator, int(raw) if raw else None) if creator else None
    except (UnicodeDecodeError, ValueError):
        return None


class InvalidationListener:
    """Subscribes ``cache`` to ``channel`` on ``redis``'s server (any node of a Cluster)."""

    def __init__(
        self,
        redis: RedisClient,
        channel: str,
        cache: TokenCache,
        *,
        check_interval: float = DEFAULT_CHECK_INTERVAL,
    ) -> None:
        self._redis = redis
        self._channel = channel
        self._cache = cache
        self.check_interval = check_interval
        self._task: asyncio.Task[None] | None = None
        self._run_id = 0  # a run whose id is no longer current ends at its next step
        self.reconnects = 0

    def __repr__(self) -> str:
        return f"InvalidationListener(channel={self._channel!r}, live={self._cache.live})"

    def start(self) -> None:
        """Start listening in the background (idempotent; needs a running loop)."""
        loop = asyncio.get_running_loop()
        task = self._task
        if task is not None and not task.done() and task.get_loop() is loop:
            return
        self._run_id += 1  # a run on another (finished) loop must not carry on
        self._task = loop.create_task(self._run(self._run_id))

    async def aclose(self) -> None:
        """Stop listening (the cache stops serving until :meth:`start` runs again)."""
        self._run_id += 1
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            # redis-py may turn a cancelled read into a connection error; the loop then
            # sees that its run is over and ends. Never wait long for it.
            await asyncio.wait({task}, timeout=2.0)
        self._cache.set_live(False)

    async def _run(self, run_id: int) -> None:
        delay = 0.05
        while run_id == self._run_id:
            client: Redis | None = None
            pubsub: PubSub | None = None
            try:
                client = await self._client()
                pubsub = client.pubsub()
                await pubsub.subscribe(self._channel)
                confirmed = await pubsub.get_message(timeout=5 * self.check_interval)
                if not confirmed or confirmed.get("type") != "subscribe":
                    raise _Silent
                if run_id != self._run_id:
                    return
                self._cache.set_live(True)
                delay = 0.05
                await self._listen(pubsub, run_id)
            except (redis_errors.RedisError, OSError, _Silent) as exc:
                if run_id != self._run_id:
                    return
                if self._cache.live:
                    logger.warning(
                        "lost the token invalidation channel (%s); the in-process token cache "
                        "is off until it is back",
                        type(exc).__name__,
                    )
                    self.reconnects += 1
            finally:
                if run_id == self._run_id:
                    self._cache.set_live(False)
                if pubsub is not None:
                    with contextlib.suppress(Exception):
                        await pubsub.reset()  # unsubscribes and frees its connection
                if client is not None and client is not self._redis:
                    with contextlib.suppress(Exception):
                        await client.aclose()
            await asyncio.sleep(delay * (0.5 + random.random()))  # noqa: S311 - jitter only
            delay = min(delay * 2, 2.0)

    async def _client(self) -> Redis:
        """The client to subscribe with: the store's own, or for a Cluster a plain client
        to one of its nodes (a different one on each reconnect, chosen at random)."""
        if not isinstance(self._redis, RedisCluster):
            return self._redis
        cluster = self._redis
        await cluster.initialize()
        node = cluster.get_random_node()
        settings = cluster.get_connection_kwargs()
        kwargs: dict[str, Any] = {
            name: settings[name] for name in _NODE_SETTINGS if name in settings
        }
        return Redis(host=node.host, port=int(node.port), decode_responses=False, **kwargs)

    async def _listen(self, pubsub: PubSub, run_id: int) -> None:
        pinged_at: float | None = None
        last_ping = time.monotonic()
        while run_id == self._run_id:
            message = await pubsub.get_message(timeout=self.check_interval)
            if message is not None:
                kind = message.get("type")
                if kind == "message":
                    self._apply(message.get("data"))
                elif kind == "pong":
                    pinged_at = None
            now = time.monotonic()
            if pinged_at is None and now - last_ping >= self.check_interval:
                await pubsub.ping()
                pinged_at = last_ping = now
            elif pinged_at is not None and now - pinged_at > 3 * self.check_interval:
                raise _Silent

    def _apply(self, data: object) -> None:
        parsed = parse_message(data) if isinstance(data, bytes) else None
        if parsed is None:
            return
        self._cache.invalidate(*parsed)
