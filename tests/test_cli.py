"""The command line: the emulator command over a real socket, the README's curl session, keys."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from fanvue_embedded.cli import dev_environment, main
from fanvue_embedded.config import Settings, parse_encryption_keys
from tests.support.emulator import EmulatorHandle
from tests.support.servers import bare_env, free_port, spawn, wait_for_port

ROOT = Path(__file__).resolve().parent.parent
CLI = [sys.executable, "-m", "fanvue_embedded.cli"]


def test_emulator_command_serves_and_readme_curl_session_works(tmp_path: Path) -> None:
    port = free_port()
    with spawn(
        [*CLI, "emulator", "--host", "127.0.0.1", "--port", str(port)],
        host="127.0.0.1",
        port=port,
        log_path=tmp_path / "emulator.log",
    ):
        base = f"http://127.0.0.1:{port}"
        assert httpx.get(f"{base}/_emulator/app").json()["client_id"] == "fanvue-embedded-dev"
        demo = subprocess.run(
            ["bash", str(ROOT / "scripts" / "curl-demo"), base],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert demo.returncode == 0, demo.stderr
    assert '"handle":"luna.rivers"' in demo.stdout
    assert "'rotations': 1, 'chain_breaks': 0" in demo.stdout
    banner = (tmp_path / "emulator.log").read_text()
    assert "fanvue-embedded-dev" in banner  # the registered app is printed at start


def test_dev_command_serves_the_emulator_and_the_registered_app(tmp_path: Path) -> None:
    # The main job: one command, two sites (localhost vs 127.0.0.1), the app registered in the
    # emulator, and an iframe session token exchanged by the app end to end.
    app_port, emulator_port = free_port(), free_port()
    log = tmp_path / "dev.log"
    with spawn(
        [*CLI, "dev", "--port", str(app_port), "--emulator-port", str(emulator_port)],
        host="127.0.0.1",
        port=app_port,
        env={"REDIS_URL": ""},  # the in-memory store, whatever the caller's shell has
        log_path=log,
    ):
        wait_for_port("127.0.0.1", emulator_port)
        emulator = EmulatorHandle(f"http://127.0.0.1:{emulator_port}")
        registered = emulator.control("GET", "/app")
        app = f"http://127.0.0.1:{app_port}"
        assert registered["app_url"].startswith(app + "/")
        assert all(uri.startswith(app + "/") for uri in registered["redirect_uris"])
        token = emulator.session_token("luna.rivers")
        answer = httpx.post(f"{app}/api/fanvue/session", json={"token": token}, timeout=30)
        assert answer.status_code == 200, answer.text
        session = answer.json()["session"]
        me = httpx.get(f"{app}/api/me", headers={"Authorization": f"Bearer {session}"})
        assert me.status_code == 200, me.text
        assert me.json()["handle"] == "luna.rivers"
        assert emulator.counters()["code_exchanges"] == 1
    banner = log.read_text()
    assert f"Open http://localhost:{emulator_port}/ in your browser." in banner
    assert "token store: in-memory" in banner


def test_keys_generate_prints_a_usable_key(capsys: object) -> None:
    import pytest

    assert isinstance(capsys, pytest.CaptureFixture)
    assert main(["keys", "generate", "--key-id", "k7"]) == 0
    line = capsys.readouterr().out.strip()
    keys = parse_encryption_keys(line)
    assert keys[0].key_id == "k7"
    assert len(keys[0].key) == 32


def test_dev_environment_is_valid_settings_and_keeps_redis() -> None:
    env = dev_environment(
        app_url="http://127.0.0.1:8000", platform_url="http://localhost:9000", environ={}
    )
    settings = Settings.from_env(env)
    assert settings.development
    assert settings.platform_origin == "http://localhost:9000"
    assert settings.redis_url is None
    with_redis = dev_environment(
        app_url="http://127.0.0.1:8000",
        platform_url="http://localhost:9000",
        redis_url="redis://127.0.0.1:1/0",
    )
    assert Settings.from_env(with_redis).token_encryption_keys  # a dev key is supplied


def test_serve_refuses_bad_production_config(tmp_path: Path) -> None:
    result = subprocess.run(
        [*CLI, "serve", "--port", str(free_port())],
        capture_output=True,
        text=True,
        timeout=60,
        env=bare_env(
            {
                "OAUTH_CLIENT_ID": "app",
                "OAUTH_CLIENT_SECRET": "changeme",
                "OAUTH_REDIRECT_URI": "https://app.example/cb",
                "SESSION_SECRET": "a-long-enough-session-secret-0123456789",
            }
        ),
        check=False,
    )
    assert result.returncode == 2
    assert "OAUTH_CLIENT_SECRET" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["serve", "--port", "99999"], "--port: '99999' is not a port number"),
        (["serve", "--port", "http"], "--port: 'http' is not a whole number"),
        (["serve", "--workers", "0"], "--workers: '0' must be 1 or more"),
        (["serve", "--log-level", "loud"], "--log-level: invalid choice: 'loud'"),
        (["serve", "--ssl-certfile", "/no/cert.pem"], "--ssl-certfile and --ssl-keyfile go"),
        (
            ["serve", "--ssl-certfile", "/no/cert.pem", "--ssl-keyfile", "/no/key.pem"],
            "--ssl-certfile '/no/cert.pem' / --ssl-keyfile '/no/key.pem' cannot be used: No such",
        ),
        (
            ["serve", "--ssl-certfile", "pyproject.toml", "--ssl-keyfile", "pyproject.toml"],
            "not a PEM certificate chain with its matching private key",
        ),
        (["dev", "--emulator-port", "0"], "--emulator-port: '0' is not a port number"),
        (["emulator", "--grace-seconds", "-1"], "--grace-seconds: '-1' must be a finite number"),
        (["emulator", "--grace-seconds", "nan"], "--grace-seconds: 'nan' must be a finite"),
        (["emulator", "--session-token-ttl", "0"], "--session-token-ttl: '0' must be 1 or more"),
    ],
)
def test_bad_flags_are_usage_errors_naming_the_value(args: list[str], named: str) -> None:
    environment = dev_environment(
        app_url="http://127.0.0.1:8000", platform_url="http://127.0.0.1:9", environ={}
    )
    result = subprocess.run(
        [*CLI, *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        env=bare_env(environment),
        check=False,
    )
    assert result.returncode == 2, result.stderr
    assert named in result.stderr
    assert "Traceback" not in result.stderr


def test_webhooks_send_exit_codes() -> None:
    unreachable = f"http://127.0.0.1:{free_port()}/webhooks/fanvue"
    result = subprocess.run(
        [*CLI, "webhooks", "send", "--url", unreachable, "--type", "tip.new"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert '"error": "unreachable"' in result.stdout
    # A retired, invented name has no documented sample.
    bad = subprocess.run(
        [*CLI, "webhooks", "send", "--url", unreachable, "--type", "tip"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert bad.returncode == 2
    assert "tip.new" in bad.stderr
    assert "dev-webhook-secret" not in result.stdout + result.stderr + bad.stdout + bad.stderr
