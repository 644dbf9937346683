"""``dev`` never touches production state: REDIS_URL and TOKEN_ENCRYPTION_KEYS exported in the
shell are ignored (and it says so); only ``--redis-url`` / ``--token-encryption-keys`` count."""

from __future__ import annotations

import sys
from pathlib import Path

import httpx
import redis

from fanvue_embedded.cli import dev_environment
from fanvue_embedded.config import Settings
from fanvue_embedded.crypto import generate_key
from tests.support.emulator import EmulatorHandle
from tests.support.servers import free_port, spawn

PRODUCTION_KEYS = generate_key("prod")


def test_dev_environment_ignores_redis_and_keys_from_the_environment() -> None:
    environ = {"REDIS_URL": "redis://prod.example:6379/0", "TOKEN_ENCRYPTION_KEYS": PRODUCTION_KEYS}
    env = dev_environment(
        app_url="http://127.0.0.1:8000", platform_url="http://localhost:9000", environ=environ
    )
    assert "REDIS_URL" not in env
    assert "TOKEN_ENCRYPTION_KEYS" not in env
    assert Settings.from_env(env).redis_url is None
    chosen = dev_environment(
        app_url="http://127.0.0.1:8000",
        platform_url="http://localhost:9000",
        redis_url="redis://127.0.0.1:6390/0",
        environ=environ,
    )
    assert chosen["REDIS_URL"] == "redis://127.0.0.1:6390/0"
    assert chosen["TOKEN_ENCRYPTION_KEYS"] != PRODUCTION_KEYS  # the public dev key


def run_dev_and_open_the_app(tmp_path: Path, env: dict[str, str], *flags: str) -> tuple[str, int]:
    """Start ``fanvue-embedded dev``, open the app as luna.rivers; (its output, status)."""
    app_port, emulator_port = free_port(), free_port()
    command = [sys.executable, "-m", "fanvue_embedded.cli", "dev", "--port", str(app_port)]
    log = tmp_path / "dev.log"
    with spawn(
        [*command, "--emulator-port", str(emulator_port), *flags],
        host="127.0.0.1",
        port=app_port,
        env=env,
        log_path=log,
    ):
        emulator = EmulatorHandle(f"http://localhost:{emulator_port}")
        token = emulator.session_token("luna.rivers")
        response = httpx.post(
            f"http://127.0.0.1:{app_port}/api/fanvue/session", json={"token": token}, timeout=20
        )
    return log.read_text(encoding="utf-8", errors="replace"), response.status_code


def test_dev_leaves_the_environments_redis_alone(redis_standalone_url: str, tmp_path: Path) -> None:
    env = {
        "PATH": "/usr/bin:/bin",
        "REDIS_URL": redis_standalone_url,
        "TOKEN_ENCRYPTION_KEYS": PRODUCTION_KEYS,
    }
    output, status = run_dev_and_open_the_app(tmp_path, env)
    assert status == 200  # the creator got an app session, on the memory store
    assert "dev: ignoring REDIS_URL and TOKEN_ENCRYPTION_KEYS from the environment" in output
    assert "token store: in-memory" in output
    with redis.Redis.from_url(redis_standalone_url) as client:
        assert client.dbsize() == 0  # not one key written to "production"


def test_dev_uses_redis_only_when_told_on_its_command_line(
    redis_standalone_url: str, tmp_path: Path
) -> None:
    output, status = run_dev_and_open_the_app(
        tmp_path, {"PATH": "/usr/bin:/bin"}, "--redis-url", redis_standalone_url
    )
    assert status == 200
    assert "ignoring" not in output
    assert "token store: Redis" in output
    with redis.Redis.from_url(redis_standalone_url) as client:
        assert client.zcard("fve:keepalive") == 1  # the creator's tokens are there
