"""The CLI's rough edges as one-line errors: busy ports, Redis down, bad URLs; ``check``'s report;
``dev --host``; ``.env`` in the working directory."""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from fanvue_embedded._devdefaults import DEV_ENCRYPTION_KEY
from fanvue_embedded.cli import dev_environment
from tests.support.emulator import EmulatorHandle
from tests.support.servers import free_port, spawn

CLI = [sys.executable, "-m", "fanvue_embedded.cli"]


def dev_env(**extra: str) -> dict[str, str]:
    environment = dev_environment(
        app_url="http://127.0.0.1:8000", platform_url="http://127.0.0.1:9", environ={}
    )
    return {"PATH": "/usr/bin:/bin", **environment, **extra}


def run(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *args], capture_output=True, text=True, timeout=60, env=env, cwd=cwd, check=False
    )


@pytest.fixture
def busy_port() -> Iterator[int]:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        yield int(listener.getsockname()[1])


@pytest.mark.parametrize(
    ("command", "flag"),
    [
        (["emulator", "--host", "127.0.0.1", "--port", "{busy}"], "--port"),
        (["serve", "--host", "127.0.0.1", "--port", "{busy}"], "--port"),
        (["dev", "--port", "{busy}", "--emulator-port", "{free}"], "--port"),
        (["dev", "--port", "{free}", "--emulator-port", "{busy}"], "--emulator-port"),
    ],
)
def test_a_busy_port_is_one_line(
    command: list[str], flag: str, busy_port: int, tmp_path: Path
) -> None:
    args = [part.format(busy=busy_port, free=free_port()) for part in command]
    result = run(args, dev_env(), tmp_path)
    assert result.returncode == 2, result.stderr
    assert f"{flag} {busy_port}: the port is already in use on 127.0.0.1" in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize(
    "command", [["tokens", "list"], ["keys", "rotate"], ["worker"]], ids=" ".join
)
def test_redis_down_is_one_line_naming_the_host_not_the_password(
    command: list[str], tmp_path: Path
) -> None:
    port = free_port()
    env = dev_env(
        REDIS_URL=f"redis://:hunter2pass@127.0.0.1:{port}/0",
        TOKEN_ENCRYPTION_KEYS=DEV_ENCRYPTION_KEY,
    )
    result = run(command, env, tmp_path)
    assert result.returncode == 1, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Redis is unavailable" in lines[0]
    assert f"at 127.0.0.1:{port}" in lines[0]
    assert "hunter2pass" not in result.stdout + result.stderr
    assert "Traceback" not in result.stderr


def test_check_names_redis_host_when_down(tmp_path: Path) -> None:
    port = free_port()
    env = dev_env(
        REDIS_URL=f"redis://:hunter2pass@127.0.0.1:{port}/0",
        TOKEN_ENCRYPTION_KEYS=DEV_ENCRYPTION_KEY,
    )
    result = run(["check"], env, tmp_path)
    assert result.returncode == 1
    assert f"FAIL redis: unreachable at 127.0.0.1:{port}" in result.stdout
    assert "hunter2pass" not in result.stdout + result.stderr


@pytest.mark.parametrize(
    ("args", "variable", "message"),
    [
        (["tokens", "list"], {"API_BASE_URL": "http://[::1"}, "API_BASE_URL is not a valid URL"),
        (["tokens", "list"], {"FANVUE_PLATFORM_URL": "http://h:99999"}, "FANVUE_PLATFORM_URL"),
        (["check"], {"OAUTH_ISSUER_BASE_URL": "ftp://x"}, "OAUTH_ISSUER_BASE_URL must be"),
        (
            ["webhooks", "send", "--url", "http://[::1", "--type", "tip"],
            {},
            "--url: 'http://[::1' is not a valid URL",
        ),
        (
            ["webhooks", "send", "--url", "127.0.0.1:8000/x", "--type", "tip"],
            {},
            "is not an absolute http(s) URL",
        ),
    ],
)
def test_bad_urls_are_one_line(
    args: list[str], variable: dict[str, str], message: str, tmp_path: Path
) -> None:
    result = run(args, dev_env(**variable), tmp_path)
    assert result.returncode in (1, 2), result.stderr
    assert message in result.stdout + result.stderr
    assert "Traceback" not in result.stderr


def test_check_reports_only_its_lines_names_the_emulator_and_reads_dot_env(
    emulator: EmulatorHandle, tmp_path: Path
) -> None:
    environment = dev_environment(
        app_url="http://127.0.0.1:8000", platform_url=emulator.base_url, environ={}
    )
    (tmp_path / ".env").write_text(
        "".join(f'{name}="{value}"\n' for name, value in environment.items())
    )
    # The real environment wins over the file.
    env = {"PATH": "/usr/bin:/bin", "OAUTH_SCOPES": "read:self read:fan"}
    result = run(["check"], env, tmp_path)
    lines = result.stdout.strip().splitlines()
    assert result.returncode == 0, result.stdout
    assert all(line.split()[0] in ("OK", "WARN", "FAIL", "verdict:") for line in lines), lines
    assert f"a Fanvue emulator at {emulator.base_url} (not Fanvue itself)" in lines[0]
    assert "read:fan" in result.stdout
    assert "read:chat" not in result.stdout
    assert result.stderr == ""  # no httpx request log lines


def test_dev_host_binds_both_servers_there(tmp_path: Path) -> None:
    host = "127.0.0.2"  # not the default: both servers answer here, as one site
    port, emulator_port = free_port(host), free_port(host)
    log = tmp_path / "dev.log"
    with spawn(
        [*CLI, "dev", "--host", host, "--port", str(port), "--emulator-port", str(emulator_port)],
        host=host,
        port=port,
        log_path=log,
    ):
        assert httpx.get(f"http://{host}:{port}/healthz").status_code == 200
        app = httpx.get(f"http://{host}:{emulator_port}/_emulator/app").json()
        assert app["app_url"] == f"http://{host}:{port}/embedded"
    banner = log.read_text()
    assert f"Open http://{host}:{emulator_port}/ in your browser" in banner


def test_dev_default_keeps_platform_and_app_on_two_sites() -> None:
    from fanvue_embedded.devserver import dev_urls

    assert dev_urls("127.0.0.1", 8000, 9000) == ("http://127.0.0.1:8000", "http://localhost:9000")
    assert dev_urls("0.0.0.0", 8000, 9000) == ("http://127.0.0.1:8000", "http://localhost:9000")
    assert dev_urls("10.0.0.5", 8000, 9000) == ("http://10.0.0.5:8000", "http://10.0.0.5:9000")
    assert dev_urls("fd00::5", 1, 2) == ("http://[fd00::5]:1", "http://[fd00::5]:2")
