"""Session-wide fixtures: a real redis-server (or REDIS_URL), anyio on asyncio."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
import redis

from tests.support.emulator import EmulatorHandle
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
