"""Fault injection: latency, 503s, dropped responses, concurrent-refresh rejection.

All faults are off by default. Groups: ``platform`` (authorize-on-behalf), ``token``
(``/oauth2/token``), ``auth`` (``/oauth2/auth``), ``api`` (the Fanvue API), ``objects`` (the
object store behind presigned upload URLs: a failed part PUT stores nothing).
"""

from __future__ import annotations

import random
import threading
from typing import Any

GROUPS = ("platform", "token", "auth", "api", "objects")
_COUNTS = ("drop_after_rotation", "reject_next_refresh", "malformed_token_response")


class FaultError(ValueError):
    """A PATCH value is wrong; ``field`` names it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


class Faults:
    """The current fault settings, and the one-shot counters they consume."""

    def __init__(self, seed: int | None = None) -> None:
        self._lock = threading.Lock()
        self._initial_seed = seed
        # Bumped to let held responses go; polled, so any thread or loop may bump it.
        self.release_generation = 0
        self.reset()

    def reset(self) -> None:
        """Everything off; responses held by ``drop_after_rotation`` are let go."""
        with self._lock:
            self.latency_ms: dict[str, float] = dict.fromkeys(GROUPS, 0.0)
            self.fail_next: dict[str, int] = dict.fromkeys(GROUPS, 0)
            self.error_rate: dict[str, float] = dict.fromkeys(GROUPS, 0.0)
            self.seed = self._initial_seed
            self.random = random.Random(self.seed)  # noqa: S311 - fault dice, not security
            self.drop_after_rotation = 0
            self.reject_concurrent_refresh = False
            self.reject_next_refresh = 0
            self.malformed_token_response = 0
        self.release_held()

    def release_held(self) -> None:
        with self._lock:
            self.release_generation += 1

    def view(self) -> dict[str, Any]:
        with self._lock:
            return {
                "latency_ms": dict(self.latency_ms),
                "fail_next": dict(self.fail_next),
                "error_rate": dict(self.error_rate),
                "seed": self.seed,
                "drop_after_rotation": self.drop_after_rotation,
                "reject_concurrent_refresh": self.reject_concurrent_refresh,
                "reject_next_refresh": self.reject_next_refresh,
                "malformed_token_response": self.malformed_token_response,
            }

    def patch(self, changes: dict[str, Any]) -> None:
        """Merge ``changes`` (validated whole before anything is applied)."""
        per_group = {
            "latency_ms": (0.0, None),
            "fail_next": (0, None),
            "error_rate": (0.0, 1.0),
        }
        staged: dict[str, Any] = {}
        for name, value in changes.items():
            if name in per_group:
                low, high = per_group[name]
                staged[name] = _group_values(name, value, low, high, integer=name == "fail_next")
            elif name in _COUNTS:
                staged[name] = _count(name, value)
            elif name == "reject_concurrent_refresh":
                if not isinstance(value, bool):
                    raise FaultError(name, f"{name} must be a boolean")
                staged[name] = value
            elif name == "seed":
                if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
                    raise FaultError(name, "seed must be an integer or null")
                staged[name] = value
            else:
                raise FaultError(name, f"unknown fault {name!r}")
        with self._lock:
            for name, value in staged.items():
                if name in per_group:
                    getattr(self, name).update(value)
                elif name == "seed":
                    self.seed = value
                    self.random = random.Random(value)  # noqa: S311
                else:
                    setattr(self, name, value)

    def should_fail(self, group: str) -> bool:
        """Consume ``fail_next`` or roll ``error_rate`` for one request of ``group``."""
        with self._lock:
            if self.fail_next[group] > 0:
                self.fail_next[group] -= 1
                return True
            rate = self.error_rate[group]
            return rate > 0 and self.random.random() < rate

    def latency_seconds(self, group: str) -> float:
        with self._lock:
            return self.latency_ms[group] / 1000.0

    def take(self, name: str) -> bool:
        """Consume one unit of a one-shot counter fault; True when it fired."""
        with self._lock:
            remaining = int(getattr(self, name))
            if remaining <= 0:
                return False
            setattr(self, name, remaining - 1)
            return True


def _count(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise FaultError(name, f"{name} must be a non-negative integer")
    return value


def _group_values(
    name: str, value: object, low: float, high: float | None, *, integer: bool
) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise FaultError(name, f"{name} must be an object keyed by group {GROUPS}")
    result: dict[str, Any] = {}
    for group, amount in value.items():
        if group not in GROUPS:
            raise FaultError(f"{name}.{group}", f"unknown group {group!r}; one of {GROUPS}")
        ok_type = isinstance(amount, int) if integer else isinstance(amount, int | float)
        if isinstance(amount, bool) or not ok_type or amount < low:
            raise FaultError(f"{name}.{group}", f"{name}.{group} must be a number >= {low}")
        if high is not None and amount > high:
            raise FaultError(f"{name}.{group}", f"{name}.{group} must be <= {high}")
        result[group] = amount
    return result
