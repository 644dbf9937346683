"""A limit on failed attempts per client address, shared by every worker through the store.

The session exchange spends one upstream call (authorize-on-behalf) per request, so a client
posting junk tokens would spend the app's Fanvue budget at will. ``FailureLimiter`` counts the
*failed* attempts of each address in a fixed window in the ephemeral store (one small counter
key per address, expiring with its window) and refuses the address once it reaches the limit.
Successes cost nothing and count nothing.

Each process also remembers, for one window, the addresses it saw fail or refused
(:meth:`FailureLimiter.suspect`, a bounded map): the exchange checks those before any upstream
call, and the others while their authorize-on-behalf call is on its way (a check is a Redis
round trip, and nearly every address passes it). So an address over its limit costs at most
one upstream call per process, whose answer is thrown away, and none after that.
"""

from __future__ import annotations

import ipaddress
import logging
import time
from collections import OrderedDict
from collections.abc import Callable

from .ephemeral import EphemeralStore
from .errors import FanvueError, TooManyFailedAttempts

__all__ = ["FailureLimiter", "address_bucket"]

logger = logging.getLogger("fanvue_embedded.attempts")

# IPv6 hands a single client a whole /64: count the network, or one client has 2**64 counters.
_IPV6_PREFIX = 64
_MAX_SUBJECT = 64
# Suspects remembered per process: past this, the oldest are forgotten (an address forgotten
# early is checked alongside its next upstream call again: one more call, no more).
MAX_SUSPECTS = 10_000


def address_bucket(host: str | None) -> str:
    """The counting unit of a client address: the IPv4 address, the IPv6 /64, or (for
    anything that is not an IP address, like a unix socket peer) one shared ``"other"``."""
    if not host:
        return "other"
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return "other"
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, _IPV6_PREFIX), strict=False))
    return str(address)


class FailureLimiter:
    """At most ``limit`` failures per subject per ``window`` seconds.

    ``check`` raises :class:`TooManyFailedAttempts` (with the seconds left in the window) once
    a subject has failed ``limit`` times; ``record_failure`` counts one more failure.
    """

    def __init__(
        self,
        store: EphemeralStore,
        *,
        limit: int,
        window: float,
        name: str = "failures",
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if limit < 1 or window <= 0:
            raise ValueError("limit must be at least 1 and window positive")
        self._store = store
        self.limit = limit
        self.window = window
        self._prefix = f"{name}:"
        self._clock = clock
        self._suspects: OrderedDict[str, float] = OrderedDict()  # subject → until (clock)

    def __repr__(self) -> str:
        return f"FailureLimiter(limit={self.limit}, window={self.window})"

    def _key(self, subject: str) -> str:
        return self._prefix + subject[:_MAX_SUBJECT]

    def suspect(self, subject: str) -> bool:
        """True when this process saw ``subject`` fail, or refused it, within the window:
        its next attempt should be checked before it costs anything."""
        key = subject[:_MAX_SUBJECT]
        until = self._suspects.get(key)
        if until is None:
            return False
        if until <= self._clock():
            del self._suspects[key]
            return False
        return True

    def _remember(self, subject: str) -> None:
        key = subject[:_MAX_SUBJECT]
        self._suspects[key] = self._clock() + self.window
        self._suspects.move_to_end(key)
        while len(self._suspects) > MAX_SUSPECTS:
            self._suspects.popitem(last=False)

    async def check(self, subject: str) -> None:
        """Raise :class:`TooManyFailedAttempts` if ``subject`` is over the limit."""
        raw = await self._store.get(self._key(subject))
        if raw is None or int(raw) < self.limit:
            return
        self._remember(subject)
        left = await self._store.expires_in(self._key(subject))
        raise TooManyFailedAttempts(
            "too many failed attempts from this address",
            retry_after=self.window if left is None else left,
        )

    async def record_failure(self, subject: str) -> None:
        """Count one failure. Best effort: a store failure here is logged, never raised, so
        the caller still answers with the failure it is reporting."""
        self._remember(subject)
        try:
            count = await self._store.increment(self._key(subject), self.window)
        except FanvueError as exc:
            logger.warning("could not count a failed attempt: %s", exc.code)
            return
        if count == self.limit:
            logger.warning("an address reached %d failed attempts; refused for now", self.limit)
