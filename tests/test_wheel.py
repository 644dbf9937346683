"""The built wheel on its own: installed in a fresh venv, ``dev`` runs from outside the checkout,
and mypy sees the package's types (``py.typed``), not ``Any``."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import httpx
import pytest

from tests.support.servers import free_port, spawn

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.slow


def _run(args: list[str], cwd: Path, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    env = {
        key: value for key, value in os.environ.items() if key not in ("PYTHONPATH", "VIRTUAL_ENV")
    }
    return subprocess.run(
        args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv holding only the wheel and its dependencies; yields its bin directory."""
    where = tmp_path_factory.mktemp("wheel")
    built = _run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(where), str(ROOT)],
        cwd=where,
    )
    assert built.returncode == 0, built.stderr
    (wheel,) = where.glob("fanvue_embedded-*.whl")
    venv = where / "venv"
    assert _run([sys.executable, "-m", "venv", str(venv)], cwd=where).returncode == 0
    install = _run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q", str(wheel)], where)
    assert install.returncode == 0, install.stderr
    return venv / "bin"


def test_the_wheel_alone_runs_dev_outside_the_checkout(installed: Path, tmp_path: Path) -> None:
    located = _run(
        [
            str(installed / "python"),
            "-c",
            "import fanvue_embedded; print(fanvue_embedded.__file__)",
        ],
        cwd=tmp_path,
    )
    assert str(installed.parent) in located.stdout, located  # not the checkout
    port, emulator_port = free_port(), free_port()
    with spawn(
        [
            str(installed / "fanvue-embedded"),
            "dev",
            "--port",
            str(port),
            "--emulator-port",
            str(emulator_port),
        ],
        host="127.0.0.1",
        port=port,
        env={"PYTHONPATH": ""},
        log_path=tmp_path / "dev.log",
        cwd=tmp_path,
    ):
        assert httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200
        page = httpx.get(f"http://127.0.0.1:{port}/embedded")
        assert page.status_code == 200
        assert httpx.get(f"http://127.0.0.1:{port}/embedded/static/app.js").status_code == 200
        app = httpx.get(f"http://localhost:{emulator_port}/_emulator/app").json()
        assert app["client_id"] == "fanvue-embedded-dev"


def test_mypy_strict_sees_the_packages_types(installed: Path, tmp_path: Path) -> None:
    (tmp_path / "good.py").write_text(
        textwrap.dedent(
            """
            from fanvue_embedded import FanvueClient, Settings, TokenManager, create_app
            from starlette.applications import Starlette


            def build(settings: Settings) -> Starlette:
                return create_app(settings)


            def client_for(tokens: TokenManager, creator: str) -> FanvueClient:
                return tokens.client(creator)
            """
        )
    )
    (tmp_path / "bad.py").write_text(
        textwrap.dedent(
            """
            from fanvue_embedded import Settings


            def client_id(settings: Settings) -> int:
                reveal_type(settings.client_id)
                return settings.client_id
            """
        )
    )
    result = _run(
        [
            str(ROOT / ".venv" / "bin" / "mypy"),
            "--strict",
            "--python-executable",
            str(installed / "python"),
            "--cache-dir",
            str(tmp_path / ".mypy_cache"),
            "good.py",
            "bad.py",
        ],
        cwd=tmp_path,
    )
    output = result.stdout
    assert result.returncode == 1, output
    assert "missing library stubs or py.typed marker" not in output
    assert 'bad.py:6: note: Revealed type is "str"' in output
    assert 'bad.py:7: error: Incompatible return value type (got "str", expected "int")' in output
    assert "good.py" not in output
