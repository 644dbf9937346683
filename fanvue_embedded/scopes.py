"""Scope drift: what a creator granted versus what the app asks for and an operation needs.

A creator's grant is the ``scope`` of their token response (``TokenSet.scopes``), fixed when
they authorized. When the app's configured scopes grow later (``OAUTH_SCOPES``), their grant
does not: calls needing a new scope would be refused by Fanvue with 403. ``FanvueClient``
checks an operation's scopes (from the spec) against the grant before sending and raises
``InsufficientScope`` naming the missing ones; ``missing_scopes`` lists what a re-consent
would add.

An empty grant means the token response named no scope: RFC 6749 §5.1 says the granted scope
is then the requested one, so nothing is reported missing. The protocol scopes (``openid``,
``offline_access``, ``offline``) are never reported: they gate no API operation.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable

from .errors import InsufficientScope
from .spec import Operation
from .values import REQUIRED_SCOPES

__all__ = ["GrantedScopes", "check_operation_scopes", "missing_scopes"]

GrantedScopes = Callable[[], Awaitable[frozenset[str]]]
"""Reads the creator's granted scopes (``TokenManager.granted_scopes`` bound to a creator)."""


def missing_scopes(wanted: Iterable[str], granted: frozenset[str]) -> tuple[str, ...]:
    """The scopes of ``wanted`` (in its order) that ``granted`` lacks; ``()`` when the grant
    is empty (unknown) and for the protocol scopes."""
    if not granted:
        return ()
    return tuple(
        scope
        for scope in dict.fromkeys(wanted)
        if scope not in granted and scope not in REQUIRED_SCOPES
    )


def check_operation_scopes(operation: Operation, granted: frozenset[str]) -> None:
    """Raise ``InsufficientScope`` when ``granted`` lacks any scope ``operation`` requires
    (Fanvue requires every scope the spec lists for an operation)."""
    missing = missing_scopes(operation.scopes, granted)
    if missing:
        raise InsufficientScope(
            f"{operation.operation_id} needs scope(s) the creator has not granted: "
            f"{' '.join(missing)}; they must authorize the app again",
            missing=missing,
            operation_id=operation.operation_id,
        )
