"""Blocking access for Flask, Django, Celery and scripts: the async library on a private loop.

::

    from fanvue_embedded.sync import SyncFanvue

    fanvue = SyncFanvue()                        # Settings from the environment
    token = fanvue.access_token(creator_uuid)    # refreshed as needed, coordinated as usual
    me = fanvue.client(creator_uuid).call("getCurrentUser")
    followers = list(fanvue.client(creator_uuid).paginate("listFollowers"))

Every coroutine runs on **one event loop per process**, on a daemon thread started on first
use. Any number of threads may call at once: they share that loop and so the one set of HTTP
and Redis connections ``Services`` keeps for it, and concurrent refreshes of a creator are
still one refresh. At interpreter exit (``atexit``) the loop's tasks are cancelled, its
connections closed and the thread ended; a forked child (gunicorn, Celery's prefork pool)
starts a loop of its own on first use and never touches the parent's.

``SyncProxy`` wraps any object of the async API: coroutine methods become blocking calls,
async iterators plain iterators, and what they return is wrapped the same way (plain data —
dicts, lists, dataclasses, strings — comes back as it is). So ``fanvue.services`` reaches the
whole library without a method list here. Calling from async code (a running event loop in
the calling thread) raises ``RuntimeError``: await the async API there.
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import dataclasses
import enum
import functools
import inspect
import os
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any, Generic, TypeVar

from .config import Settings
from .entitlements import Entitlement
from .services import Services, build_services
from .tokens import RefreshOutcome

__all__ = ["SyncFanvue", "SyncIterator", "SyncProxy", "run", "shutdown"]

T = TypeVar("T")

_THREAD_NAME = "fanvue-embedded-sync"
# Returned as they are: values, containers, enums, errors, classes (and dataclasses, below).
_PLAIN_DATA = (
    *(str, bytes, bytearray, int, float, complex, bool),
    *(list, tuple, dict, set, frozenset),
    *(enum.Enum, BaseException, type),
)


class _LoopThread:
    """One event loop running forever on a daemon thread, until ``stop``."""

    def __init__(self) -> None:
        self.pid = os.getpid()
        self.loop = asyncio.new_event_loop()
        self.stopped = False
        started = threading.Event()
        self.thread = threading.Thread(
            target=self._run, args=(started,), name=_THREAD_NAME, daemon=True
        )
        self.thread.start()
        started.wait()

    def _run(self, started: threading.Event) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.call_soon(started.set)
        try:
            self.loop.run_forever()
        finally:
            # What asyncio.run() does at its end: tasks cancelled, async generators finalised
            # (Services closes this loop's connections there), executor joined.
            try:
                tasks = asyncio.all_tasks(self.loop)
                for task in tasks:
                    task.cancel()
                if tasks:
                    self.loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
                self.loop.run_until_complete(self.loop.shutdown_asyncgens())
                self.loop.run_until_complete(self.loop.shutdown_default_executor())
            finally:
                asyncio.set_event_loop(None)
                self.loop.close()

    def run(self, awaitable: Awaitable[T]) -> T:
        if threading.current_thread() is self.thread:
            raise RuntimeError("fanvue_embedded.sync called from its own loop: await instead")
        if self.stopped:
            raise RuntimeError("fanvue_embedded.sync was shut down (the interpreter is exiting)")
        future: concurrent.futures.Future[T] = asyncio.run_coroutine_threadsafe(
            _awaited(awaitable), self.loop
        )
        try:
            return future.result()
        except BaseException:
            future.cancel()  # a KeyboardInterrupt in the caller stops the work on the loop too
            raise

    def stop(self, timeout: float = 10.0) -> None:
        if self.stopped:
            return
        self.stopped = True
        if not self.loop.is_closed():
            self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout)


async def _awaited(awaitable: Awaitable[T]) -> T:
    return await awaitable


_lock = threading.Lock()
_current: _LoopThread | None = None


def _loop_thread() -> _LoopThread:
    global _current
    with _lock:
        if _current is None or _current.pid != os.getpid():
            _current = _LoopThread()
        return _current


def _after_fork_in_child() -> None:
    # The parent's loop thread does not exist in the child, and _lock may have been held by
    # another parent thread at the fork: start over (a new loop on first use).
    global _current, _lock
    _lock = threading.Lock()
    _current = None


def run(awaitable: Awaitable[T]) -> T:
    """Run ``awaitable`` on the process's sync loop and return its result (or raise its error).

    Raises ``RuntimeError`` when called from a thread running an event loop: blocking there
    would stall that loop; await the async API instead."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return _loop_thread().run(awaitable)
    if inspect.iscoroutine(awaitable):
        awaitable.close()  # never awaited: no "was never awaited" warning on top
    raise RuntimeError(
        "fanvue_embedded.sync blocks the calling thread; inside async code (a running event "
        "loop) await the async API instead"
    )


def shutdown(timeout: float = 10.0) -> None:
    """Cancel the sync loop's tasks, close its connections and end its thread (registered with
    ``atexit``; later calls to ``run`` start a new loop)."""
    global _current
    with _lock:
        current, _current = _current, None
    if current is not None and current.pid == os.getpid():
        current.stop(timeout)


atexit.register(shutdown)
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


# --- wrapping the async API -----------------------------------------------------------------


def _is_plain_data(value: object) -> bool:
    return (
        value is None
        or isinstance(value, _PLAIN_DATA)
        or (dataclasses.is_dataclass(value) and not _has_async_methods(value.__class__))
    )


@functools.lru_cache(maxsize=256)
def _has_async_methods(cls: type) -> bool:
    for name in dir(cls):
        if name.startswith("__"):
            continue
        member = inspect.getattr_static(cls, name, None)
        if isinstance(member, staticmethod | classmethod):
            member = member.__func__
        if inspect.iscoroutinefunction(member) or inspect.isasyncgenfunction(member):
            return True
    return False


def _unwrapped(value: Any) -> Any:
    return object.__getattribute__(value, "_target") if isinstance(value, SyncProxy) else value


def _wrap(value: Any) -> Any:
    """A result of the async API as synchronous code can use it."""
    if inspect.isawaitable(value):
        return _wrap(run(value))
    if isinstance(value, AsyncIterator):
        return SyncIterator(value)
    if _is_plain_data(value):
        return value
    return SyncProxy(value)


def _blocking(function: Callable[..., Any]) -> Callable[..., Any]:
    """``function`` called on the loop thread (async ones awaited there), its result wrapped."""

    @functools.wraps(function)
    def call(*args: Any, **kwargs: Any) -> Any:
        args = tuple(_unwrapped(arg) for arg in args)
        kwargs = {name: _unwrapped(arg) for name, arg in kwargs.items()}

        async def on_loop() -> Any:
            result = function(*args, **kwargs)
            # Awaited here, so a coroutine method runs in one hop; async iterators stay lazy.
            return await result if inspect.isawaitable(result) else result

        return _wrap(run(on_loop()))

    return call


class SyncProxy(Generic[T]):
    """A blocking view of an async object: ``SyncProxy(client).call("getCurrentUser")``.

    Attributes are read on the loop thread (``Services`` builds its parts per loop); methods
    run there; coroutines are awaited, async iterators become ``SyncIterator``, objects are
    wrapped again, plain data is returned as is. Proxies passed as arguments are unwrapped.
    ``unwrap(proxy)`` gives the async object back (for async code only).
    """

    __slots__ = ("_target",)

    def __init__(self, target: T) -> None:
        object.__setattr__(self, "_target", target)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        target = object.__getattribute__(self, "_target")
        value = run(_read_attribute(target, name))
        if callable(value) and not isinstance(value, type):
            return _blocking(value)
        return _wrap(value)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("a SyncProxy is read-only; set attributes on the async object")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return _blocking(object.__getattribute__(self, "_target"))(*args, **kwargs)

    def __repr__(self) -> str:
        return f"SyncProxy({object.__getattribute__(self, '_target')!r})"


async def _read_attribute(target: object, name: str) -> Any:
    return getattr(target, name)


def unwrap(proxy: SyncProxy[T]) -> T:
    """The async object behind ``proxy``."""
    target: T = object.__getattribute__(proxy, "_target")
    return target


class SyncIterator(Iterator[Any]):
    """An async iterator driven from synchronous code, one item per hop to the loop.

    ``list(iterator)`` collects everything; ``close()`` (or a ``with`` block) stops an
    async generator early, releasing what it holds."""

    def __init__(self, iterator: AsyncIterator[Any]) -> None:
        self._iterator = iterator

    def __iter__(self) -> SyncIterator:
        return self

    def __next__(self) -> Any:
        try:
            return _wrap(run(_next(self._iterator)))
        except StopAsyncIteration:
            raise StopIteration from None

    def close(self) -> None:
        close = getattr(self._iterator, "aclose", None)
        if close is not None:
            run(close())

    def __enter__(self) -> SyncIterator:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


async def _next(iterator: AsyncIterator[Any]) -> Any:
    return await iterator.__anext__()


# --- the entry point ----------------------------------------------------------------------------


class SyncFanvue:
    """fanvue-embedded for synchronous code: token calls and API clients as plain functions.

    Build one per process (module level is fine: nothing starts until the first call) from
    ``settings`` (``Settings.from_env()`` when omitted, ``.env`` not read) or around existing
    ``services``; ``build_services`` keywords (``store=``, ``on_tokens=``...) pass through.
    ``services`` is the whole library as a ``SyncProxy``; ``client(creator).call(...)``,
    ``.get(...)`` and ``.paginate(...)`` (an iterator) reach the Fanvue API; so does
    ``api(creator)`` (the typed resources, where the installed version has them).
    """

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        services: Services | None = None,
        **build_options: Any,
    ) -> None:
        if services is None:
            services = build_services(settings or Settings.from_env(), **build_options)
        elif settings is not None or build_options:
            raise ValueError("pass settings (and build options) or services, not both")
        self._services = services
        self.services: Any = SyncProxy(services)

    def __repr__(self) -> str:
        return f"SyncFanvue({self._services!r})"

    def _call(self, make: Callable[[Services], Awaitable[T]]) -> T:
        async def on_loop() -> T:
            return await make(self._services)  # Services resolves this loop's parts here

        return run(on_loop())

    def access_token(self, creator: str, *, rejected: str | None = None) -> str:
        """A valid access token for ``creator`` (``TokenManager.access_token``)."""
        return self._call(lambda s: s.tokens.access_token(creator, rejected=rejected))

    def refresh(self, creator: str, *, force: bool = True, min_age: float = 0.0) -> RefreshOutcome:
        """Refresh ``creator``'s tokens now (``TokenManager.refresh``)."""
        return self._call(lambda s: s.tokens.refresh(creator, force=force, min_age=min_age))

    def revoke(self, creator: str) -> bool:
        """Delete ``creator``'s stored tokens; ``False`` when nothing was stored."""
        return self._call(lambda s: s.store.delete(creator))

    def granted_scopes(self, creator: str) -> frozenset[str]:
        """The scopes ``creator`` granted (``TokenManager.granted_scopes``)."""
        return self._call(lambda s: s.tokens.granted_scopes(creator))

    def missing_scopes(self, creator: str) -> tuple[str, ...]:
        """Configured scopes ``creator`` has not granted (``TokenManager.missing_scopes``)."""
        return self._call(lambda s: s.tokens.missing_scopes(creator))

    def entitlement(self, creator: str, *, fresh: bool = False) -> Entitlement:
        """``creator``'s app subscription (``Entitlements.status``; ``FANVUE_APP_UUID``)."""
        return self._call(lambda s: s.entitlements.status(creator, fresh=fresh))

    def client(self, creator: str) -> Any:
        """A blocking ``FanvueClient`` for ``creator``: ``call``, ``get``, ``request``,
        ``paginate`` (an iterator), ``get_current_user``."""
        return self.services.tokens.client(creator)

    def api(self, creator: str) -> Any:
        """The typed resources for ``creator`` (``TokenManager.api``), blocking."""
        return self.services.tokens.api(creator)

    def close(self) -> None:
        """Close the connections the sync loop holds for these services."""
        self._call(lambda s: s.aclose())

    def __enter__(self) -> SyncFanvue:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
