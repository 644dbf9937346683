"""How often and how fast a failing webhook handler is retried."""

from __future__ import annotations

import random
from dataclasses import dataclass

__all__ = ["RetryPolicy"]


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Attempts and backoff: after failed attempt ``n`` the next comes ``base_delay * 2^(n-1)``
    seconds later (capped at ``max_delay``, ±25 % jitter); ``max_attempts`` counts the first."""

    max_attempts: int = 8
    base_delay: float = 30.0
    max_delay: float = 3600.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1 or self.base_delay < 0 or self.max_delay < self.base_delay:
            raise ValueError("max_attempts >= 1 and 0 <= base_delay <= max_delay")

    def delay(self, attempt: int) -> float:
        """Seconds from failed attempt ``attempt`` to the next one."""
        exponent = min(max(attempt - 1, 0), 32)
        plain = min(self.base_delay * 2.0**exponent, self.max_delay)
        return plain * (0.75 + random.random() / 2)  # noqa: S311 - jitter only
