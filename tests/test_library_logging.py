"""Logging as a library: ``create_app`` masks tokens in the loggers it serves through without
taking over the application's logging (no root handler, no level), and uvicorn's own default
logging prints a redacted access line."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

from uvicorn.logging import AccessFormatter

from fanvue_embedded.app import create_app
from fanvue_embedded.cli import dev_environment
from fanvue_embedded.logs import (
    LIBRARY_LOGGERS,
    REDACTED,
    JsonFormatter,
    RedactionFilter,
    install_redaction,
)
from tests.support.emulator import EmulatorHandle
from tests.support.hosts import host_settings
from tests.support.servers import free_port, spawn

JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJsdW5hIn0.c2lnbmF0dXJlLXNpZ25hdHVyZQ"


def _redaction_filters(name: str) -> int:
    return sum(isinstance(f, RedactionFilter) for f in logging.getLogger(name).filters)


def test_create_app_filters_the_served_loggers_and_leaves_root_alone(
    emulator: EmulatorHandle,
) -> None:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    apps = [
        create_app(host_settings(emulator.base_url, app_url="http://app.test")) for _ in range(3)
    ]
    assert root.handlers == handlers
    assert root.level == level
    assert not any(isinstance(f, RedactionFilter) for f in root.filters)
    for name in LIBRARY_LOGGERS:
        assert _redaction_filters(name) == 1, name  # idempotent across apps
    assert {"uvicorn.access", "uvicorn.error", "fanvue_embedded.app"} <= set(LIBRARY_LOGGERS)
    del apps


def test_every_logger_of_the_package_is_filtered() -> None:
    """A filter sees only its own logger's records: each logger the code names is listed."""
    package = Path(__file__).resolve().parent.parent / "fanvue_embedded"
    named = set()
    for path in package.rglob("*.py"):
        if "emulator" in path.parts:
            continue  # the emulator is a separate server with its own logging
        for line in path.read_text().splitlines():
            if 'getLogger("fanvue_embedded' in line:
                named.add(line.split('getLogger("')[1].split('"')[0])
    assert named
    assert named <= set(LIBRARY_LOGGERS)


def test_access_log_arguments_are_masked_in_place_for_uvicorns_formatter() -> None:
    install_redaction()
    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5000", "GET", f"/embedded?token={JWT}&theme=dark", "1.1", 200),
        None,
    )
    assert RedactionFilter().filter(record)
    assert isinstance(record.args, tuple)
    assert len(record.args) == 5
    line = AccessFormatter(use_colors=False).format(record)
    assert JWT not in line
    assert f"/embedded?token={REDACTED}&theme=dark" in line
    assert "200" in line

    untouched = logging.LogRecord("x", logging.INFO, __file__, 1, "%s ok", ("a",), None)
    assert RedactionFilter().filter(untouched)
    assert untouched.args == ("a",)  # nothing to mask: the record is left as it was


def test_json_lines_carry_no_ansi_colour_codes() -> None:
    record = logging.LogRecord(
        "uvicorn.error", logging.INFO, __file__, 1, "Uvicorn running on %s", ("http://x",), None
    )
    record.color_message = "Uvicorn running on \x1b[1m%s\x1b[0m"
    line = JsonFormatter().format(record)
    assert "\x1b" not in line
    assert "\\u001b" not in line
    assert json.loads(line)["message"] == "Uvicorn running on http://x"


def test_uvicorn_default_logging_prints_the_access_line_redacted(
    tmp_path: Path, emulator: EmulatorHandle
) -> None:
    port = free_port()
    env = dev_environment(
        app_url=f"http://127.0.0.1:{port}", platform_url=emulator.base_url, environ={}
    )
    log_path = tmp_path / "uvicorn.log"
    token = emulator.session_token()
    assert token.startswith("eyJ")
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        "tests.support.hosts:library_app",
        "--factory",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]
    import httpx

    with spawn(command, host="127.0.0.1", port=port, env=env, log_path=log_path):
        page = httpx.get(f"http://127.0.0.1:{port}/embedded?token={token}&theme=dark", timeout=10)
        assert page.status_code == 200
    text = log_path.read_text()
    access = [line for line in text.splitlines() if '"GET /embedded?' in line]
    assert len(access) == 1, text
    assert f"/embedded?token={REDACTED}&theme=dark" in access[0]
    assert " 200" in access[0]
    assert token not in text
