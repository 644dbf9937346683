"""The sync facade (``fanvue_embedded.sync``) from plain threads, against the emulator and Redis:
one private loop per process shared by every thread, refresh still single-flight, errors and
iterators crossing over, the loop shut down at exit, and a forked child on a loop of its own."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import threading
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from fanvue_embedded import sync
from fanvue_embedded._devdefaults import DEV_ENCRYPTION_KEY
from fanvue_embedded.config import Secret, Settings, parse_encryption_keys
from fanvue_embedded.errors import InsufficientScope, ReauthorizationRequired
from fanvue_embedded.models import FanvueUser
from fanvue_embedded.sync import SyncFanvue, SyncIterator, SyncProxy, unwrap
from fanvue_embedded.tokens import RefreshOutcome, TokenManager
from tests.support.emulator import EmulatorHandle
from tests.test_app import settings_for

pytestmark = pytest.mark.both_topologies

APP_UUID = "2d7f0a4c-9b1e-4f3a-8c6d-1e5b7a9c3f20"
THREADS = 8


def redis_settings(emulator: EmulatorHandle, redis_url: str, **overrides: Any) -> Settings:
    return settings_for(
        emulator,
        redis_url=Secret(redis_url),
        token_encryption_keys=parse_encryption_keys(DEV_ENCRYPTION_KEY),
        **overrides,
    )


@pytest.fixture
def fanvue(emulator: EmulatorHandle, redis_url: str) -> Iterator[SyncFanvue]:
    facade = SyncFanvue(redis_settings(emulator, redis_url, app_uuid=APP_UUID))
    try:
        yield facade
    finally:
        facade.close()


def connect(fanvue: SyncFanvue, emulator: EmulatorHandle) -> str:
    """The session exchange through the proxy: the creator's tokens land in Redis."""
    result = fanvue.services.exchange.exchange(emulator.session_token())
    uuid: str = result.user.uuid
    return uuid


def in_threads(work: Any, count: int = THREADS) -> list[Any]:
    """Run ``work(index)`` in ``count`` plain threads released together; their results."""
    barrier = threading.Barrier(count)
    results: list[Any] = [None] * count
    errors: list[BaseException] = []

    def target(index: int) -> None:
        barrier.wait()
        try:
            results[index] = work(index)
        except BaseException as exc:  # reported below, with the thread's own traceback
            errors.append(exc)

    threads = [threading.Thread(target=target, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return results


def test_threads_share_one_loop_and_one_refresh(
    fanvue: SyncFanvue, emulator: EmulatorHandle
) -> None:
    creator = connect(fanvue, emulator)
    emulator.seed_world(followers=120)
    # Every token handed out so far now answers 401: each thread's call needs a refresh.
    emulator.control("POST", f"/creators/{creator}/expire-access-tokens")
    before = emulator.counters()["refresh_requests"]

    def work(index: int) -> tuple[str, int, str]:
        client = fanvue.client(creator)
        me = client.call("getCurrentUser")
        followers = list(client.paginate("listFollowers", page_size=50))
        return me["handle"], len(followers), threading.current_thread().name

    results = in_threads(work)
    assert {handle for handle, _, _ in results} == {"luna.rivers"}
    assert {count for _, count, _ in results} == {120}
    assert len({name for _, _, name in results}) == THREADS  # really several callers
    # One loop for all of them: concurrent 401s joined one refresh.
    assert emulator.counters()["refresh_requests"] - before == 1
    loops = [name for name in (t.name for t in threading.enumerate()) if "fanvue" in name]
    assert loops == ["fanvue-embedded-sync"]


def test_token_calls_entitlement_and_scopes(fanvue: SyncFanvue, emulator: EmulatorHandle) -> None:
    creator = connect(fanvue, emulator)
    emulator.control("PUT", f"/apps/{APP_UUID}/subscription", json={"status": "active"})
    tokens = in_threads(lambda _: fanvue.access_token(creator), count=4)
    assert len(set(tokens)) == 1
    assert fanvue.refresh(creator) is RefreshOutcome.REFRESHED
    assert fanvue.access_token(creator) != tokens[0]
    assert "read:fan" in fanvue.granted_scopes(creator)
    assert fanvue.missing_scopes(creator) == ()
    plan = fanvue.entitlement(creator)
    assert plan.active
    assert plan.status == "active"

    user = fanvue.client(creator).get_current_user()
    assert isinstance(user, FanvueUser)  # plain data comes back as it is
    page = fanvue.client(creator).get("/followers", params={"size": 2})
    assert isinstance(page["data"], list)

    assert fanvue.revoke(creator) is True
    with pytest.raises(ReauthorizationRequired):  # errors cross from the loop as they are
        fanvue.access_token(creator)
    assert fanvue.revoke(creator) is False


def test_scope_drift_reaches_sync_callers(emulator: EmulatorHandle, redis_url: str) -> None:
    emulator.control("PATCH", "/app", json={"scopes": ["read:self"]})
    with SyncFanvue(redis_settings(emulator, redis_url)) as fanvue:
        creator = connect(fanvue, emulator)
        assert fanvue.missing_scopes(creator) == ("read:fan",)
        with pytest.raises(InsufficientScope):
            fanvue.client(creator).call("listFollowers")


def test_proxies_wrap_any_async_object(fanvue: SyncFanvue, emulator: EmulatorHandle) -> None:
    creator = connect(fanvue, emulator)
    tokens = fanvue.services.tokens
    assert isinstance(tokens, SyncProxy)
    assert isinstance(unwrap(tokens), TokenManager)
    assert tokens.access_token(creator) == fanvue.access_token(creator)
    assert fanvue.services.settings.app_uuid == APP_UUID  # a dataclass: as it is
    walk = fanvue.client(creator).paginate("listFollowers", page_size=1)
    assert isinstance(walk, SyncIterator)
    with walk:
        first = next(walk)
    assert isinstance(first, dict)
    with pytest.raises(AttributeError):
        tokens.leeway = 5


@pytest.mark.anyio
async def test_calling_from_async_code_is_refused(fanvue: SyncFanvue) -> None:
    with pytest.raises(RuntimeError, match="await the async API"):
        fanvue.access_token("c0ffee")


EXIT_SCRIPT = """
import atexit, json, sys, threading

seen = {}

def report():  # registered before the facade's: runs after its shutdown
    seen["threads"] = sorted(t.name for t in threading.enumerate())
    seen["loop_closed"] = state["loop"].is_closed()
    seen["http_closed"] = state["http"].is_closed
    print(json.dumps(seen), flush=True)

atexit.register(report)

from fanvue_embedded import sync
from fanvue_embedded.sync import SyncFanvue
from tests.support.emulator import EmulatorHandle
from tests.test_sync import redis_settings

emulator = EmulatorHandle(sys.argv[1])
fanvue = SyncFanvue(redis_settings(emulator, sys.argv[2]))
result = fanvue.services.exchange.exchange(emulator.session_token())
seen["handle"] = fanvue.client(result.user.uuid).call("getCurrentUser")["handle"]
seen["during"] = [t.name for t in threading.enumerate() if t.daemon]
state = {"loop": sync._current.loop}
state["http"] = sync.unwrap(fanvue.services.http)
# No close(): the interpreter's exit must end the loop and close its connections.
"""


def test_the_loop_thread_is_shut_down_at_exit(emulator: EmulatorHandle, redis_url: str) -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-W",
            "error",
            "-c",
            textwrap.dedent(EXIT_SCRIPT),
            emulator.base_url,
            redis_url,
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["handle"] == "luna.rivers"
    assert "fanvue-embedded-sync" in seen["during"]
    assert "fanvue-embedded-sync" not in seen["threads"]
    assert seen["loop_closed"] is True
    assert seen["http_closed"] is True
    assert "Error" not in done.stderr  # no unclosed-resource or destroyed-task complaints


FORK_SCRIPT = """
import json, os, sys, threading
from tests.test_sync import redis_settings
from tests.support.emulator import EmulatorHandle
from fanvue_embedded import sync
from fanvue_embedded.sync import SyncFanvue

emulator = EmulatorHandle(sys.argv[1])
fanvue = SyncFanvue(redis_settings(emulator, sys.argv[2]))
creator = fanvue.services.exchange.exchange(emulator.session_token()).user.uuid
parent_token = fanvue.access_token(creator)
parent_loop = sync._current.loop  # still referenced in the child: its id cannot be reused
read, write = os.pipe()
pid = os.fork()
if pid == 0:  # the child: the parent's loop thread is not here; a new loop starts on first use
    os.close(read)
    try:
        token = fanvue.access_token(creator)
        me = fanvue.client(creator).call("getCurrentUser")["handle"]
        out = {"token_same": token == parent_token, "handle": me,
               "new_loop": sync._current.loop is not parent_loop,
               "parent_loop_untouched": not parent_loop.is_closed(),
               "pid_bound": sync._current.pid == os.getpid()}
        fanvue.close()
        sync.shutdown()
    except BaseException as exc:
        out = {"error": repr(exc)}
    os.write(write, json.dumps(out).encode())
    os._exit(0)
os.close(write)
_, status = os.waitpid(pid, 0)
child = json.loads(os.read(read, 65536))
# The parent's loop still works after the fork.
child["parent_handle"] = fanvue.client(creator).call("getCurrentUser")["handle"]
child["status"] = status
fanvue.close()
print(json.dumps(child), flush=True)
"""


def test_a_forked_child_runs_its_own_loop(emulator: EmulatorHandle, redis_url: str) -> None:
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(FORK_SCRIPT), emulator.base_url, redis_url],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen == {
        "token_same": True,  # the stored token, read by the child over its own connections
        "handle": "luna.rivers",
        "new_loop": True,
        "parent_loop_untouched": True,
        "pid_bound": True,
        "parent_handle": "luna.rivers",
        "status": 0,
    }


def test_run_and_shutdown_are_reusable() -> None:
    async def answer() -> int:
        return 42

    assert sync.run(answer()) == 42
    sync.shutdown()
    assert sync.run(answer()) == 42  # a new loop after a shutdown


class _Messages:
    """Shaped like a generated typed resource: async methods and an async list."""

    def __init__(self, owner: str) -> None:
        self.owner = owner

    async def send(self, text: str) -> dict[str, str]:
        return {"to": self.owner, "text": text, "loop": threading.current_thread().name}

    async def walk(self, count: int) -> AsyncIterator[int]:
        for index in range(count):
            yield index


class _Api:
    """A namespace of resources with no async method of its own (like ``api`` objects)."""

    def __init__(self) -> None:
        self.messages = _Messages("luna")


def test_a_namespace_of_resources_is_wrapped_without_a_method_list() -> None:
    api = SyncProxy(_Api())
    sent = api.messages.send("hello")
    assert sent == {"to": "luna", "text": "hello", "loop": "fanvue-embedded-sync"}
    assert list(api.messages.walk(3)) == [0, 1, 2]
    assert api.messages.owner == "luna"
