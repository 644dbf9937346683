"""The floor smoke run itself (``scripts/floor-smoke`` runs it inside the floors venv).

Checks that the installed versions are the floors, starts a redis-server and
``fanvue-embedded dev --redis-url`` on free ports, opens the app as a creator through the
emulator (session exchange, then ``/api/me``), and stops it with SIGINT: the process must exit
cleanly, with no traceback (redis 5.0.0, for one, crashed here on ``aclose``).
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, proc: subprocess.Popen[bytes], what: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            sys.exit(f"floor-smoke: {what} exited early ({proc.returncode})")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
            return
        time.sleep(0.05)
    sys.exit(f"floor-smoke: {what} is not listening on {port}")


def _release(version: str) -> tuple[int, ...]:
    """``"0.30"`` and ``"0.30.0"`` are the same release."""
    parts = [int(part) for part in version.split(".")]
    while len(parts) > 1 and parts[-1] == 0:
        parts.pop()
    return tuple(parts)


def check_floors(constraints: Path) -> list[str]:
    pinned = []
    for line in constraints.read_text().split():
        name, version = line.split("==")
        installed = importlib.metadata.version(name)
        if _release(installed) != _release(version):
            sys.exit(f"floor-smoke: {name} {installed} installed, floor is {version}")
        pinned.append(f"{name}=={version}")
    return pinned


def main() -> int:
    pinned = check_floors(Path(sys.argv[1]))
    redis_port, app_port, emulator_port = free_port(), free_port(), free_port()
    workdir = tempfile.mkdtemp(prefix="fve-floors-")
    redis_server = shutil.which("redis-server")
    if redis_server is None:
        sys.exit("floor-smoke: redis-server is not installed; run scripts/setup")
    redis = subprocess.Popen(
        [redis_server, "--port", str(redis_port), "--bind", "127.0.0.1", "--dir", workdir,
         "--save", "", "--logfile", "redis.log"],
        stdout=subprocess.DEVNULL,
    )  # fmt: skip
    log = Path(workdir) / "dev.log"
    try:
        wait_for_port(redis_port, redis, "redis-server")
        with log.open("wb") as out:
            dev = subprocess.Popen(
                [sys.executable, "-m", "fanvue_embedded.cli", "dev", "--port", str(app_port),
                 "--emulator-port", str(emulator_port),
                 "--redis-url", f"redis://127.0.0.1:{redis_port}/0"],
                stdout=out, stderr=subprocess.STDOUT, cwd=workdir,  # the installed package
            )  # fmt: skip
            try:
                wait_for_port(app_port, dev, "fanvue-embedded dev")
                creator = open_the_app(app_port, emulator_port)
            except SystemExit:
                print(log.read_text(errors="replace")[-4000:], file=sys.stderr)
                raise
            finally:
                dev.send_signal(signal.SIGINT)
                code = dev.wait(30)
        output = log.read_text(errors="replace")
        if code not in (0, 130) or "Traceback" in output:
            print(output, file=sys.stderr)
            sys.exit(f"floor-smoke: dev did not shut down cleanly (exit {code})")
    finally:
        redis.terminate()
        redis.wait(10)
        shutil.rmtree(workdir, ignore_errors=True)
    print(f"floor-smoke: OK on {' '.join(pinned)} (signed in as {creator})")
    return 0


def open_the_app(app_port: int, emulator_port: int) -> str:
    emulator = f"http://localhost:{emulator_port}/_emulator"
    app = f"http://127.0.0.1:{app_port}"
    with httpx.Client(timeout=20) as http:
        token = http.post(f"{emulator}/session-tokens", json={"creator": "luna.rivers"})
        token.raise_for_status()
        session = http.post(f"{app}/api/fanvue/session", json={"token": token.json()["token"]})
        if session.status_code != 200:
            sys.exit(f"floor-smoke: session exchange answered {session.status_code}")
        bearer = {"Authorization": f"Bearer {session.json()['session']}"}
        me = http.get(f"{app}/api/me", headers=bearer)
        if me.status_code != 200:
            sys.exit(f"floor-smoke: /api/me answered {me.status_code}")
        return str(me.json()["handle"])


if __name__ == "__main__":
    sys.exit(main())
