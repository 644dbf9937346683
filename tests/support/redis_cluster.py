"""A real 3-master Redis Cluster on loopback ports, built from plain ``redis-server``."""

from __future__ import annotations

import contextlib
import random
import socket
import time
from collections.abc import Iterator

import redis

from .redis_server import run_redis_server

_SLOTS = 16384


def _port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def free_cluster_port() -> int:
    """A free port whose cluster bus port (port + 10000) is free and valid too.

    An ephemeral port above 55535 would put the bus port past 65535 and redis-server exits.
    """
    for _ in range(200):
        port = random.randint(20000, 45000)
        if _port_is_free(port) and _port_is_free(port + 10000):
            return port
    raise RuntimeError("no free port pair for a Redis Cluster node")


@contextlib.contextmanager
def run_redis_cluster(masters: int = 3) -> Iterator[str]:
    """Start ``masters`` cluster-enabled servers, split the slots, join them; yields
    ``redis+cluster://host:port`` (any node works as the seed)."""
    with contextlib.ExitStack() as stack:
        urls = [
            stack.enter_context(
                run_redis_server(
                    "--cluster-enabled",
                    "yes",
                    "--cluster-config-file",
                    "nodes.conf",
                    port=free_cluster_port(),
                )
            )[0]
            for _ in range(masters)
        ]
        ports = [int(url.rsplit(":", 1)[1].split("/")[0]) for url in urls]
        clients = [redis.Redis(port=port) for port in ports]
        try:
            share = _SLOTS // masters
            for index, client in enumerate(clients):
                first = index * share
                last = _SLOTS - 1 if index == masters - 1 else first + share - 1
                client.execute_command("CLUSTER", "ADDSLOTSRANGE", first, last)
            for port in ports[1:]:
                clients[0].execute_command("CLUSTER", "MEET", "127.0.0.1", port)
            deadline = time.monotonic() + 30
            while True:
                states = [client.execute_command("CLUSTER", "INFO") for client in clients]
                if all(b"cluster_state:ok" in state for state in states) and all(
                    b"cluster_known_nodes:%d" % masters in state for state in states
                ):
                    break
                if time.monotonic() > deadline:
                    raise RuntimeError("the Redis Cluster did not become ready")
                time.sleep(0.05)
        finally:
            for client in clients:
                client.close()
        yield f"redis+cluster://127.0.0.1:{ports[0]}"


def flush_cluster(url: str) -> None:
    """Empty every master of the cluster at ``url``."""
    seed = url.replace("redis+cluster://", "redis://", 1)
    client = redis.RedisCluster.from_url(seed)
    try:
        client.flushall(target_nodes=redis.RedisCluster.PRIMARIES)
    finally:
        client.close()
