"""A real redis-server for the test session, on a free loopback port in a temp dir."""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator

from .servers import free_port, stop, wait_for_port


@contextlib.contextmanager
def run_redis_server(
    *extra_args: str,
    appendonly: bool = False,
    port: int | None = None,
    directory: str | None = None,
    pick_port: Callable[[], int] = free_port,
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """Start ``redis-server`` on ``port``, or on one from ``pick_port``; yields
    ``(url, process)``. Everything is removed afterwards."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise RuntimeError("redis-server is not installed; run scripts/setup")
    owned_dir = directory is None
    workdir = directory or tempfile.mkdtemp(prefix="fve-redis-")
    proc: subprocess.Popen[bytes] | None = None
    try:
        # A port picked free can be taken by another process before redis-server binds it; the
        # server then exits at start. Only a port we picked may be swapped for another.
        for attempt in range(3):
            chosen = port or pick_port()
            proc = subprocess.Popen(
                _command(binary, chosen, workdir, appendonly, extra_args),
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            try:
                wait_for_port("127.0.0.1", chosen, proc=proc)
                break
            except RuntimeError:
                if port is not None or attempt == 2:
                    raise
        assert proc is not None
        yield f"redis://127.0.0.1:{chosen}/0", proc
    finally:
        if proc is not None:
            stop(proc)
        if owned_dir:
            shutil.rmtree(workdir, ignore_errors=True)


def _command(
    binary: str, port: int, workdir: str, appendonly: bool, extra_args: tuple[str, ...]
) -> list[str]:
    return [
        binary,
        "--port",
        str(port),
        "--bind",
        "127.0.0.1",
        "--dir",
        workdir,
        "--save",
        "",
        "--appendonly",
        "yes" if appendonly else "no",
        "--protected-mode",
        "no",
        "--logfile",
        "redis.log",
        *extra_args,
    ]
