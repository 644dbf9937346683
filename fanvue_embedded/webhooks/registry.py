"""Handlers by event type, and running them for one event."""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

from ..errors import FanvueError
from .events import UnknownEvent, WebhookEvent
from .parse import EVENT_CLASSES
from .policy import RetryPolicy

__all__ = ["Handler", "WebhookHandlerError", "WebhookRegistry"]

Handler = Callable[[Any], Awaitable[None] | None]
H = TypeVar("H", bound=Handler)


class WebhookHandlerError(FanvueError):
    """One or more handlers raised; ``failures`` pairs each handler's name with its error."""

    code = "webhook_handler_failed"

    def __init__(self, failures: Sequence[tuple[str, BaseException]]) -> None:
        names = ", ".join(f"{name} ({type(exc).__name__})" for name, exc in failures)
        super().__init__(f"webhook handlers failed: {names}")
        self.failures = list(failures)


def _handler_name(handler: Handler) -> str:
    return getattr(handler, "__qualname__", None) or type(handler).__name__


class WebhookRegistry:
    """Handlers by event type. Handlers may be ``async`` or plain functions.

    ::

        webhooks = WebhookRegistry()

        @webhooks.on("tip.new")
        async def thank(event: TipNew) -> None: ...

        @webhooks.on_unknown  # signed objects this version does not model
        async def keep(event: UnknownEvent) -> None: ...

        @webhooks.on_any
        async def audit(event: WebhookEvent) -> None: ...

    ``on`` takes only modelled types (``EVENT_TYPES``), so a handler registered under a
    misspelt or retired name fails at import time instead of never running; its handlers
    receive instances of that type's class only. ``retry`` is how failed handlers are retried
    (the app and the worker both read it from here).
    """

    def __init__(self, *, retry: RetryPolicy | None = None) -> None:
        self.retry = retry or RetryPolicy()
        self._by_type: dict[str, list[Handler]] = {}
        self._unknown: list[Handler] = []
        self._any: list[Handler] = []

    def on(self, event_type: str) -> Callable[[H], H]:
        """Decorator: call the handler for events of ``event_type`` (one of ``EVENT_TYPES``)."""
        if event_type not in EVENT_CLASSES:
            raise ValueError(
                f"{event_type!r} is not a modelled webhook type; use on_unknown for others "
                f"(modelled: {', '.join(EVENT_CLASSES)})"
            )

        def register(handler: H) -> H:
            self._by_type.setdefault(event_type, []).append(handler)
            return handler

        return register

    def on_unknown(self, handler: H) -> H:
        """Decorator: call the handler for every :class:`UnknownEvent`."""
        self._unknown.append(handler)
        return handler

    def on_any(self, handler: H) -> H:
        """Decorator: call the handler for every event, after the specific ones."""
        self._any.append(handler)
        return handler

    def handlers_for(self, event: WebhookEvent) -> list[Handler]:
        """The handlers :meth:`dispatch` runs for ``event``, in order."""
        specific = (
            self._unknown if isinstance(event, UnknownEvent) else self._by_type.get(event.type, [])
        )
        return [*specific, *self._any]

    async def dispatch(self, event: WebhookEvent) -> int:
        """Run every matching handler in order, even after one fails; return how many ran.

        Raises ``WebhookHandlerError`` listing the failures once all have run.
        """
        handlers = self.handlers_for(event)
        failures: list[tuple[str, BaseException]] = []
        for handler in handlers:
            try:
                result = handler(event)
                if inspect.isawaitable(result):
                    await result
            except Exception as exc:
                failures.append((_handler_name(handler), exc))
        if failures:
            raise WebhookHandlerError(failures)
        return len(handlers)
