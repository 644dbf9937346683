"""A real 3-master Redis Cluster on loopback ports, built from plain ``redis-server``."""

from __future__ import annotations

import contextlib
import random
import socket
import time
from collections.abc import Iterator
from pathlib import Path

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
def run_redis_cluster(
    masters: int = 3, *, appendonly: bool = False, directory: Path | None = None
) -> Iterator[str]:
    """Start ``masters`` cluster-enabled servers, split the slots, join them; yields
    ``redis+cluster://host:port`` (any node works as the seed).

    With ``directory``, each node keeps its data and ``nodes.conf`` in ``node-<i>/`` there and
    the ports are remembered in ``ports``: a second start on the same directory restarts the
    same cluster (its nodes find each other and their slots again; AOF brings the data back).
    """
    ports_file = directory / "ports" if directory else None
    restart = ports_file is not None and ports_file.exists()
    if ports_file is not None and restart:
        ports = [int(port) for port in ports_file.read_text().split()]
    else:
        ports = [free_cluster_port() for _ in range(masters)]
        if ports_file is not None:
            ports_file.write_text(" ".join(map(str, ports)))
    with contextlib.ExitStack() as stack:
        for index, port in enumerate(ports):
            node_dir = None
            if directory is not None:
                node_dir = directory / f"node-{index}"
                node_dir.mkdir(exist_ok=True)
            stack.enter_context(
                run_redis_server(
                    "--cluster-enabled",
                    "yes",
                    "--cluster-config-file",
                    "nodes.conf",
                    port=port,
                    appendonly=appendonly,
                    directory=None if node_dir is None else str(node_dir),
                )
            )
        clients = [redis.Redis(port=port) for port in ports]
        try:
            if not restart:
                _form(clients, ports)
            _wait_until_ready(clients)
        finally:
            for client in clients:
                client.close()
        yield f"redis+cluster://127.0.0.1:{ports[0]}"


def _form(clients: list[redis.Redis], ports: list[int]) -> None:
    """Split the slots evenly over the nodes and introduce them to each other."""
    share = _SLOTS // len(clients)
    for index, client in enumerate(clients):
        first = index * share
        last = _SLOTS - 1 if index == len(clients) - 1 else first + share - 1
        _cluster_command(client, "ADDSLOTSRANGE", first, last)
    for port in ports[1:]:
        _cluster_command(clients[0], "MEET", "127.0.0.1", port)


def _wait_until_ready(clients: list[redis.Redis]) -> None:
    deadline = time.monotonic() + 30
    expected = b"cluster_known_nodes:%d" % len(clients)
    while True:
        states = [_cluster_command(client, "INFO") for client in clients]
        if all(b"cluster_state:ok" in state and expected in state for state in states):
            return
        if time.monotonic() > deadline:
            raise RuntimeError("the Redis Cluster did not become ready")
        time.sleep(0.05)


def _cluster_command(client: redis.Redis, *args: str | int) -> bytes:
    """``CLUSTER <args>`` with its raw reply (no redis-py response parsing)."""
    # redis-py leaves execute_command unannotated.
    reply = client.execute_command("CLUSTER", *args)  # type: ignore[no-untyped-call]
    return reply if isinstance(reply, bytes) else str(reply).encode()
