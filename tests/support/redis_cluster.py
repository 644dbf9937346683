"""A real 3-master Redis Cluster on loopback ports, built from plain ``redis-server``."""

from __future__ import annotations

import contextlib
import random
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

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


def _ephemeral_floor() -> int:
    """The lowest port the kernel hands out to outgoing connections (Linux; 32768 elsewhere)."""
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def free_cluster_port() -> int:
    """A free port whose cluster bus port (port + 10000) is free too, both below the
    ephemeral range.

    Inside that range a client socket opened by another test can take the port (or its bus
    port) between this check and redis-server's bind, and the node exits at start.
    """
    ceiling = _ephemeral_floor() - 10000 - 1
    for _ in range(200):
        port = random.randint(min(10000, ceiling - 1000), ceiling)
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
    remembered: list[int] = []
    if ports_file is not None and restart:
        remembered = [int(port) for port in ports_file.read_text().split()]
    ports: list[int] = []
    with contextlib.ExitStack() as stack:
        for index in range(len(remembered) if restart else masters):
            node_dir = None
            if directory is not None:
                node_dir = directory / f"node-{index}"
                node_dir.mkdir(exist_ok=True)
            url, _proc = stack.enter_context(
                run_redis_server(
                    "--cluster-enabled",
                    "yes",
                    "--cluster-config-file",
                    "nodes.conf",
                    port=remembered[index] if restart else None,
                    pick_port=free_cluster_port,
                    appendonly=appendonly,
                    directory=None if node_dir is None else str(node_dir),
                )
            )
            ports.append(int(urlsplit(url).port or 0))
        if ports_file is not None and not restart:
            ports_file.write_text(" ".join(map(str, ports)))
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
