"""Session-wide fixtures: a real redis-server (or REDIS_URL), anyio on asyncio."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator

import pytest
import redis

from tests.support.emulator import EmulatorHandle
from tests.support.leaks import FIGURES, LogCapture, find_leaks, scan_log_files, scan_redis
from tests.support.redis_server import run_redis_server
from tests.support.servers import serve_in_thread


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session")
def redis_server_url() -> Iterator[str]:
    """A Redis server for the whole session: ``REDIS_URL`` if set, else one we start."""
    url = os.environ.get("REDIS_URL")
    if url:
        yield url
        return
    with run_redis_server() as (started_url, _proc):
        yield started_url


@pytest.fixture
def redis_url(redis_server_url: str) -> str:
    """The session's Redis, emptied before each test so no test sees another's keys.

    Synchronous on purpose: sync tests (multi-process ones) and async tests can both use it.
    """
    client = redis.Redis.from_url(redis_server_url)
    try:
        client.flushdb()
    finally:
        client.close()
    return redis_server_url


@pytest.fixture(scope="session")
def emulator_server() -> Iterator[EmulatorHandle]:
    """One emulator on a real socket for the session (its state is reset per test)."""
    from fanvue_embedded.emulator import EmulatorConfig, create_emulator_app

    app = create_emulator_app(EmulatorConfig())
    with serve_in_thread(app) as base_url:
        yield EmulatorHandle(base_url)


@pytest.fixture
def emulator(emulator_server: EmulatorHandle) -> EmulatorHandle:
    """The session's emulator, reset to its start state before the test."""
    emulator_server.reset()
    return emulator_server


# --- security scans (tests/test_security.py, tests/support/leaks.py) --------------------------


@pytest.fixture(scope="session", autouse=True)
def security_scans(
    redis_server_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[None]:
    """Capture every log record of the run; at the end scan logs and Redis for secrets."""
    capture = LogCapture()
    root = logging.getLogger()
    previous_level = root.level
    if root.getEffectiveLevel() > logging.INFO:
        root.setLevel(logging.INFO)  # app code logs rejections at INFO: look at those too
    root.addHandler(capture)
    try:
        yield
    finally:
        root.removeHandler(capture)
        root.setLevel(previous_level)
        lines = capture.lines()
        file_lines, file_leaks = scan_log_files(tmp_path_factory.getbasetemp())
        FIGURES.log_lines = len(lines) + file_lines
        FIGURES.log_leaks = find_leaks(lines, source="root logger") + file_leaks
        FIGURES.log_scanned = True
        FIGURES.redis_keys, FIGURES.redis_leaks = scan_redis(redis_server_url)
        FIGURES.redis_scanned = True


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    # A leak fails the run even when every test passed.
    if FIGURES.failed() and session.exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    for line in FIGURES.summary():
        terminalreporter.write_line(line, red=FIGURES.failed(), bold=line.startswith("security"))


@pytest.fixture(scope="session")
def redis_cluster_server_url() -> Iterator[str]:
    """A real 3-master Redis Cluster for the session (started only when a test asks)."""
    from tests.support.redis_cluster import run_redis_cluster

    with run_redis_cluster(3) as url:
        yield url


@pytest.fixture
def redis_cluster_url(redis_cluster_server_url: str) -> str:
    """The session's cluster, emptied on every master before the test."""
    from tests.support.redis_cluster import flush_cluster

    flush_cluster(redis_cluster_server_url)
    return redis_cluster_server_url
