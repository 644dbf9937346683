"""Session-wide fixtures: real Redis (a standalone server and a 3-master Cluster, or
REDIS_URL and REDIS_CLUSTER_URL), the emulator, anyio on asyncio, the security scans.

Which topology a Redis-backed test runs on (the ``redis_url`` fixture):

- marked ``@pytest.mark.both_topologies`` (module ``pytestmark`` or the test): once on the
  standalone server and once on the Cluster. That is for tests where the topology changes
  behaviour: key slots and Lua scripts (store, locks, ephemeral store, budget, webhook inbox),
  the refresh coordinator and its multi-process storm and fault tests, the worker, the
  invalidation channel and the token cache, outages, the Cluster's connection pools (burst,
  threads and forks of the sync facade) and the operator CLI's scans of every master;
- unmarked: on the standalone server only. These tests need *a* Redis (app and webhook
  routes, the browser and HTTPS end-to-end runs, route fuzzing, the session exchange); the
  store underneath is the same code, and its contract runs on both topologies above.

Fixtures that choose the topology themselves (``redis_url_for``, e.g. beside an in-memory
variant) list theirs in their ``params``. ``TEST_REDIS_TOPOLOGY`` overrides all of this for a
local run: ``redis`` or ``cluster`` runs every ``redis_url`` test on that one topology.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest

from fanvue_embedded._devdefaults import DEV_CLIENT_ID, DEV_CLIENT_SECRET, DEV_REDIRECT_URI
from fanvue_embedded.oauth import OAuthClient
from fanvue_embedded.platform import PlatformClient
from tests.support.emulator import EmulatorHandle
from tests.support.leaks import FIGURES, LogCapture, find_leaks, scan_log_files, scan_redis
from tests.support.protocol import SCOPES
from tests.support.redis_server import run_redis_server
from tests.support.redis_topology import flush, redis_url_for
from tests.support.servers import serve_in_thread


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    return "asyncio"


REDIS_TOPOLOGIES = ("redis", "cluster")
"""A standalone server and a real 3-master Redis Cluster (see the module docstring for which
tests run on which)."""


def _topologies(both: bool) -> tuple[str, ...]:
    chosen = os.environ.get("TEST_REDIS_TOPOLOGY", "").strip().lower()
    if not chosen or chosen == "both":
        return REDIS_TOPOLOGIES if both else REDIS_TOPOLOGIES[:1]
    if chosen not in REDIS_TOPOLOGIES:
        raise pytest.UsageError(
            f"TEST_REDIS_TOPOLOGY={chosen!r}: use one of {', '.join(REDIS_TOPOLOGIES)} or both"
        )
    return (chosen,)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "redis_url" in metafunc.fixturenames:
        both = metafunc.definition.get_closest_marker("both_topologies") is not None
        metafunc.parametrize("redis_url", _topologies(both), indirect=True)


@pytest.fixture(scope="session")
def redis_server_url() -> Iterator[str]:
    """A standalone Redis server for the whole session: ``REDIS_URL`` if set, else one we start."""
    with _session_redis("REDIS_URL", _standalone) as url:
        yield url


@pytest.fixture(scope="session")
def redis_cluster_server_url() -> Iterator[str]:
    """A real 3-master Redis Cluster for the session: ``REDIS_CLUSTER_URL``
    (``redis+cluster://host:port``) if set, else one we start (only when a test asks)."""
    from tests.support.redis_cluster import run_redis_cluster

    with _session_redis("REDIS_CLUSTER_URL", run_redis_cluster) as url:
        yield url


@contextlib.contextmanager
def _standalone() -> Iterator[str]:
    with run_redis_server() as (url, _proc):
        yield url


@contextlib.contextmanager
def _session_redis(
    variable: str, start: Callable[[], contextlib.AbstractContextManager[str]]
) -> Iterator[str]:
    """The server named by ``variable`` (emptied first: it may hold anything), else one from
    ``start``; what the last test left is scanned before it goes."""
    given = os.environ.get(variable)
    with contextlib.nullcontext(given) if given else start() as url:
        if given:
            flush(url)
        yield url
        scan_for_plaintext(url)


def scan_for_plaintext(url: str) -> None:
    """Look through everything the previous test left in Redis for token plaintext (the
    security figures; a leak fails the run)."""
    FIGURES.record_redis_scan(*scan_redis(url))


def _fresh(url: str) -> str:
    """Scan what the previous test left, then empty it: no test sees another's keys."""
    scan_for_plaintext(url)
    flush(url)
    return url


@pytest.fixture
def redis_url(request: pytest.FixtureRequest) -> str:
    """A Redis URL, emptied before the test: ``redis://...``, and for tests marked
    ``both_topologies`` also ``redis+cluster://...``. Build clients with ``redis_from_url`` (async)
    or ``tests.support.redis_topology.sync_client``; both understand either form.

    Synchronous on purpose: sync tests (multi-process ones) and async tests can both use it.
    """
    return redis_url_for(request, request.param)


@pytest.fixture
def redis_standalone_url(redis_server_url: str) -> str:
    """The session's standalone server, emptied before the test (for fixtures that choose
    the topology themselves, e.g. next to an in-memory variant)."""
    return _fresh(redis_server_url)


@pytest.fixture
def redis_cluster_url(redis_cluster_server_url: str) -> str:
    """The session's cluster, emptied on every master before the test."""
    return _fresh(redis_cluster_server_url)


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


@pytest.fixture
async def oauth(emulator: EmulatorHandle) -> AsyncIterator[OAuthClient]:
    """The token endpoint's client for the dev app, against the session's emulator."""
    client = OAuthClient(
        client_id=DEV_CLIENT_ID,
        client_secret=DEV_CLIENT_SECRET,
        issuer_base_url=emulator.base_url,
        redirect_uri=DEV_REDIRECT_URI,
        scopes=SCOPES,
    )
    yield client
    await client.aclose()


@pytest.fixture
async def platform(emulator: EmulatorHandle) -> AsyncIterator[PlatformClient]:
    """The authorize-on-behalf client, against the session's emulator."""
    client = PlatformClient(platform_url=emulator.base_url)
    yield client
    await client.aclose()


# --- security scans (tests/test_security.py, tests/support/leaks.py) --------------------------


@pytest.fixture(scope="session", autouse=True)
def security_scans(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Capture every log record of the run and scan the logs for secrets at the end (Redis is
    scanned before every flush and when its server stops: ``scan_for_plaintext``)."""
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


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    from tests.support.figures import REPORTED

    workeroutput: dict[str, Any] | None = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:
        # A pytest-xdist worker: the controller reports (and fails on) every worker's figures.
        workeroutput["fve_figures"] = FIGURES.to_wire()
        workeroutput["fve_reported"] = list(REPORTED)
        return
    # A leak fails the run even when every test passed.
    if FIGURES.failed() and session.exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: object) -> None:
    """pytest-xdist's controller: a worker finished; keep its figures for the summary."""
    from tests.support.figures import REPORTED

    output: dict[str, Any] = getattr(node, "workeroutput", None) or {}
    if "fve_figures" in output:
        FIGURES.merge(output["fve_figures"])
        REPORTED.extend(output["fve_reported"])


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    from tests.support.figures import REPORTED

    for line in REPORTED:
        terminalreporter.write_line(line)
    for line in FIGURES.summary():
        terminalreporter.write_line(line, red=FIGURES.failed(), bold=line.startswith("security"))
