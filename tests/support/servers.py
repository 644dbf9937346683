"""Run ASGI apps and CLI servers on real sockets for tests.

``serve_in_thread`` runs uvicorn in a background thread of the test process (its own event
loop); ``spawn`` starts a command in a separate OS process and waits for its port.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from typing import Any

import uvicorn


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def wait_for_port(
    host: str, port: int, timeout: float = 20.0, proc: subprocess.Popen[Any] | None = None
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited early with code {proc.returncode}")
        with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.5):
            return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listening on {host}:{port} after {timeout}s")


@contextlib.contextmanager
def serve_in_thread(app: Any, host: str = "127.0.0.1", port: int | None = None) -> Iterator[str]:
    """Serve ``app`` with uvicorn on a real socket; yields the base URL."""
    port = port or free_port(host)
    config = uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name=f"uvicorn-{port}", daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 20
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"uvicorn did not start on {host}:{port}")
            time.sleep(0.01)
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@contextlib.contextmanager
def spawn(
    args: Sequence[str],
    *,
    host: str,
    port: int,
    env: dict[str, str] | None = None,
    log_path: str | os.PathLike[str] | None = None,
    cwd: str | os.PathLike[str] | None = None,
) -> Iterator[subprocess.Popen[bytes]]:
    """Start ``args`` as a separate OS process and wait until ``host:port`` accepts."""
    full_env = {**os.environ, **(env or {})}
    log = open(log_path, "ab") if log_path else subprocess.DEVNULL  # noqa: SIM115
    proc = subprocess.Popen(list(args), env=full_env, stdout=log, stderr=log, cwd=cwd)
    try:
        wait_for_port(host, port, proc=proc)
        yield proc
    finally:
        stop(proc)
        if not isinstance(log, int):  # a file, not subprocess.DEVNULL
            log.close()


def stop(proc: subprocess.Popen[Any]) -> None:
    """Terminate ``proc`` if it still runs; kill it if it has not exited 10 s later."""
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def bare_env(variables: dict[str, str]) -> dict[str, str]:
    """A minimal environment for a child process: ``PATH``, ``variables`` and nothing else from
    ours except coverage's settings (so a coverage run still measures the child)."""
    coverage = {name: value for name, value in os.environ.items() if name.startswith("COVERAGE_")}
    return {"PATH": "/usr/bin:/bin", **coverage, **variables}


def python_module(module: str, *args: str) -> list[str]:
    return [sys.executable, "-m", module, *args]
