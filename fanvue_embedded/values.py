"""Value types and constants shared by every layer: the bottom of the import graph.

Kept apart from ``config`` (which reads and validates the environment) so that the protocol core,
the store and the crypto keyring can use them without depending on settings.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass, field

__all__ = [
    "DEFAULT_API_VERSION",
    "DEFAULT_KEEPALIVE_INTERVAL",
    "KNOWN_SCOPES",
    "REQUIRED_SCOPES",
    "EncryptionKey",
    "Secret",
]

DEFAULT_API_VERSION = "2025-06-26"

DEFAULT_KEEPALIVE_INTERVAL = 3 * 24 * 3600.0
"""How long a stored chain may sit unused before the keepalive worker refreshes it."""

KNOWN_SCOPES = frozenset(
    {
        "read:self",
        "read:chat",
        "write:chat",
        "read:fan",
        "read:creator",
        "write:creator",
        "read:media",
        "write:media",
        "read:post",
        "write:post",
        "read:insights",
        "read:tracking_links",
        "write:tracking_links",
        "read:agency",
        "write:agency",
    }
)
REQUIRED_SCOPES = ("openid", "offline_access", "offline")
"""Always requested: ``offline_access``/``offline`` yield the refresh token, ``openid`` the id token."""


class Secret:
    """A string that never shows itself in ``repr()``/``str()`` or logs.

    Use ``get_secret_value()`` at the one place the real value is needed.
    """

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def get_secret_value(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('**********')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Secret):
            return NotImplemented
        return hmac.compare_digest(self._value.encode(), other._value.encode())

    def __hash__(self) -> int:
        return hash(self._value)

    def __bool__(self) -> bool:
        return bool(self._value)


@dataclass(frozen=True, slots=True)
class EncryptionKey:
    """One AES-256 key of the token keyring. ``key`` is masked in ``repr()``."""

    key_id: str
    key: bytes = field(repr=False)
