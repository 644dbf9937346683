"""Plain data types shared by every layer. No I/O here."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Clock", "FanvueUser", "TokenSet", "mask", "system_clock"]

Clock = Callable[[], float]
"""A function returning the current Unix time in seconds. Injected everywhere time matters."""


def system_clock() -> float:
    return time.time()


def mask(secret: str | None) -> str:
    """A printable stand-in for a secret: never any of its characters."""
    if secret is None:
        return "None"
    return "'**********'" if secret else "''"


@dataclass(frozen=True, slots=True)
class TokenSet:
    """What the token endpoint returned, validated, with an absolute expiry.

    The token type is always bearer (anything else is rejected while parsing).

    ``repr()`` masks every token so a TokenSet can be logged by accident without harm.
    """

    access_token: str = field(repr=False)
    expires_at: float
    refresh_token: str | None = field(default=None, repr=False)
    scopes: frozenset[str] = frozenset()
    id_token: str | None = field(default=None, repr=False)

    def is_expired(self, leeway: float = 60.0, *, now: float | None = None) -> bool:
        """True when the access token expires within ``leeway`` seconds of ``now``."""
        current = system_clock() if now is None else now
        return self.expires_at - leeway <= current

    def expires_in(self, *, now: float | None = None) -> float:
        current = system_clock() if now is None else now
        return self.expires_at - current

    def has_scope(self, scope: str) -> bool:
        return scope in self.scopes

    def __repr__(self) -> str:
        return (
            f"TokenSet(access_token={mask(self.access_token)}, "
            f"refresh_token={mask(self.refresh_token)}, "
            f"id_token={mask(self.id_token)}, expires_at={self.expires_at!r}, "
            f"scopes={sorted(self.scopes)!r})"
        )

    def to_dict(self) -> dict[str, Any]:
        """Compact form for storage (keys are short because Redis memory is per creator)."""
        data: dict[str, Any] = {"a": self.access_token, "e": round(self.expires_at, 3)}
        if self.refresh_token is not None:
            data["r"] = self.refresh_token
        if self.scopes:
            data["s"] = " ".join(sorted(self.scopes))
        if self.id_token is not None:
            data["i"] = self.id_token
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TokenSet:
        scopes = data.get("s", "")
        return cls(
            access_token=str(data["a"]),
            expires_at=float(data["e"]),
            refresh_token=None if data.get("r") is None else str(data["r"]),
            scopes=frozenset(str(scopes).split()),
            id_token=None if data.get("i") is None else str(data["i"]),
        )


@dataclass(frozen=True, slots=True)
class FanvueUser:
    """The creator as ``GET /users/me`` describes them.

    ``email`` is personal data: it is masked in ``repr()`` and never sent to the page.
    """

    uuid: str
    handle: str
    display_name: str | None = None
    email: str | None = field(default=None, repr=False)
    is_creator: bool = False
    avatar_url: str | None = None
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> FanvueUser:
        """Build from the API's JSON; raises ``KeyError``/``TypeError`` on a malformed body
        (callers translate that into a ``ProtocolError``)."""
        uuid = data["uuid"]
        handle = data["handle"]
        if not isinstance(uuid, str) or not uuid or not isinstance(handle, str):
            raise TypeError("uuid and handle must be non-empty strings")
        display_name = data.get("displayName")
        email = data.get("email")
        avatar_url = data.get("avatarUrl")
        return cls(
            uuid=uuid,
            handle=handle,
            display_name=display_name if isinstance(display_name, str) else None,
            email=email if isinstance(email, str) else None,
            is_creator=bool(data.get("isCreator", False)),
            avatar_url=avatar_url if isinstance(avatar_url, str) else None,
            raw=dict(data),
        )

    def public_profile(self) -> dict[str, str | None]:
        """The fields the page may see (DESIGN §5): no email, nothing else personal."""
        return {
            "uuid": self.uuid,
            "handle": self.handle,
            "displayName": self.display_name,
            "avatarUrl": self.avatar_url,
        }
